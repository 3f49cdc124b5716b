"""Broken rate limiters and proxies: the reference with one part of rule 1 broken."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from typing import Any

from .broken import (
    BOOK,
    RATE,
    RATE_TRUSTED,
    Captured,
    Fault,
    Layer,
    LimiterFaults,
    Scope,
    SlidingLimit,
    call,
    emit,
    read_body,
    reference,
)

LIMIT, WINDOW = 5, 4  # RATE's "5/4 seconds"
# The suite's own address, the one proxy the limiters below trust, as
# `booking-mock --forwarded-allow-ips 127.0.0.1` does.
PROXY = "127.0.0.1"


class TrustingLimit(SlidingLimit):
    """The test limiter, keyed as PRODUCT says: the peer, or behind PROXY the right-most hop."""

    def __init__(self, faults: LimiterFaults | None = None) -> None:
        super().__init__(reference(), LIMIT, WINDOW, faults or LimiterFaults())

    def key(self, scope: Scope) -> str:
        if self.faults.global_key:
            return "everyone"
        peer = scope["client"][0]
        if peer != PROXY:
            return peer
        hops = [
            hop.strip()
            for name, value in scope["headers"]
            if name.lower() == b"x-forwarded-for"
            for hop in value.decode().split(",")
        ]
        return next((hop for hop in reversed(hops) if hop and hop != PROXY), peer)


class FixedClockWindows(TrustingLimit):
    """Counts per window of the clock, [k * window, (k + 1) * window) since the epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[tuple[str, int], int] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = BOOK.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        now = time.time()
        number = int(now // self.window)
        key = (self.key(scope), number)
        used = self.counts.get(key, 0)
        refused = used >= self.limit
        if not refused:
            used = self.counts[key] = used + 1
        reset = max(1, math.ceil((number + 1) * self.window - now))
        fields = [
            (b"ratelimit-policy", f'"per-ip";q={self.limit};w={self.window}'.encode()),
            (b"ratelimit", f'"per-ip";r={max(0, self.limit - used)};t={reset}'.encode()),
        ]
        if refused:
            body = b'{"error": "Rate limit exceeded."}'
            headers = [(b"content-type", b"application/json"), *fields]
            await emit(send, Captured(429, [*headers, (b"retry-after", str(reset).encode())], body))
            return
        captured = await call(self.app, scope, await read_body(receive))
        captured.headers = [
            (k, v) for k, v in captured.headers if not k.lower().startswith(b"ratelimit")
        ] + fields
        await emit(send, captured)


class BookingClearsTheWindow(TrustingLimit):
    """A 201 forgets the client's earlier requests, as if a booking paid off its quota."""

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        key = self.key(scope) if scope["type"] == "http" else None

        async def watching(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 201:
                self.log[str(key)] = deque()
            await send(message)

        await super().__call__(scope, receive, watching)


class WholeWindowReset(TrustingLimit):
    """RateLimit's t is always the whole window; Retry-After stays right."""

    def fields(self, log: deque[float], now: float, refused: bool) -> list[tuple[bytes, bytes]]:
        out = super().fields(log, now, refused)
        if not log:
            return out
        whole = f"t={self.window}".encode()
        return [(k, re.sub(rb"t=\d+", whole, v) if k == b"ratelimit" else v) for k, v in out]


def _left_most_hop(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
    """A proxy layer that passes on only the first X-Forwarded-For hop: the one a client forges."""
    headers = []
    for name, value in scope["headers"]:
        if name.lower() == b"x-forwarded-for":
            value = value.split(b",")[0].strip()
        headers.append((name, value))
    return {**scope, "headers": headers}, body


FAULTS: list[Fault] = [
    Fault(
        "fixed windows aligned to multiples of the window on the clock",
        lambda _: FixedClockWindows(),
        "rule_1_",
        ("test_rule_1_no_more_than_the_limit_across_a_multiple_of_the_window",),
        RATE,
    ),
    Fault(
        "a 201 clears the client's window",
        lambda _: BookingClearsTheWindow(),
        "rule_1_",
        (
            "test_rule_1_a_successful_booking_counts_too",
            "test_rule_1_every_outcome_counts",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "RateLimit t is always the whole window",
        lambda _: WholeWindowReset(),
        "rule_1_",
        ("test_rule_1_t_is_the_time_until_a_request_frees_up",),
        RATE,
    ),
    Fault(
        "behind a trusted proxy, the left-most X-Forwarded-For hop is the client",
        lambda _: Layer(
            reference(rate_limit="5/4 seconds", forwarded_allow_ips=[PROXY]),
            before=_left_most_hop,
        ),
        "rule_1_",
        ("test_rule_1_spoofed_forwarded_for_hop_behind_a_trusted_proxy_does_not_count",),
        RATE_TRUSTED,
    ),
    Fault(
        "X-Forwarded-For trusted from any peer, this machine trusted too",
        lambda _: reference(rate_limit="5/4 seconds", forwarded_allow_ips=["*"]),
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
        lambda _: TrustingLimit(LimiterFaults(global_key=True)),
        # Only the probe that needs two clients: the others would share the limit too.
        "rule_1_another or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_another_client_is_unaffected",),
        RATE,
    ),
]
