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
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from .errors import STORAGE_DEADLINE, StorageUnavailable

if TYPE_CHECKING:  # redis' modules load only with a Redis storage (start-up)
    from .redis_pipe import RedisPipe

POLICY_NAME = "per-ip"
RECENT_CLIENTS = 50  # the clients the control API reports, most recent first


# Not frozen: a frozen dataclass sets each field through object.__setattr__, four times
# slower, and one is built for every request. Nothing changes one once built.
@dataclass(slots=True)
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
    """limits' async memory storage, with the moving window kept compact and swept cheaply.

    The stock storage keeps one ``Entry`` object per accepted request, a lock per
    client, and sweeps after every request by visiting every client key through a
    thread hop. Each of those grows with the clients seen: with thousands of them the
    sweep starved the event loop, and the entries (objects the garbage collector
    walks) made every full collection longer (mock_server.gc_tuning).

    Here a client's window is the times of its accepted requests, oldest first, packed
    into bytes and trimmed to the newest ``limit`` and to the window (older ones can no
    longer decide a verdict): bytes in a dict of strings, which the collector never walks.
    Clients are kept in the order of their last accepted request, so the once-a-second
    sweep drops expired clients from the front and stops at the first live one: its cost
    is the clients that expired, not the clients kept. The verdicts are limits' own: the same
    arithmetic as ``MemoryStorage.acquire_entry`` and ``get_moving_window``.
    """

    SWEEP_INTERVAL = 1.0
    BATCH = 1000

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0
        # key -> the accepted times, oldest first, as packed doubles: bytes, which the
        # collector never walks (a tuple per client still cost a full collection 6 ms per
        # 100,000 clients, through the dict holding them).
        self._windows: dict[str, bytes] = {}
        # key -> when its newest entry expires, in the order of the last accepted request
        # (re-inserted on each): the sweep reads it from the front.
        self._deadline: dict[str, float] = {}

    def _window(self, key: str) -> array[float]:
        packed = self._windows.get(key)
        return array("d", packed) if packed else array("d")

    def hit_now(self, key: str, limit: int, expiry: int) -> tuple[bool, float, int]:
        """Acquire one entry and read the window, in one call without yielding:
        (accepted, start of the window, entries in it)."""
        now = time.time()
        self._schedule_sweep(now)
        packed = self._windows.get(key)
        if not packed and limit > 0:  # nothing kept of this client: most of a crowd
            self._keep(key, array("d", (now,)).tobytes(), now + expiry)
            return True, now, 1
        window = array("d", packed)
        accepted = len(window) < limit or window[-limit] < now - expiry
        if accepted:
            self._accept(key, window, now, 1, limit, expiry)
        return (accepted, *self._in_window(window, now, expiry))

    def _accept(
        self, key: str, window: array[float], now: float, amount: int, limit: int, expiry: int
    ) -> None:
        # Entries past the window go too, so a client's memory follows its recent use.
        del window[: bisect.bisect_right(window, now - expiry)]
        window.extend([now] * amount)
        del window[:-limit]
        self._keep(key, window.tobytes(), now + expiry)

    def _keep(self, key: str, packed: bytes, deadline: float) -> None:
        """Store a client's window, and move it to the back of the sweep's order."""
        self._windows[key] = packed
        self._deadline.pop(key, None)
        self._deadline[key] = deadline

    @staticmethod
    def _in_window(window: array[float], now: float, expiry: int) -> tuple[float, int]:
        count = len(window) - bisect.bisect_right(window, now - expiry)
        return (window[-count] if count else now), count

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        self._schedule_sweep(now)
        window = self._window(key)
        if len(window) >= limit - amount + 1 and window[-(limit - amount + 1)] >= now - expiry:
            return False
        self._accept(key, window, now, amount, limit, expiry)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        return self._in_window(self._window(key), now, expiry)

    async def clear(self, key: str) -> None:
        await super().clear(key)
        self._windows.pop(key, None)
        self._deadline.pop(key, None)

    async def reset(self) -> int | None:
        cleared = max(len(self._windows), await super().reset() or 0)
        self._windows.clear()
        self._deadline.clear()
        return cleared

    @property
    def clients(self) -> int:
        """How many clients have a window kept (until the sweep drops an expired one)."""
        return len(self._windows)

    def _schedule_sweep(self, now: float) -> None:
        if now >= self._next_sweep and (self.timer is None or self.timer.done()):
            self._next_sweep = now + self.SWEEP_INTERVAL
            self.timer = asyncio.get_running_loop().create_task(self.sweep())

    # Replaces MemoryStorage.__schedule_expiry (name-mangled), which incr and decr call.
    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802
        self._schedule_sweep(time.time())

    async def sweep(self) -> None:
        """Drop the clients whose entries all expired, oldest first; stop at a live one."""
        while True:
            now = time.time()
            expired = []
            for key, deadline in self._deadline.items():
                if deadline > now or len(expired) == self.BATCH:
                    break
                expired.append(key)
            for key in expired:
                del self._deadline[key]
                self._windows.pop(key, None)
            if len(expired) < self.BATCH:
                break
            await asyncio.sleep(0)
        for key in [k for k, expiry in self.expirations.items() if expiry <= now]:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            self.locks.pop(key, None)


