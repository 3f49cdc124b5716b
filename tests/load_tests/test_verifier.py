"""The verifier on synthetic streams: each violation found, and clean streams passing.

No Locust and no server here: ``simulation`` plays clients against modelled limiters,
each request counted at a random instant between its send and receive time.
"""

from __future__ import annotations

import math
import random
import tracemalloc
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from load_tests.verifier import (
    ABANDONED,
    CONNECTION_ERROR,
    Record,
    Slot,
    Verifier,
    Violation,
    parse_retry_after,
    verify,
)
from tests.faults import limiters

from . import simulation as sim
from .simulation import Send

LIMIT, WINDOW = 5, 2.0
PACE = WINDOW / (2 * LIMIT)  # twice the limit


def judge(records: list[Record], **options: float) -> set[Violation]:
    return set(verify(records, LIMIT, WINDOW, **options).violations)


def judge_bare(records: list[Record]) -> set[Violation]:
    """Hand-made records without RateLimit fields, judged on everything else."""
    return set(verify(records, LIMIT, WINDOW, ratelimit_fields=False).violations)


def mixed_clients(rng: random.Random, end: float = 30.0) -> list[Send]:
    """Hammering, bursty, quiet and self-concurrent clients, with jittery latency."""
    sends: list[Send] = []
    for n in range(3):
        sends += sim.paced(f"probe-{n}", rng.random(), end, PACE * (1 + n / 3))
    for n in range(2):
        sends += sim.probe(f"burst-{n}", 0, end, LIMIT, WINDOW, rng)
    for n in range(3):
        sends += sim.paced(f"quiet-{n}", rng.random(), end, WINDOW / 2)
    # One client with many requests in flight at once (single-client mode).
    sends += [Send("crowd", rng.uniform(0, end)) for _ in range(400)]
    return [
        Send(s.client, s.sent, latency=rng.choice([0.002, 0.01, 0.05, 0.3]) * rng.random())
        for s in sends
    ]


# Clean streams must pass.


@pytest.mark.parametrize("seed", range(6))
def test_a_correct_limiter_passes_under_jittery_latency_and_concurrency(seed):
    rng = random.Random(seed)
    records = sim.run(mixed_clients(rng), limiters.SlidingWindow(LIMIT, WINDOW), seed=seed)
    verdict = verify(records, LIMIT, WINDOW)
    assert verdict.ok, verdict.findings
    assert sum(c.refused for c in verdict.clients) > 100  # the limit was really reached
    assert max(c.peak for c in verdict.clients) == LIMIT


def test_a_correct_limiter_passes_when_batches_arrive_late_from_two_workers():
    rng = random.Random(7)
    records = sim.run(mixed_clients(rng), limiters.SlidingWindow(LIMIT, WINDOW))
    # Worker 2's records reach the master in batches, half a second behind worker 1's.
    first = [r for r in records if hash(r.client) % 2 == 0]
    second = [r for r in records if hash(r.client) % 2 == 1]
    merged = sorted(
        [(r.received, r) for r in first] + [(r.received + 0.5, r) for r in second],
        key=lambda pair: pair[0],
    )
    verdict = verify([r for _, r in merged], LIMIT, WINDOW, slack=1.0)
    assert verdict.ok, verdict.findings


def test_a_retry_exactly_at_retry_after_is_accepted_and_passes():
    records = sim.run(
        sim.paced("a", 0.0, 10.0, 0.05, latency=0.001), limiters.SlidingWindow(LIMIT, WINDOW)
    )
    assert judge(records) == set()


def test_one_201_per_slot_passes_and_adjacent_slots_do_not_overlap():
    slot = Slot("jane-doe", 1000.0, 2800.0)
    next_slot = Slot("jane-doe", 2800.0, 4600.0)
    records = [
        Record("a", 0.0, 0.1, 201, slot=slot),
        Record("b", 0.0, 0.1, 400, slot=slot),
        Record("b", 0.5, 0.6, 201, slot=next_slot),
        Record("c", 0.5, 0.6, 201, slot=Slot("john-smith", 1000.0, 1900.0)),
    ]
    assert judge_bare(records) == set()


# Each violation, found and named.


def hammering(rng: random.Random, clients: int = 2, end: float = 20.0) -> list[Send]:
    sends = []
    for n in range(clients):
        sends += sim.probe(f"probe-{n}", 0, end, LIMIT, WINDOW, rng)
    return [Send(s.client, s.sent, latency=0.001 + 0.004 * rng.random()) for s in sends]


