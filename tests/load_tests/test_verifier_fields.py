"""The verifier on RateLimit fields: the policy, r and t, judged against what the client sent.

Synthetic streams as in ``test_verifier``: a correct limiter's fields pass whatever
the latency (``test_verifier``'s clean streams carry them too); each model that
breaks one field is found and named for it, and nothing else is.
"""

from __future__ import annotations

import random

import pytest

from load_tests.verifier import Record, Verifier, Violation, verify
from tests.faults import limiters

from . import simulation as sim
from .test_verifier import LIMIT, WINDOW, hammering, mixed_clients

POLICY = f'"per-ip";q={LIMIT};w={int(WINDOW)}'


def fields(r: int, t: int, policy: str = POLICY) -> dict[str, str]:
    return {"ratelimit-policy": policy, "ratelimit": f'"per-ip";r={r};t={t}'}


def judge(records: list[Record]) -> set[Violation]:
    return set(verify(records, LIMIT, WINDOW).violations)


def stream(limiter: type[limiters.SlidingWindow], seed: int) -> list[Record]:
    return sim.run(hammering(random.Random(seed), clients=3), limiter(LIMIT, WINDOW), seed=seed)


# Honest fields pass; each broken field is named, and only it.


@pytest.mark.parametrize("seed", range(4))
def test_a_correct_limiters_fields_pass_and_are_judged(seed):
    records = sim.run(mixed_clients(random.Random(seed)), limiters.SlidingWindow(LIMIT, WINDOW))
    assert judge(records) == set()
    # The same stream without its fields: every response is missing them.
    bare = [
        r._replace(headers={k: v for k, v in r.headers.items() if k == "retry-after"})
        for r in records
    ]
    verdict = verify(bare, LIMIT, WINDOW)
    assert set(verdict.violations) == {Violation.RATELIMIT_INVALID}
    assert verdict.violations[Violation.RATELIMIT_INVALID] == len(records)


BROKEN_FIELDS = {
    "r never counts down": (limiters.StuckRemaining, Violation.REMAINING_WRONG),
    "r one short": (limiters.LowRemaining, Violation.REMAINING_WRONG),
    "t always the window": (limiters.ResetIsWindow, Violation.RESET_WRONG),
    "t always 0": (limiters.ResetIsZero, Violation.RESET_WRONG),
    "the policy states another limit": (limiters.WrongPolicy, Violation.POLICY_WRONG),
}


@pytest.mark.parametrize(("limiter", "violation"), BROKEN_FIELDS.values(), ids=BROKEN_FIELDS)
@pytest.mark.parametrize("seed", range(3))
def test_a_broken_field_is_named_and_nothing_else(limiter, violation, seed):
    assert judge(stream(limiter, seed)) == {violation}


@pytest.mark.parametrize(
    ("policy", "quota"),
    [
        (None, '"per-ip";r=4;t=2'),
        (POLICY, None),
        (POLICY, "per-ip;r=4;t=2"),  # a token, not a string
        (POLICY, '"per-ip";r=-1;t=2'),
        (POLICY, '"per-ip";r=4'),
        (POLICY, '"per-ip";r=9;t=2'),  # more left than the policy's quota
        (POLICY, '"other";r=4;t=2'),  # no item for the policy
        ('"per-ip";w=2', '"per-ip";r=4;t=2'),
    ],
)
def test_missing_or_malformed_fields_are_invalid(policy, quota):
    headers = {"ratelimit-policy": policy, "ratelimit": quota}
    verdict = verify([Record("a", 0.0, 0.01, 400, headers)], LIMIT, WINDOW)
    assert set(verdict.violations) == {Violation.RATELIMIT_INVALID}


def test_fields_of_5xx_and_connection_errors_are_not_judged():
    records = [Record("a", 0.0, 0.01, 503), Record("a", 0.1, 0.2, 0, error="reset")]
    assert judge(records) == {Violation.SERVER_ERROR, Violation.CONNECTION_ERROR}


def test_a_feeder_without_fields_can_leave_them_unjudged():
    verifier = Verifier(LIMIT, WINDOW, ratelimit_fields=False)
    verifier.feed(Record("a", 0.0, 0.01, 400))
    assert verifier.finish().ok