def redis_storage(url: str) -> Storage:
    """limits' moving window on Redis: one sorted list per client, updated by a Lua
    script, so the limit holds across every process sharing the Redis."""
    from .redis_store import waiting_pool

    return storage_from_string(
        "async+" + url,
        implementation="redispy",
        wrap_exceptions=True,
        # Requests beyond the pool's connections wait for one (a 503 after 2 s), rather
        # than fail at once: a burst of 200 requests on one worker was 50 503s.
        connection_pool=waiting_pool(url),
    )


class RedisWindow:
    """limits' own moving-window scripts on Redis, sent together over the process's
    pipelined connection (``redis_pipe``).

    ``MovingWindowRateLimiter`` awaits the acquire, then the window read, each its own
    round trip through redis-py; on Redis that was most of the limiter's cost. Both
    scripts are limits' (its ``acquire_moving_window`` and ``moving_window``, their text
    and SHAs as limits registered them), sent one after the other in one write, so Redis
    runs them back to back and the verdicts are limits' own. A Redis without a script (a
    restart, or another process that loaded only one of them so far) answers NOSCRIPT
    for it: the acquire's NOSCRIPT counted nothing, so both are loaded and sent again;
    the window's alone means the request was counted, and only the window is read again
    (counting it twice was one request too many).
    """

    def __init__(self, storage: Storage, pipe: RedisPipe) -> None:
        from .redis_pipe import Script

        self.bridge = storage.bridge  # type: ignore[attr-defined]
        self.pipe = pipe
        self._acquire = Script(self.bridge.lua_acquire_moving_window.script)
        self._window = Script(self.bridge.lua_moving_window.script)

    @staticmethod
    def supports(storage: Storage) -> bool:
        bridge = getattr(storage, "bridge", None)
        return all(
            hasattr(getattr(bridge, name, None), "script")
            for name in ("lua_acquire_moving_window", "lua_moving_window")
        ) and hasattr(bridge, "prefixed_key")

    async def hit(self, key: str, limit: int, expiry: int) -> tuple[bool, float, int]:
        """(accepted, start of the window, entries in it)."""
        from redis.exceptions import NoScriptError, RedisError  # loaded with the storage

        full_key = self.bridge.prefixed_key(key)
        now = time.time()
        acquire = ("EVALSHA", self._acquire.sha, 1, full_key, now, limit, expiry, 1)
        read = ("EVALSHA", self._window.sha, 1, full_key, now - expiry, limit)
        try:
            # Not sent again once written: Redis may have counted the request already.
            acquired, window = await self.pipe.calls(acquire, read)
            if isinstance(acquired, NoScriptError):
                await self.pipe.calls(
                    ("SCRIPT", "LOAD", self._acquire.text),
                    ("SCRIPT", "LOAD", self._window.text),
                    retry=True,
                )
                acquired, window = await self.pipe.calls(acquire, read)
            elif isinstance(window, NoScriptError):
                window = await self.pipe.evalsha(
                    self._window, [full_key], [now - expiry, limit], retry=True
                )
            for reply in (acquired, window):
                if isinstance(reply, Exception):
                    raise reply
        except (RedisError, OSError) as exc:
            raise StorageUnavailable() from exc
        if window:
            return bool(acquired), float(window[0]), int(window[1])
        return bool(acquired), now, 0