def test_off_by_one_is_limit_exceeded():
    found = judge(sim.run(hammering(random.Random(1)), limiters.OffByOne(LIMIT, WINDOW)))
    assert Violation.LIMIT_EXCEEDED in found
    assert Violation.REFUSED_UNDER_LIMIT not in found


def test_a_fixed_window_letting_a_burst_through_at_the_boundary_is_limit_exceeded():
    found = judge(sim.run(hammering(random.Random(2)), limiters.FixedWindow(LIMIT, WINDOW)))
    assert Violation.LIMIT_EXCEEDED in found


def test_counting_only_successes_is_limit_exceeded():
    rng = random.Random(3)
    sends = [
        Send(s.client, s.sent, s.latency, status=rng.choice([400, 404, 201]))
        for s in hammering(rng)
    ]
    found = judge(sim.run(sends, limiters.OnlySuccesses(LIMIT, WINDOW)))
    assert Violation.LIMIT_EXCEEDED in found


def test_too_strict_is_refused_under_limit_not_interference():
    found = judge(
        sim.run(hammering(random.Random(4), clients=3), limiters.TooStrict(LIMIT, WINDOW))
    )
    assert Violation.REFUSED_UNDER_LIMIT in found
    assert Violation.CLIENT_INTERFERENCE not in found
    assert Violation.LIMIT_EXCEEDED not in found


def test_one_global_bucket_is_client_interference():
    rng = random.Random(5)
    sends = hammering(rng, clients=2)
    sends += sim.paced("quiet", 0.3, 20.0, WINDOW / 2)  # well under the limit
    found = judge(sim.run(sends, limiters.GlobalBucket(LIMIT, WINDOW)))
    assert Violation.CLIENT_INTERFERENCE in found


def test_a_quiet_client_alone_is_never_interference():
    # A too-strict server refusing the only client: nobody else to blame.
    sends = sim.paced("alone", 0.0, 10.0, WINDOW / (LIMIT - 0.5))
    found = judge(sim.run(sends, limiters.TooStrict(LIMIT, WINDOW)))
    assert found == {Violation.REFUSED_UNDER_LIMIT}


def test_a_missing_retry_after_is_found():
    found = judge(sim.run(hammering(random.Random(6)), limiters.NoRetryAfter(LIMIT, WINDOW)))
    assert found == {Violation.RETRY_AFTER_INVALID}


# "²" and "٣" are digits to str.isdigit but not the ASCII DIGITs RFC 9110 asks for.
@pytest.mark.parametrize("value", [None, "", "soon", "-3", "1.5", "²", "\u0663"])
def test_an_invalid_retry_after_value_is_found(value):
    headers = {} if value is None else {"retry-after": value}
    records = [Record("a", 0.0, 0.01, 429, headers)]
    assert judge(records) >= {Violation.RETRY_AFTER_INVALID}


def test_a_retry_after_too_short_is_a_refused_retry():
    found = judge(sim.run(hammering(random.Random(8)), limiters.ShortRetryAfter(LIMIT, WINDOW)))
    assert found == {Violation.RETRY_REFUSED}


def test_a_retry_after_longer_than_the_window_needs_is_found():
    found = judge(sim.run(hammering(random.Random(9)), limiters.LongRetryAfter(LIMIT, WINDOW)))
    assert found == {Violation.RETRY_AFTER_TOO_LONG}


def _dated_refusal(retry_after_in: float) -> list[Record]:
    """Five accepted requests, then a 429 whose Retry-After is an HTTP-date against a Date
    a second stale (uvicorn's, refreshed once a second), at a non-whole epoch instant."""
    start = 1_000_000.3
    records = [Record("a", start + i * 0.1, start + i * 0.1 + 0.01, 400) for i in range(LIMIT)]
    sent = start + 0.5
    headers = {
        "date": formatdate(math.floor(sent) - 1, usegmt=True),
        "retry-after": formatdate(math.ceil(sent + retry_after_in), usegmt=True),
    }
    return [*records, Record("a", sent, sent + 0.01, 429, headers)]


def test_an_http_date_retry_after_is_judged_with_its_rounding():
    # The wait is 1.5 s; the date says 4 s after a stale Date: honest, as the form allows.
    assert judge_bare(_dated_refusal(1.5)) == set()
    assert judge_bare(_dated_refusal(8.0)) == {Violation.RETRY_AFTER_TOO_LONG}


