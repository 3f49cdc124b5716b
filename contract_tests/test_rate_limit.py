"""Rule 1, the rate limit: its 429, its RateLimit fields, Retry-After, and who counts as a client.

Each test judges one claim about a probe (probes.py): a sequence of requests
from one client that the tests share, so a window is spent once per probe.
Times the target states (``t``, ``Retry-After``) are held to what the suite saw,
give or take the round trip and rounding to whole seconds either way.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from .probe_results import (
    BURST_TRIES,
    BoundaryProbe,
    Exhaustion,
    LockoutProbe,
    RetryAfterProbe,
    burst_rolled,
    observed,
)
from .ratelimit import (
    CLOCK_SLACK,
    FieldSyntaxError,
    frees_up_in,
    in_the_window,
    parse_quota,
    retry_after_rounding,
    within_rounding,
)
from .suite import Suite
from .support import assert_error
from .target import Exchange


def exhaustion(contract: Suite) -> Exhaustion:
    probe: Exhaustion = contract.probes.result("exhaust")
    contract.target.note(*probe.exchanges)
    return probe


def not_checked(contract: Suite, check: str, why: str) -> None:
    """Skip, and say so in the run's summary: a skip line alone is easy to miss."""
    contract.not_reachable(f"Rule 1: {check}", why)
    pytest.skip(f"{check}: {why}")


def remaining(exchange: Exchange) -> int | None:
    try:
        return parse_quota(exchange.headers).remaining
    except FieldSyntaxError:
        return None  # test_rule_1_every_response_carries_the_ratelimit_fields says why


@pytest.mark.probe("exhaust")
def test_rule_1_every_response_carries_the_ratelimit_fields(contract: Suite) -> None:
    """Every answer of the book endpoint has RateLimit-Policy and RateLimit, the draft's shape."""
    probe = exhaustion(contract)
    for label, exchange in probe.accepted:
        contract.target.note(exchange)
        try:
            parse_quota(exchange.headers)
        except FieldSyntaxError as exc:
            pytest.fail(f"the answer to {label}: {exc}")


