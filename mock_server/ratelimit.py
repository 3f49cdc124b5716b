"""Per-client rate limit on the `limits` library's moving window, and its HTTP fields.

The moving window keeps one timestamp per accepted request, so it is exact:
never more than the limit in any rolling window, and no refusal under it.
Refused requests are not recorded, so a 429 does not extend the lockout.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from .errors import StorageUnavailable

POLICY_NAME = "per-ip"


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


class RateLimiter:
    """``15/minute``-style limits per client key, on a `limits` storage."""

    def __init__(self, spec: str = "15/minute", redis_url: str | None = None) -> None:
        self.item: RateLimitItem = parse(spec)
        self.storage: Storage
        if redis_url:
            # limits' moving window on Redis: one sorted list per client, updated by a Lua
            # script, so the limit holds across every process sharing the Redis.
            self.storage = storage_from_string(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
        else:
            self.storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.policy = f'"{POLICY_NAME}";q={self.item.amount};w={self.item.get_expiry()}'

    @property
    def limit(self) -> int:
        return self.item.amount

    @property
    def window(self) -> int:
        return self.item.get_expiry()

    async def hit(self, client: str) -> Quota:
        """Count one request of client, unless it is over the limit."""
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

    async def reset(self) -> None:
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