def test_429s_that_extend_the_lockout_are_refusals_under_the_limit():
    found = judge(sim.run(hammering(random.Random(10)), limiters.RefusalsCounted(LIMIT, WINDOW)))
    assert Violation.REFUSED_UNDER_LIMIT in found
    assert Violation.RETRY_REFUSED in found
    assert Violation.CLIENT_INTERFERENCE not in found


def test_a_request_its_client_abandoned_is_no_violation_and_may_have_been_counted():
    # The abandoned one may have been counted: six requests, five accepted, the limit held.
    records = [Record("a", 0.0, 0.01, ABANDONED)]
    records += [Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(1, 6)]
    assert judge_bare(records) == set()
    # Certainly counted (a connection error is the server's), it would be found.
    assert Violation.CONNECTION_ERROR in judge_bare([Record("a", 0.0, 0.01, CONNECTION_ERROR)])


def test_5xx_and_connection_errors_are_found():
    sends = [Send("a", 0.0, status=500), Send("a", 1.0, status=CONNECTION_ERROR), Send("b", 1.0)]
    verdict = verify(sim.run(sends, limiters.SlidingWindow(LIMIT, WINDOW)), LIMIT, WINDOW)
    assert verdict.violations == {Violation.SERVER_ERROR: 1, Violation.CONNECTION_ERROR: 1}
    assert [f.client for f in verdict.findings] == ["a", "a"]


def test_two_201s_for_overlapping_slots_of_one_host_are_a_double_booking():
    records = [
        Record("a", 0.0, 0.1, 201, slot=Slot("jane-doe", 1000.0, 2800.0)),
        # Another event type of the same host, starting inside the first booking.
        Record("b", 0.0, 0.1, 201, slot=Slot("jane-doe", 1900.0, 5500.0)),
    ]
    verdict = verify(records, LIMIT, WINDOW, ratelimit_fields=False)
    assert set(verdict.violations) == {Violation.DOUBLE_BOOKING}
    assert "overlapping" in verdict.findings[0].first


def racing_pairs(*, together: bool, pairs: int = 20) -> list[Send]:
    """Two clients asking for overlapping slots on two event types of one host.

    ``together``: both requests in flight at once; otherwise the second is sent after
    the first's response.
    """
    sends = []
    for n in range(pairs):
        start = 1_000_000.0 + n * 7200
        call = Slot("jane-doe", start, start + 1800)  # 30min-call
        consult = Slot("jane-doe", start, start + 3600)  # 60min-consult, same start
        at = n * 0.5
        second = at if together else at + 0.1
        sends.append(Send("a", at, 0.05, 201, call, "30min-call"))
        sends.append(Send("b", second, 0.05, 201, consult, "60min-consult"))
    return sends


def test_a_store_atomic_per_host_passes_races_across_event_types():
    records = sim.run(racing_pairs(together=True), limiters.SlidingWindow(LIMIT, WINDOW))
    verdict = verify(records, LIMIT, WINDOW)
    assert verdict.ok, verdict.findings
    assert sum(c.booked for c in verdict.clients) == 20  # one of each pair


def test_a_race_across_event_types_of_one_host_is_a_double_booking():
    store = sim.PerEventTypeStore()
    records = sim.run(
        racing_pairs(together=True), limiters.SlidingWindow(LIMIT, WINDOW), store=store
    )
    assert judge(records) == {Violation.DOUBLE_BOOKING}
    # The same store, asked one after the other, books one of each pair: it is the race.
    store = sim.PerEventTypeStore()
    records = sim.run(
        racing_pairs(together=False), limiters.SlidingWindow(LIMIT, WINDOW), store=store
    )
    assert judge(records) == set()


# A client forging X-Forwarded-For is judged as itself.


def with_a_forger(rng: random.Random, hop: str = "{forged}") -> list[Send]:
    """Two honest probes, and one that forges a fresh address with every request."""
    sends = hammering(rng, clients=2)
    for n, send in enumerate(hammering(rng, clients=1)):
        forged = hop.format(forged=f"203.0.113.{n % 254 + 1}")
        sends.append(Send("127.0.0.2", send.sent, send.latency, forged=forged))
    return sends


@pytest.mark.parametrize("hop", ["{forged}", "{forged}, 198.18.0.9"])
def test_a_forging_client_counted_as_itself_passes(hop):
    records = sim.run(with_a_forger(random.Random(11), hop), limiters.SlidingWindow(LIMIT, WINDOW))
    verdict = verify(records, LIMIT, WINDOW)
    assert verdict.ok, verdict.findings
    forger = next(c for c in verdict.clients if c.client == "127.0.0.2")
    assert forger.refused > 0