@pytest.mark.probe("exhaust")
def test_rule_1_policy_is_the_profiles_limit(contract: Suite) -> None:
    """RateLimit-Policy states the limit and window the profile says the target has."""
    probe = exhaustion(contract)
    quota = parse_quota(probe.accepted[0][1].headers)
    expected = contract.profile.rate_limit
    assert (quota.limit, quota.window) == (expected.limit, expected.window), (
        f"the target announces q={quota.limit};w={quota.window}, the profile says"
        f" {expected}: fix one of them (--rate-limit overrides the profile)"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_remaining_counts_down(contract: Suite) -> None:
    """From a fresh client, r goes limit-1, limit-2, ..., 0 and t never exceeds the window."""
    probe = exhaustion(contract)
    limit = contract.profile.rate_limit.limit
    quotas = [parse_quota(e.headers) for _, e in probe.accepted]
    remaining = [q.remaining for q in quotas]
    assert remaining == list(range(limit - 1, -1, -1)), f"r went {remaining}"
    assert all(0 <= q.reset <= contract.profile.rate_limit.window for q in quotas), [
        q.reset for q in quotas
    ]


@pytest.mark.probe("exhaust")
def test_rule_1_every_outcome_counts(contract: Suite) -> None:
    """A request counts whatever its answer: 201, 400, 404 and 415 each take one from r."""
    probe = exhaustion(contract)
    previous = None
    for label, exchange in probe.accepted:
        left = remaining(exchange)
        if previous is not None and left is not None:
            assert left == previous - 1, f"{label} did not count: r went {previous} to {left}"
        previous = left
    assert probe.refused is not None and probe.refused.status == 429, (
        "the limit-th + 1 request, after a mix of outcomes, was not refused"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_a_successful_booking_counts_too(contract: Suite) -> None:
    """A 201 takes one from r, and the requests before it stay in the window."""
    probe = exhaustion(contract)
    if probe.booking is None:
        not_checked(contract, "a booking counts", f"no booking to count ({probe.booking_problem})")
    limit = contract.profile.rate_limit.limit
    exchanges = [e for _, e in probe.accepted]
    index = next(i for i, e in enumerate(exchanges) if e is probe.booking)
    before = remaining(exchanges[index - 1]) if index else limit
    booked = remaining(probe.booking)
    if before is not None and booked is not None:
        assert booked == before - 1, f"the booking did not count: r went {before} to {booked}"
    after = exchanges[index + 1 :]
    if booked is not None and after and (left := remaining(after[0])) is not None:
        assert left == booked - 1, (
            f"r went {booked} at the booking, then {left}: the 201 cleared the client's"
            f" window, but every request counts, whatever its outcome"
        )
    assert probe.refused is not None and probe.refused.status == 429, (
        f"after {limit} requests, a 201 among them, the next inside the window got"
        f" {probe.refused.status if probe.refused else None}: the booking did not count"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_request_over_the_limit_is_429(contract: Suite) -> None:
    """The limit requests of a window pass; the next is 429 with Retry-After and an error body."""
    probe = exhaustion(contract)
    limit = contract.profile.rate_limit.limit
    window = contract.profile.rate_limit.window
    early = [label for label, e in probe.accepted if e.status == 429]
    assert not early, f"429 before the limit of {limit} was reached: {early}"
    refused = probe.refused
    assert refused is not None
    assert refused.status == 429, f"request {limit + 1} inside the window was not refused"
    assert_error(refused, 429)
    retry_after = refused.retry_after
    assert retry_after is not None, "a 429 without Retry-After (delay-seconds or an HTTP-date)"
    low, high = frees_up_in(observed(probe.history), probe.history.index(refused), window)
    assert within_rounding(retry_after, low, high, retry_after_rounding(refused.headers)), (
        f"Retry-After {retry_after:g} s, but the client's oldest request leaves the window in"
        f" {low:.2f} to {high:.2f} s: a retry then is accepted, not earlier, not needlessly later"
    )
    assert parse_quota(refused.headers).remaining == 0, "a 429 must say r=0"


@pytest.mark.probe("exhaust")
def test_rule_1_rate_limit_answers_before_404_and_validation(contract: Suite) -> None:
    """Over the limit, even an unknown user with a malformed body gets 429."""
    probe = exhaustion(contract)
    exchange = probe.during_lockout["unknown user with a body that is not JSON"]
    assert exchange.status == 429, "over the limit, a request got past the rate limit"


@pytest.mark.probe("exhaust")
def test_rule_1_spoofed_forwarded_for_does_not_reset_the_limit(contract: Suite) -> None:
    """A client the target does not trust cannot dodge the limit with X-Forwarded-For."""
    probe = exhaustion(contract)
    spoof = probe.spoof
    if spoof is None:
        not_checked(contract, "a spoofed X-Forwarded-For", probe.unchecked["spoof"])
    contract.target.note(*spoof.history, spoof.locked_out, spoof.spoofed)
    limit = contract.profile.rate_limit.limit
    assert spoof.locked_out.status == 429, (
        f"{spoof.client} was not refused after {limit} requests inside the window"
    )
    assert spoof.spoofed.status == 429, (
        f"over the limit, {spoof.client} sent X-Forwarded-For: {spoof.header} and got"
        f" {spoof.spoofed.status}: the target honours X-Forwarded-For from a peer that is not"
        f" a trusted proxy, so any client can dodge the limit"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_spoofed_forwarded_for_hop_behind_a_trusted_proxy_does_not_count(
    contract: Suite,
) -> None:
    """Behind a trusted proxy, the client is the right-most hop that is not a proxy."""
    if not contract.profile.rate_limit.trusts_forwarded_for:
        pytest.skip(
            "the profile says the target does not trust X-Forwarded-For from this machine:"
            " there is no trusted proxy to forge a hop behind"
        )
    probe = exhaustion(contract)
    forged = probe.forged_hop
    if forged is None:
        not_checked(contract, "a forged X-Forwarded-For hop", probe.unchecked["forged hop"])
    assert forged.locked_out.status == 429, (
        f"{forged.client} was not refused after {contract.profile.rate_limit.limit} requests"
    )
    assert forged.spoofed.status == 429, (
        f"over the limit, {forged.client} sent, through this machine (a trusted proxy),"
        f" X-Forwarded-For: {forged.header} and got {forged.spoofed.status}: the target took"
        f" the forged left-most hop as the client, not the right-most hop that is not a"
        f" trusted proxy"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_another_client_is_unaffected(contract: Suite) -> None:
    """One client over the limit does not limit another."""
    probe = exhaustion(contract)
    other = probe.other_client
    if other is None:
        not_checked(contract, "another client is unaffected", probe.unchecked["another client"])
    contract.target.note(other)
    hint = (
        ""
        if contract.pool.forwarded
        else " (unless something between this machine and the target, such as Docker's"
        " published ports, makes every loopback source address look the same to it)"
    )
    assert other.status != 429, (
        f"{other.client} was refused because {probe.client} went over the limit: the limit"
        f" is per client IP{hint}"
    )
    assert remaining(other) == contract.profile.rate_limit.limit - 1, (
        f"{other.client}'s first request left r={remaining(other)}: it counted another"
        f" client's requests{hint}"
    )


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S.%f")[:-4]


@pytest.mark.probe("boundary")
def test_rule_1_no_more_than_the_limit_across_a_multiple_of_the_window(contract: Suite) -> None:
    """Just after a multiple of the window since the epoch, the requests just before still count."""
    probe: BoundaryProbe = contract.probes.result("boundary")
    contract.target.note(*probe.exchanges)
    if probe.problem is not None or probe.after is None:
        not_checked(contract, "a multiple of the window", f"{probe.problem}, three times")
    window = contract.profile.rate_limit.window
    limit = len(probe.before)
    early = [e for e in probe.before if e.status == 429]
    assert not early, f"429 before the limit of {limit} was reached: {early}"
    assert probe.after.status == 429, (
        f"{limit} requests arrived from {_clock(probe.first_sent)} to"
        f" {_clock(probe.last_received)} UTC, just before {_clock(probe.boundary)} (a multiple"
        f" of the {window} s window since the epoch), and the request at"
        f" {_clock(probe.after_sent)} got {probe.after.status}: {limit + 1} in"
        f" {probe.after_received - probe.first_sent:.1f} s. Fixed windows on the clock start"
        f" afresh there; the limit holds in any rolling window"
    )


@pytest.mark.probe("retry_after")
def test_rule_1_t_is_the_time_until_a_request_frees_up(contract: Suite) -> None:
    """RateLimit's t is when the client's oldest request in the window leaves it."""
    probe: RetryAfterProbe = contract.probes.result("retry_after")
    contract.target.note(*probe.exchanges)
    window = contract.profile.rate_limit.window
    history = observed(probe.history)
    wrong = []
    for index, exchange in enumerate(probe.history):
        try:
            quota = parse_quota(exchange.headers)
        except FieldSyntaxError:
            continue  # test_rule_1_every_response_carries_the_ratelimit_fields
        low, high = frees_up_in(history, index, window)
        # With requests left, "nothing to wait for" (t=0) is a reading the contract allows.
        if within_rounding(quota.reset, low, high) or (quota.remaining > 0 and quota.reset == 0):
            continue
        wrong.append(
            f"request {index + 1} ({exchange.status}, r={quota.remaining}): t={quota.reset},"
            f" but its oldest request leaves the window in {low:.2f} to {high:.2f} s"
        )
    assert not wrong, (
        f"a request, a pause of {probe.pause:.1f} s, then the rest of the quota and more: "
        + "; ".join(wrong)
    )


def _conclusive(contract: Suite, first: Exchange, refused: Exchange) -> None:
    """Skip, and say so in the summary, when every try's burst outlasted the window."""
    if burst_rolled(first, refused, contract.profile.rate_limit.window):
        why = (
            f"the target answered {contract.profile.rate_limit.limit + 1} requests more slowly"
            f" than its window of {contract.profile.rate_limit.window} s, {BURST_TRIES} times"
        )
        contract.not_reachable("rule 1: a burst inside one window", why)
        pytest.skip(why)


@pytest.mark.probe("retry_after")
def test_rule_1_retry_after_is_not_needlessly_long(contract: Suite) -> None:
    """Retry-After is when the oldest request leaves the window, not a whole window from now."""
    probe: RetryAfterProbe = contract.probes.result("retry_after")
    contract.target.note(*probe.exchanges)
    _conclusive(contract, probe.history[0], probe.refused)
    assert probe.refused.status == 429, "the limit-th + 1 request was not refused"
    window = contract.profile.rate_limit.window
    retry_after = probe.refused.retry_after
    assert retry_after is not None, "a 429 without Retry-After"
    # The first request leaves the window `pause` seconds before a whole window is up.
    _, due = frees_up_in(observed(probe.history), probe.history.index(probe.refused), window)
    most = math.ceil(due + CLOCK_SLACK) + retry_after_rounding(probe.refused.headers)
    if most >= window:
        pytest.skip(f"a window of {window} s is too short to tell")
    assert retry_after <= most, (
        f"Retry-After {retry_after:g} s, but the first request of the window leaves it in"
        f" {due:.2f} s"
    )


@pytest.mark.probe("retry_after")
def test_rule_1_request_after_retry_after_is_accepted(contract: Suite) -> None:
    """After waiting Retry-After seconds, the client's next request gets through."""
    probe: RetryAfterProbe = contract.probes.result("retry_after")
    contract.target.note(*probe.exchanges)
    _conclusive(contract, probe.history[0], probe.refused)
    assert probe.refused.status == 429, "the limit-th + 1 request was not refused"
    assert probe.retry is not None
    assert probe.retry.status != 429, (
        f"refused again after waiting Retry-After ({probe.waited:.1f} s)"
    )


@pytest.mark.probe("lockout")
def test_rule_1_429_does_not_extend_the_lockout(contract: Suite) -> None:
    """Requests refused with 429 do not count: hammering does not move the end of the lockout."""
    probe: LockoutProbe = contract.probes.result("lockout")
    contract.target.note(*probe.exchanges)
    first = probe.refused.retry_after
    _conclusive(contract, probe.history[0], probe.refused)
    assert probe.refused.status == 429 and first is not None, "no 429 with Retry-After"
    window = contract.profile.rate_limit.window
    limit = contract.profile.rate_limit.limit
    # Held to what the suite saw: on a slow target the lockout may end during the hammering,
    # and then one request may rightly get through and fill the window again.
    history = observed(probe.history)
    position = {id(e): i for i, e in enumerate(probe.history)}
    for _, exchange in probe.hammered:
        index = position[id(exchange)]
        if exchange.status != 429:
            least, _ = in_the_window(history, index, window)
            assert least < limit, "a request inside the lockout got through"
            continue
        later = exchange.retry_after
        assert later is not None, "a 429 without Retry-After"
        _, due = frees_up_in(history, index, window)
        most = math.ceil(due + CLOCK_SLACK) + retry_after_rounding(exchange.headers)
        assert later <= most, (
            f"Retry-After grew from {first:g} to {later:g} during refused requests, but the"
            f" oldest counted request leaves the window in {due:.1f} s"
        )
    assert probe.retry is not None
    _, most_counted = in_the_window(history, position[id(probe.retry)], window)
    if most_counted >= limit:
        return  # requests let through as the lockout ended fill the window again: rightly
    assert probe.retry is not None and probe.retry.status != 429, (
        f"still refused when the first Retry-After ({first:g} s) was up: the refused requests"
        f" extended the lockout"
    )
