"""A sliding-log rate limiter per client, and the client's address behind trusted proxies."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    wait: float  # seconds until the oldest counted request leaves the window

    @property
    def wait_seconds(self) -> int:
        """``wait`` rounded up: never earlier than the window frees, at least 1."""
        return max(1, math.ceil(self.wait))


class SlidingLog:
    """Exact moving window: a request counts while ``now - t < window``.

    ``hit`` is synchronous (no awaits), so on one event loop it is atomic.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the limit must be at least 1 and the window positive")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._logs: dict[str, deque[float]] = {}
        self._hits = 0

    def _prune(self, log: deque[float], now: float) -> None:
        while log and now - log[0] >= self.window:
            log.popleft()

    def hit(self, key: str) -> Decision:
        """Count one request of ``key`` unless it is over the limit (then it is not counted)."""
        now = self.clock()
        self._hits += 1
        if self._hits % 1024 == 0:
            self._forget_idle(now)
        log = self._logs.setdefault(key, deque())
        self._prune(log, now)
        if len(log) >= self.limit:
            return Decision(False, 0, log[0] + self.window - now)
        log.append(now)
        return Decision(True, self.limit - len(log), log[0] + self.window - now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, log in self._logs.items() if not log or now - log[-1] >= self.window]:
            del self._logs[key]


class ClientAddress:
    """The client's IP: the TCP peer, or, when the peer is a trusted proxy, the right-most
    ``X-Forwarded-For`` hop that is not itself a trusted proxy (uvicorn's reading: when
    every hop is trusted, the left-most)."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.any = False
        self.literals: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (e.strip() for e in trusted):
            if not entry:
                continue
            if entry == "*":
                self.any = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.literals.add(entry)

    def trusts(self, host: str) -> bool:
        if self.any or host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def of(self, scope: dict[str, Any]) -> str:
        peer = scope.get("client")
        host = peer[0] if peer else "unknown"
        if not self.trusts(host):
            return host
        values = [
            v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"
        ]
        hops = [hop.strip() for hop in ",".join(values).split(",") if hop.strip()]
        return right_most_untrusted(hops, self.trusts) or host


def right_most_untrusted(hops: Sequence[str], trusts: Callable[[str], bool]) -> str | None:
    for hop in reversed(hops):
        if not trusts(hop):
            return hop
    return hops[0] if hops else None
