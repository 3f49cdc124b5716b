"""Broken rate limiters and proxies: the reference with one part of rule 1 broken.

Most are a limiter model of `tests.faults.limiters` with one mistake, served by
`tests.faults.LimiterGate` in front of an unlimited reference and keyed as PRODUCT
says (`trusted_client`), unless the reading of the client is the fault. The others
are the reference's own limiter behind a layer, or configured wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import Scope

from tests.faults import Captured, Layer, behind_limiter, reference, refusal
from tests.faults import limiters as model
from tests.faults.asgi import book_match
from tests.faults.gate import TRUSTED_PROXY, ClientIp, left_most_hop, trusted_client

from .broken import Fault
from .broken_datasets import default_dataset

LIMIT, WINDOW = 5, 4
RATE = ("--rate-limit", f"{LIMIT}/{WINDOW} seconds")
# Most limiter faults show as well with many clients, whose probes run side by side.
RATE_TRUSTED = (*RATE, "--trusts-forwarded-for")


def _gated(
    limiter: type[model.SlidingWindow], client_ip: ClientIp = trusted_client
) -> Callable[[Path], Any]:
    """A Fault's build: the reference behind ``limiter``, LIMIT requests per WINDOW."""
    return lambda _: behind_limiter(limiter(LIMIT, WINDOW), client_ip)


def _limited_reference(**settings: Any) -> Any:
    """The reference's own limiter, LIMIT requests per WINDOW."""
    return reference(rate_limit=RATE[1], **settings)


def _strip_retry_after(scope: Scope, request: Any, captured: Captured) -> None:
    del captured.headers["retry-after"]


def _unknown_user_answered(scope: Scope, body: bytes) -> Captured | None:
    """A 404 for an unknown user before the limiter sees the request: it is never counted."""
    match = book_match(scope)
    hosts = {host["slug"] for host in default_dataset()["hosts"]}
    if match is not None and scope["method"] == "POST" and match["host"] not in hosts:
        return refusal("User not found.", 404)
    return None


FAULTS: list[Fault] = [
    Fault(
        "429 without Retry-After",
        lambda _: Layer(
            _limited_reference(forwarded_allow_ips=[TRUSTED_PROXY]), after=_strip_retry_after
        ),
        "rule_1_",
        (
            "test_rule_1_request_over_the_limit_is_429",
            "test_rule_1_retry_after_is_not_needlessly_long",
            "test_rule_1_429_does_not_extend_the_lockout",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "refused requests extend the lockout",
        _gated(model.RefusalsCounted),
        "rule_1_",
        ("test_rule_1_429_does_not_extend_the_lockout",),
        RATE_TRUSTED,
    ),
    Fault(
        "Retry-After is always the whole window",
        _gated(model.WholeWindowRetryAfter),
        "rule_1_",
        ("test_rule_1_retry_after_is_not_needlessly_long",),
        RATE_TRUSTED,
    ),
    Fault(
        "one limit shared by every client",
        _gated(model.GlobalBucket),
        # Only the probe that needs two clients: the others would share the limit too.
        "rule_1_another or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_another_client_is_unaffected",),
        RATE_TRUSTED,
    ),
    Fault(
        "one request too many let through",
        _gated(model.OffByOne),
        "rule_1_",
        ("test_rule_1_request_over_the_limit_is_429",),
        RATE_TRUSTED,
    ),
    Fault(
        "unknown users answered before the limit",
        lambda _: Layer(
            behind_limiter(model.SlidingWindow(LIMIT, WINDOW)), before=_unknown_user_answered
        ),
        "rule_1_",
        (
            "test_rule_1_rate_limit_answers_before_404_and_validation",
            "test_rule_1_every_outcome_counts",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "X-Forwarded-For trusted from anyone",
        lambda _: _limited_reference(forwarded_allow_ips=["*"]),
        # One client: only the probe of the spoofing test and its neighbours.
        "rule_1_spoofed or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_spoofed_forwarded_for_does_not_reset_the_limit",),
        RATE,
    ),
    Fault(
        "fixed windows aligned to multiples of the window on the clock",
        _gated(model.FixedWindow),
        "rule_1_",
        ("test_rule_1_no_more_than_the_limit_across_a_multiple_of_the_window",),
        RATE,
    ),
    Fault(
        "a 201 clears the client's window",
        _gated(model.BookingClearsTheWindow),
        "rule_1_",
        (
            "test_rule_1_a_successful_booking_counts_too",
            "test_rule_1_every_outcome_counts",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "RateLimit t is always the whole window",
        _gated(model.ResetIsWindow),
        "rule_1_",
        ("test_rule_1_t_is_the_time_until_a_request_frees_up",),
        RATE,
    ),
    Fault(
        "behind a trusted proxy, the left-most X-Forwarded-For hop is the client",
        _gated(model.SlidingWindow, left_most_hop),
        "rule_1_",
        ("test_rule_1_spoofed_forwarded_for_hop_behind_a_trusted_proxy_does_not_count",),
        RATE_TRUSTED,
    ),
    Fault(
        "X-Forwarded-For trusted from any peer, this machine trusted too",
        lambda _: _limited_reference(forwarded_allow_ips=["*"]),
        "rule_1_",
        # The peer 127.x.y.z is not the trusted proxy the profile names; with "*" the
        # reference also takes the left-most hop, so the forged hop counts too.
        (
            "test_rule_1_spoofed_forwarded_for_does_not_reset_the_limit",
            "test_rule_1_spoofed_forwarded_for_hop_behind_a_trusted_proxy_does_not_count",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "one limit shared by every client, the suite one client",
        _gated(model.GlobalBucket),
        # Only the probe that needs two clients: the others would share the limit too.
        "rule_1_another or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_another_client_is_unaffected",),
        RATE,
    ),
]
