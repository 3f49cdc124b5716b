"""Rule 1, the rate limit: its 429, its RateLimit fields, Retry-After, and who counts as a client.

Each test judges one claim about a probe (probes.py): a sequence of requests
from one client that the tests share, so a window is spent once per probe.
"""

from __future__ import annotations

import math

import pytest

from .probes import Exhaustion, LockoutProbe, RetryAfterProbe
from .ratelimit import FieldSyntaxError, parse_quota
from .suite import Suite
from .support import assert_error


def exhaustion(contract: Suite) -> Exhaustion:
    probe: Exhaustion = contract.probes.result("exhaust")
    contract.target.note(*probe.exchanges)
    return probe


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
    """A request counts whatever its answer: 400, 404 and 415 each take one from r."""
    probe = exhaustion(contract)
    previous = None
    for label, exchange in probe.accepted:
        try:
            remaining = parse_quota(exchange.headers).remaining
        except FieldSyntaxError:
            remaining = None
        if previous is not None and remaining is not None:
            assert remaining == previous - 1, f"{label} did not count: r stayed {remaining}"
        previous = remaining
    assert probe.refused is not None and probe.refused.status == 429, (
        "the limit-th + 1 request, after a mix of outcomes, was not refused"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_request_over_the_limit_is_429(contract: Suite) -> None:
    """The limit requests of a window pass; the next is 429 with Retry-After and an error body."""
    probe = exhaustion(contract)
    limit = contract.profile.rate_limit.limit
    early = [label for label, e in probe.accepted if e.status == 429]
    assert not early, f"429 before the limit of {limit} was reached: {early}"
    refused = probe.refused
    assert refused is not None
    assert refused.status == 429, f"request {limit + 1} inside the window was not refused"
    assert_error(refused, 429)
    retry_after = refused.retry_after
    assert retry_after is not None, "a 429 without Retry-After in delay-seconds"
    window = contract.profile.rate_limit.window
    assert 1 <= retry_after <= window, f"Retry-After {retry_after} is outside 1..{window}"
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
    if contract.profile.rate_limit.trusts_forwarded_for:
        pytest.skip("the profile says the target trusts X-Forwarded-For from this machine")
    probe = exhaustion(contract)
    exchange = probe.during_lockout["spoofed X-Forwarded-For"]
    assert exchange.status == 429, (
        "over the limit, a request with a made-up X-Forwarded-For got through: the target"
        " trusts X-Forwarded-For from a client it should not"
    )


@pytest.mark.probe("exhaust")
def test_rule_1_another_client_is_unaffected(contract: Suite) -> None:
    """One client over the limit does not limit another."""
    if not contract.profile.rate_limit.trusts_forwarded_for:
        pytest.skip("the profile says the target does not trust X-Forwarded-For: one client")
    probe = exhaustion(contract)
    other = probe.other_client
    assert other is not None
    assert other.status != 429, "a fresh client was refused because another went over the limit"
    assert parse_quota(other.headers).remaining == contract.profile.rate_limit.limit - 1


@pytest.mark.probe("retry_after")
def test_rule_1_retry_after_is_not_needlessly_long(contract: Suite) -> None:
    """Retry-After is when the oldest request leaves the window, not a whole window from now."""
    probe: RetryAfterProbe = contract.probes.result("retry_after")
    contract.target.note(*probe.exchanges)
    assert probe.refused.status == 429, "the limit-th + 1 request was not refused"
    window = contract.profile.rate_limit.window
    if probe.pause < 2:
        pytest.skip(f"a window of {window} s is too short to tell")
    retry_after = probe.refused.retry_after
    assert retry_after is not None, "a 429 without Retry-After"
    # The first request leaves the window `pause` seconds before a whole window is up.
    due = math.ceil(window - probe.pause)
    assert retry_after <= due + 1, (
        f"Retry-After {retry_after}, but the first request of the window leaves it in {due} s"
    )


@pytest.mark.probe("retry_after")
def test_rule_1_request_after_retry_after_is_accepted(contract: Suite) -> None:
    """After waiting Retry-After seconds, the client's next request gets through."""
    probe: RetryAfterProbe = contract.probes.result("retry_after")
    contract.target.note(*probe.exchanges)
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
    assert probe.refused.status == 429 and first is not None, "no 429 with Retry-After"
    for at, exchange in probe.hammered:
        assert exchange.status == 429, "a request inside the lockout got through"
        later = exchange.retry_after
        assert later is not None, "a 429 without Retry-After"
        elapsed = at - probe.refused_at
        assert later <= first - elapsed + 1.5, (
            f"Retry-After grew from {first} to {later} after {elapsed:.1f} s of refused requests"
        )
    assert probe.retry is not None and probe.retry.status != 429, (
        f"still refused when the first Retry-After ({first} s) was up: the refused requests"
        f" extended the lockout"
    )