class RateLimiter:
    """``15/minute``-style limits per client key, on a `limits` storage."""

    def __init__(
        self, spec: str = "15/minute", storage: Storage | None = None, pipe: RedisPipe | None = None
    ) -> None:
        """``pipe``: the process's connection to the Redis of ``storage``; without one, a
        Redis storage is used limits' own way (two round trips through redis-py)."""
        self.item: RateLimitItem = parse(spec)
        # Read on every request: plain attributes, not limits' get_expiry() each time.
        self.limit: int = self.item.amount
        self.window: int = self.item.get_expiry()
        self.storage: Storage = storage if storage is not None else SweptMemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._memory = self.storage if isinstance(self.storage, SweptMemoryStorage) else None
        self.policy = f'"{POLICY_NAME}";q={self.limit};w={self.window}'
        self._policy_bytes = self.policy.encode()
        self._recent: OrderedDict[str, float] = OrderedDict()
        # limits' key for a client, as a prefix and a suffix around it (key_for's format).
        self._key_prefix, self._key_suffix = self.item.key_for("\0").split("\0")
        self._redis = (
            RedisWindow(self.storage, pipe)
            if pipe is not None and RedisWindow.supports(self.storage)
            else None
        )

    async def hit(self, client: str) -> Quota:
        """Count one request of client, unless it is over the limit."""
        self._recent[client] = time.time()
        self._recent.move_to_end(client, last=False)
        if len(self._recent) > RECENT_CLIENTS:
            self._recent.popitem()
        if self._memory is not None:
            # Memory: the verdict and the window in one call, with nothing to await.
            key = f"{self._key_prefix}{client}{self._key_suffix}"
            return self._standing(*self._memory.hit_now(key, self.limit, self.window))
        if self._redis is not None:  # the pipe keeps the storage deadline itself
            key = f"{self._key_prefix}{client}{self._key_suffix}"
            return self._standing(*await self._redis.hit(key, self.limit, self.window))
        try:
            async with asyncio.timeout(STORAGE_DEADLINE):  # shared storage: no hang
                allowed = await self._strategy.hit(self.item, client)
                return await self._quota(client, allowed)
        except (StorageError, TimeoutError) as exc:
            raise StorageUnavailable() from exc

    async def peek(self, client: str) -> Quota:
        """The client's standing, without counting a request."""
        try:
            async with asyncio.timeout(STORAGE_DEADLINE):
                return await self._quota(client, True)
        except (StorageError, TimeoutError) as exc:
            raise StorageUnavailable() from exc

    async def _quota(self, client: str, allowed: bool) -> Quota:
        stats = await self._strategy.get_window_stats(self.item, client)
        return self._standing(allowed, stats.reset_time - self.window, self.limit - stats.remaining)

    def _standing(self, allowed: bool, window_start: float, count: int) -> Quota:
        limit, window = self.limit, self.window
        if count <= 0:
            return Quota(allowed, limit, window, limit, 0)  # nothing in the window: no wait
        # The moving window frees the oldest entry strictly after it is `window`
        # seconds old; the margin keeps a retry at exactly Retry-After from
        # landing a hair too early.
        seconds = window_start + window - time.time() + 0.001
        reset_after = min(window, max(1, math.ceil(seconds)))
        return Quota(allowed, limit, window, max(0, limit - count), reset_after)

    def recent_clients(self) -> list[tuple[str, float]]:
        """The last clients this process counted, with when (epoch seconds), newest first."""
        return list(self._recent.items())

    async def reset(self) -> None:
        self._recent.clear()
        try:
            async with asyncio.timeout(STORAGE_DEADLINE):
                await self.storage.reset()
        except (StorageError, TimeoutError) as exc:
            raise StorageUnavailable() from exc

    def headers(self, quota: Quota) -> list[tuple[bytes, bytes]]:
        fields = [
            (b"ratelimit-policy", self._policy_bytes),
            (
                b"ratelimit",
                f'"{POLICY_NAME}";r={quota.remaining};t={quota.reset_after}'.encode(),
            ),
        ]
        if not quota.allowed:
            fields.append((b"retry-after", str(quota.retry_after).encode()))
        return fields