@pytest.mark.parametrize("hop", ["{forged}", "{forged}, 198.18.0.9"])
def test_a_client_counted_by_the_address_it_forged_is_named_for_it(hop):
    sends = with_a_forger(random.Random(12), hop)
    records = sim.run(sends, limiters.SlidingWindow(LIMIT, WINDOW), honours_forged=True)
    verdict = verify(records, LIMIT, WINDOW)
    assert set(verdict.violations) == {Violation.FORGED_HOP_COUNTED}
    (finding,) = verdict.findings
    assert finding.client == "127.0.0.2"
    assert "203.0.113." in finding.first and "limit-exceeded" in finding.first


def test_a_limit_broken_for_every_client_is_not_blamed_on_the_forgery():
    records = sim.run(with_a_forger(random.Random(13)), limiters.OffByOne(LIMIT, WINDOW))
    verdict = verify(records, LIMIT, WINDOW)
    assert Violation.LIMIT_EXCEEDED in verdict.violations
    assert Violation.FORGED_HOP_COUNTED not in verdict.violations
    assert "127.0.0.2" in {f.client for f in verdict.findings}


# Uncertainty is resolved in the server's favour.


def test_a_429_that_a_slow_request_may_explain_is_not_an_accusation():
    # Five accepted, then a 429 sent while a sixth was still in flight: the server may
    # have counted that sixth first, so the 429 is within the rules.
    records = [Record("a", i * 0.1, i * 0.1 + 0.01, 400) for i in range(4)]
    records.append(Record("a", 0.5, 0.9, 400))  # slow, in flight across the 429
    records.append(Record("a", 0.6, 0.61, 429, {"retry-after": "2"}))
    records.sort(key=lambda r: r.received)
    assert judge_bare(records) == set()
    # Without the slow one in flight, the same 429 is under the limit.
    assert judge_bare([r for r in records if r.sent != 0.5]) == {Violation.REFUSED_UNDER_LIMIT}


def test_six_accepted_are_only_a_violation_when_they_surely_fit_in_one_window():
    spread = [Record("a", i * 0.35, i * 0.35 + 0.01, 400) for i in range(6)]
    assert judge_bare(spread) == {Violation.LIMIT_EXCEEDED}  # 1.76 s < 2 s
    # The same, but the first took long enough that it may have been counted 2 s earlier.
    slow_first = [Record("a", -0.3, 0.01, 400), *spread[1:]]
    assert judge_bare(slow_first) == set()


def test_429s_cut_off_at_the_end_of_a_run_are_left_inconclusive():
    records = [Record("a", i * 0.1, i * 0.1 + 0.01, 400) for i in range(3)]
    records.append(Record("a", 0.3, 0.31, 429, {"retry-after": "1"}))
    verifier = Verifier(LIMIT, WINDOW, ratelimit_fields=False)
    verifier.feed_many(records)
    verdict = verifier.finish(complete=False)
    assert verdict.ok and verdict.inconclusive == 1
    assert not verify(
        records, LIMIT, WINDOW, ratelimit_fields=False
    ).ok  # judged when the stream is complete


# Retry-After parsing.


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("7", None, 7.0),
        (" 0 ", None, 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", None, None),  # no Date to measure it from
        ("Wed, 21 Oct 2015 07:27:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("tomorrow", None, None),
        (None, None, None),
    ],
)
def test_retry_after_is_delay_seconds_or_an_http_date(value, date, expected):
    assert parse_retry_after(value, date) == expected


# Memory.


def long_run(seconds: float) -> Iterator[Record]:
    """Three hammering clients and a correct limiter, generated lazily."""
    limiter = limiters.SlidingWindow(LIMIT, WINDOW)
    step = PACE / 3
    for i in range(int(seconds / step)):
        sent = i * step
        client = f"c{i % 3}"
        decision = limiter.admit(client, sent + 0.0005)
        status = 400 if decision.allowed else 429
        yield Record(client, sent, sent + 0.001, status, limiter.fields(decision))


def peak_memory(seconds: float) -> int:
    tracemalloc.start()
    try:
        verifier = Verifier(LIMIT, WINDOW)
        verifier.feed_many(long_run(seconds))
        assert verifier.finish().ok
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_requests():
    short, long = peak_memory(200), peak_memory(2000)  # 3,000 and 30,000 requests
    assert long < short * 1.3, (short, long)
