"""Per-client rate limit on the `limits` library's moving window, and its HTTP fields.

The moving window keeps one timestamp per accepted request, so it is exact:
never more than the limit in any rolling window, and no refusal under it.
Refused requests are not recorded, so a 429 does not extend the lockout.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from .errors import StorageUnavailable
from .redis_store import reconnecting_retry

POLICY_NAME = "per-ip"
RECENT_CLIENTS = 50  # the clients the control API reports, most recent first


@dataclass(frozen=True)
class Quota:
    """A client's standing after a request: what the RateLimit fields report."""

    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int  # seconds until one more request frees up

    @property
    def retry_after(self) -> int:
        return self.reset_after


class SweptMemoryStorage(MemoryStorage):
    """limits' async memory storage, with expired entries swept at most once a second.

    The stock sweep runs after every request and visits every client key, each
    through a thread hop (``asyncio.to_thread``): with thousands of clients that
    starves the event loop, and latency climbs into seconds. Expiry is only about
    memory (a window's verdict reads timestamps, not the sweep), so a batched sweep
    once a second keeps memory bounded at a fraction of the cost.
    """

    SWEEP_INTERVAL = 1.0
    BATCH = 1000

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    # Replaces MemoryStorage.__schedule_expiry (name-mangled), which acquire_entry calls.
    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802
        now = time.monotonic()
        if now >= self._next_sweep and (self.timer is None or self.timer.done()):
            self._next_sweep = now + self.SWEEP_INTERVAL
            self.timer = asyncio.create_task(self.sweep())

    async def sweep(self) -> None:
        """Drop expired entries; yields to the event loop between batches of keys."""
        now = time.time()
        for index, key in enumerate(list(self.events)):
            events = self.events.get(key)
            if events:
                # Entries are newest first: keep those that have not expired yet.
                alive = bisect.bisect_left(events, -now, key=lambda entry: -entry.expiry)
                if alive < len(events):
                    self.events[key] = events[:alive]
            if not self.events.get(key):
                self.events.pop(key, None)
                self.locks.pop(key, None)
            if index % self.BATCH == self.BATCH - 1:
                await asyncio.sleep(0)
        for key in [k for k, expiry in self.expirations.items() if expiry <= now]:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            self.locks.pop(key, None)


def redis_storage(url: str) -> Storage:
    """limits' moving window on Redis: one sorted list per client, updated by a Lua
    script, so the limit holds across every process sharing the Redis."""
    return storage_from_string(
        "async+" + url,
        implementation="redispy",
        wrap_exceptions=True,
        socket_timeout=2,
        socket_connect_timeout=2,
        # Dead pooled connections (Redis restarted) are replaced, not a 503 each.
        retry=reconnecting_retry(),
    )


class RateLimiter:
    """``15/minute``-style limits per client key, on a `limits` storage."""

    def __init__(self, spec: str = "15/minute", storage: Storage | None = None) -> None:
        self.item: RateLimitItem = parse(spec)
        self.storage: Storage = storage if storage is not None else SweptMemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.policy = f'"{POLICY_NAME}";q={self.item.amount};w={self.item.get_expiry()}'
        self._recent: OrderedDict[str, float] = OrderedDict()

    @property
    def limit(self) -> int:
        return self.item.amount

    @property
    def window(self) -> int:
        return self.item.get_expiry()

    async def hit(self, client: str) -> Quota:
        """Count one request of client, unless it is over the limit."""
        self._recent[client] = time.time()
        self._recent.move_to_end(client, last=False)
        if len(self._recent) > RECENT_CLIENTS:
            self._recent.popitem()
        try:
            allowed = await self._strategy.hit(self.item, client)
            return await self._quota(client, allowed)
        except StorageError as exc:
            raise StorageUnavailable() from exc

    async def peek(self, client: str) -> Quota:
        """The client's standing, without counting a request."""
        try:
            return await self._quota(client, True)
        except StorageError as exc:
            raise StorageUnavailable() from exc

    async def _quota(self, client: str, allowed: bool) -> Quota:
        stats = await self._strategy.get_window_stats(self.item, client)
        remaining = max(0, stats.remaining)
        # The moving window frees the oldest entry strictly after it is `window`
        # seconds old; the margin keeps a retry at exactly Retry-After from
        # landing a hair too early.
        seconds = stats.reset_time - time.time() + 0.001
        reset_after = min(self.window, max(1, math.ceil(seconds)))
        if remaining == self.limit:
            reset_after = 0  # nothing in the window: nothing to wait for
        return Quota(allowed, self.limit, self.window, remaining, reset_after)

    def recent_clients(self) -> list[tuple[str, float]]:
        """The last clients this process counted, with when (epoch seconds), newest first."""
        return list(self._recent.items())

    async def reset(self) -> None:
        self._recent.clear()
        try:
            await self.storage.reset()
        except StorageError as exc:
            raise StorageUnavailable() from exc

    def headers(self, quota: Quota) -> list[tuple[bytes, bytes]]:
        fields = [
            (b"ratelimit-policy", self.policy.encode()),
            (
                b"ratelimit",
                f'"{POLICY_NAME}";r={quota.remaining};t={quota.reset_after}'.encode(),
            ),
        ]
        if not quota.allowed:
            fields.append((b"retry-after", str(quota.retry_after).encode()))
        return fields