# r: what was surely counted, what may have been; latency in the server's favour.


def sequential(*remaining: int, latency: float = 0.01, every: float = 0.1) -> list[Record]:
    return [
        Record("a", i * every, i * every + latency, 400, fields(r, 0))  # t=0: "free now"
        for i, r in enumerate(remaining)
    ]


def test_r_counting_down_one_request_at_a_time_passes():
    assert judge(sequential(4, 3, 2, 1, 0)) == set()


def test_r_that_does_not_count_an_earlier_finished_request_is_too_high():
    assert judge(sequential(4, 4)) == {Violation.REMAINING_WRONG}


def test_r_may_leave_out_a_request_still_in_flight():
    # The first is slow: the server may have counted the second before it.
    records = [
        Record("a", 0.0, 0.5, 400, fields(3, 2)),
        Record("a", 0.1, 0.11, 400, fields(4, 2)),
    ]
    assert judge(sorted(records, key=lambda r: r.received)) == set()


def test_r_lower_than_known_requests_explain_waits_for_those_in_flight():
    # r=3 on the first to arrive: a request sent before it, still in flight, may have
    # been counted first; it arrives later and explains it.
    quick = Record("a", 0.1, 0.11, 400, fields(3, 2))
    slow = Record("a", 0.0, 0.5, 400, fields(4, 2))
    assert judge([quick, slow]) == set()
    assert judge([quick]) == {Violation.REMAINING_WRONG}


def test_r_is_back_up_once_the_requests_leave_the_window():
    burst = sequential(4, 3, 2, 1, 0, every=0.01)
    after = Record("a", 2.1, 2.11, 400, fields(4, 0))  # a window after the burst
    assert judge([*burst, after]) == set()
    during = Record("a", 1.5, 1.51, 429, {"retry-after": "1", **fields(4, 1)})
    assert judge([*burst, during]) == {Violation.REMAINING_WRONG}


def test_a_429_saying_requests_are_left_is_judged_like_an_accepted_one():
    records = sequential(4, 3, 2, 1, 0)
    refused = Record("a", 0.6, 0.61, 429, {"retry-after": "2", **fields(3, 2)})
    assert judge([*records, refused]) == {Violation.REMAINING_WRONG}


# t: no later than the oldest counted request leaves; on a 429, no earlier either.


def test_t_of_a_lone_request_may_be_the_whole_window():
    assert judge([Record("a", 0.0, 0.01, 400, fields(4, 2))]) == set()


def test_t_later_than_the_oldest_request_leaves_is_found():
    first = Record("a", 0.0, 0.01, 400, fields(4, 2))
    # 1.5 s later the first leaves within 0.5 s: t=1 rounds up, t=2 is a second late.
    assert judge([first, Record("a", 1.5, 1.51, 400, fields(3, 1))]) == set()
    late = Record("a", 1.5, 1.51, 400, fields(3, 2))
    assert judge([first, late]) == {Violation.RESET_WRONG}


def test_t_on_a_429_right_after_a_burst_cannot_be_0():
    burst = [Record("a", i * 0.01, i * 0.01 + 0.005, 400, fields(4 - i, 2)) for i in range(5)]
    early = Record("a", 0.05, 0.055, 429, {"retry-after": "2", **fields(0, 0)})
    honest = Record("a", 0.05, 0.055, 429, {"retry-after": "2", **fields(0, 2)})
    assert judge([*burst, honest]) == set()
    assert judge([*burst, early]) == {Violation.RESET_WRONG}
    # A request that may have been counted too (a 5xx): the window may hold another mix.
    unsure = Record("a", 0.04, 0.045, 503)
    assert judge([*burst, unsure, early]) == {Violation.SERVER_ERROR}


# The policy.


def test_the_policy_must_state_the_runs_limit_and_window():
    other = '"per-ip";q=15;w=60'
    verdict = verify([Record("a", 0.0, 0.01, 400, fields(4, 2, other))], LIMIT, WINDOW)
    assert set(verdict.violations) == {Violation.POLICY_WRONG}
    assert "15 per 60 s" in verdict.findings[0].first
