"""Bookings in Redis, shared by several workers or instances; booking is one Lua script."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .domain.store import Booking, DuplicateBookingId, Invitee
from .encoding import json_bytes
from .errors import STORAGE_DEADLINE, StorageUnavailable
from .redis_pipe import RedisPipe, Script

T = TypeVar("T")

# Each host's busy spans are a hash (id -> "start:end") and a sorted set of the same ids
# by start. A host's spans never overlap, so they are in end order too: the one span
# that starts last before a new span ends is the only one that can overlap it, found in
# O(log n) whatever the host's bookings. INDEX builds the sorted set from the hash when
# a Redis holds spans stored before it existed (an older booking-mock).
INDEX = """
local function indexed(spans, index)
  if redis.call('EXISTS', index) == 0 then
    local all = redis.call('HGETALL', spans)
    for i = 1, #all, 2 do
      local sep = string.find(all[i + 1], ':', 1, true)
      redis.call('ZADD', index, tonumber(string.sub(all[i + 1], 1, sep - 1)), all[i])
    end
  end
end
local function span_end(spans, id)
  local span = redis.call('HGET', spans, id)
  return tonumber(string.sub(span, string.find(span, ':', 1, true) + 1))
end
"""

# Check and insert run inside Redis, atomically: of any number of concurrent requests
# for overlapping slots of one host, across any number of processes, one gets 1.
# ARGV[6] names this attempt: the same call replayed (a retry after its reply was lost)
# finds its own booking and answers 1 again, where another booking under the id is -1.
ADD_IF_FREE = (
    INDEX
    + """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  if redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[6] then return 1 end
  return -1
end
indexed(KEYS[1], KEYS[5])
local before = redis.call('ZREVRANGEBYSCORE', KEYS[5], '(' .. ARGV[3], '-inf', 'LIMIT', 0, 1)
if before[1] and span_end(KEYS[1], before[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])
return 1
"""
)

# The spans overlapping [ARGV[1], ARGV[2]), by start, as "start:end" texts.
SPANS = (
    INDEX
    + """
indexed(KEYS[1], KEYS[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '(' .. ARGV[2])
local before = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '-inf', 'LIMIT', 0, 1)
if before[1] and span_end(KEYS[1], before[1]) > tonumber(ARGV[1]) then
  table.insert(ids, 1, before[1])
end
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(ids))
"""
)

DELETE = """
local host = redis.call('HGET', KEYS[1], ARGV[1])
if not host then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', ARGV[2] .. host, ARGV[1])
redis.call('ZREM', ARGV[4] .. host, ARGV[1])
redis.call('HDEL', ARGV[3] .. host, ARGV[1])
return 1
"""


_ADD, _SPANS, _DELETE = Script(ADD_IF_FREE), Script(SPANS), Script(DELETE)


def reconnecting_retry() -> Retry:
    """Once more, at once, on a fresh connection when a connection turns out dead.

    After Redis restarts, every pooled connection is dead, and without a retry each would
    cost one request a 503 while Redis is up again, however long the pool sat idle. Only
    connection errors: a timeout is not retried, so an unreachable Redis still answers
    503 within the storage deadline, and a slow command is not sent twice.
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


POOL_SIZE = 100  # connections per process, as redis-py's default pool


class WaitingPool(redis.BlockingConnectionPool):
    """redis-py's blocking pool, with a short way in when a connection is free.

    The blocking pool takes every connection under an ``asyncio.Condition`` and a
    timeout, and records metrics around it; under load that was a tenth of a Redis
    booking's time (benchmarks/throughput.py with --profile). When a pooled connection
    is free and no request is waiting for one, it is taken at once: between the check
    and the take nothing else runs (one event loop), and the waiters keep their turn.
    Otherwise, and on a redis-py without the pool methods used here, it is the blocking
    pool's own way: wait up to ``timeout`` for a connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = 0
        self._quick = all(
            hasattr(self, name)
            for name in ("_available_connections", "get_available_connection", "ensure_connection")
        )

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self._quick and self._available_connections and not self._waiting:
            connection = self.get_available_connection()
            try:
                await self.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self._waiting += 1
        try:
            return await super().get_connection(*args, **kwargs)
        finally:
            self._waiting -= 1


def waiting_pool(url: str) -> WaitingPool:
    """Connections to Redis for one process: a request finding all POOL_SIZE in use waits
    for one instead of failing at once, as redis-py's default pool does.

    No socket timeout: each operation runs under one deadline (``within_deadline``), where
    a socket timeout put a timer on every read and a task (``asyncio.wait_for``) on every
    write, a tenth of a Redis booking's time. Connecting still gives up after 2 s.
    """
    return WaitingPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=STORAGE_DEADLINE,
        socket_timeout=None,
        socket_connect_timeout=STORAGE_DEADLINE,
        health_check_interval=5,
        # Dead pooled connections (Redis restarted) are replaced, not a 503 each.
        retry=reconnecting_retry(),
    )


async def within_deadline(operation: Callable[[], Awaitable[T]]) -> T:
    """``operation()`` within STORAGE_DEADLINE; a Redis error, a dead connection or the
    deadline passing is StorageUnavailable (a cancelled command's connection is dropped by
    redis-py, never reused with a reply still on its way)."""
    try:
        async with asyncio.timeout(STORAGE_DEADLINE):
            return await operation()
    except (RedisError, OSError) as exc:  # TimeoutError is an OSError
        raise StorageUnavailable() from exc


async def one_command(reply: Awaitable[T]) -> T:
    """The reply of one command over the pipe, which keeps the storage deadline itself
    (without a timer of each request's); any Redis error is StorageUnavailable."""
    try:
        return await reply
    except (RedisError, OSError) as exc:
        raise StorageUnavailable() from exc


def booking_to_json(booking: Booking) -> bytes:
    data = {
        "id": booking.id,
        "host_slug": booking.host_slug,
        "event_slug": booking.event_slug,
        "event_type_id": booking.event_type_id,
        "status": booking.status,
        "invitee": {
            "name": booking.invitee.name,
            "email": booking.invitee.email,
            "timezone": booking.invitee.timezone,
            "phone": booking.invitee.phone,
            "locale": booking.invitee.locale,
        },
        "location_type": booking.location_type,
        "location_value": booking.location_value,
        "custom_fields": booking.custom_fields,
        "notes": booking.notes,
        "source": booking.source,
    }
    for name in ("start", "end", "busy_start", "busy_end", "created_at"):
        data[name] = getattr(booking, name).isoformat()
    return json_bytes(data)


def booking_from_json(text: str | bytes) -> Booking:
    data = json.loads(text)
    for name in ("start", "end", "busy_start", "busy_end", "created_at"):
        data[name] = datetime.fromisoformat(data[name])
    data["invitee"] = Invitee(**data["invitee"])
    return Booking(**data)


class RedisBookingStore:
    """Keys: ``<prefix>busy:<host>`` (id -> busy span) with ``<prefix>busyz:<host>`` (the
    same ids by start), ``<prefix>bookings:<host>``
    (id -> booking JSON), ``<prefix>hosts`` (id -> host), so one host's check reads
    only that host's spans, and ``<prefix>attempts`` (id -> the attempt that stored it).

    Every command goes over ``pipe``, the process's one pipelined connection to Redis
    (``redis_pipe``), shared with the rate limiter when it is given."""

    def __init__(
        self, url: str, prefix: str = "booking-mock:", pipe: RedisPipe | None = None
    ) -> None:
        self.pipe = pipe if pipe is not None else RedisPipe(url)
        self.prefix = prefix
        self._hosts = f"{prefix}hosts"

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await within_deadline(operation)

    def _keys(self, host: str) -> list[str]:
        return [
            f"{self.prefix}busy:{host}",
            f"{self.prefix}bookings:{host}",
            self._hosts,
            f"{self.prefix}attempts",
            f"{self.prefix}busyz:{host}",
        ]

    async def add_if_free(self, booking: Booking) -> bool:
        args = [
            booking.id,
            int(booking.busy_start.timestamp()),
            int(booking.busy_end.timestamp()),
            booking_to_json(booking),
            booking.host_slug,
            secrets.token_hex(8),  # this attempt; a retry of this call replays it
        ]
        keys = self._keys(booking.host_slug)
        result = await one_command(self.pipe.evalsha(_ADD, keys, args, retry=True))
        if result == -1:
            raise DuplicateBookingId(booking.id)
        return result == 1

    async def is_busy(self, host_slug: str, busy_start: datetime, busy_end: datetime) -> bool:
        return bool(await self.busy_spans(host_slug, busy_start, busy_end))

    async def list(self, host_slug: str | None = None) -> list[Booking]:
        async def read() -> list[Booking]:
            if host_slug is not None:
                hosts = [host_slug]
            else:
                found = set((await self.pipe.call("HVALS", self._hosts, retry=True)) or [])
                hosts = [host.decode() for host in found]
            # One pipelined read of every host's bookings.
            reads = [f"{self.prefix}bookings:{host}" for host in hosts]
            answers = await asyncio.gather(
                *(self.pipe.call("HVALS", key, retry=True) for key in reads)
            )
            return [booking_from_json(text) for texts in answers for text in texts or []]

        return sorted(await self._call(read), key=lambda b: (b.start, b.id))

    async def busy_spans(
        self, host_slug: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        keys = self._keys(host_slug)
        low, high = repr(start.timestamp()), repr(end.timestamp())
        spans = await one_command(
            self.pipe.evalsha(_SPANS, [keys[0], keys[4]], [low, high], retry=True)
        )
        out = []
        for span in spans or []:
            first, _, last = (span.decode() if isinstance(span, bytes) else span).partition(":")
            begins, ends = int(first), int(last)
            out.append((datetime.fromtimestamp(begins, UTC), datetime.fromtimestamp(ends, UTC)))
        return out

    async def count(self) -> int:
        return int(await one_command(self.pipe.call("HLEN", self._hosts, retry=True)))

    async def get(self, booking_id: str) -> Booking | None:
        async def read() -> Booking | None:
            host = await self.pipe.call("HGET", self._hosts, booking_id, retry=True)
            if host is None:
                return None
            text = await self.pipe.call(
                "HGET", f"{self.prefix}bookings:{host.decode()}", booking_id, retry=True
            )
            return booking_from_json(text) if text else None

        return await self._call(read)

    async def delete(self, booking_id: str) -> bool:
        result = await one_command(
            self.pipe.evalsha(
                _DELETE,
                [self._hosts, f"{self.prefix}attempts"],
                [
                    booking_id,
                    f"{self.prefix}busy:",
                    f"{self.prefix}bookings:",
                    f"{self.prefix}busyz:",
                ],
            )
        )
        return result == 1

    async def clear(self) -> None:
        async def clear() -> None:
            cursor = b"0"
            while True:
                cursor, keys = await self.pipe.call(
                    "SCAN", cursor, "MATCH", f"{self.prefix}*", "COUNT", 1000, retry=True
                )
                if keys:
                    await self.pipe.call("DEL", *keys, retry=True)
                if cursor == b"0":
                    return

        await self._call(clear)

    async def ping(self) -> bool:
        try:
            return bool(await one_command(self.pipe.call("PING", retry=True)))
        except StorageUnavailable:
            return False

    def close(self) -> None:
        """Closes its connection (a test's clean-up); the next command opens another."""
        self.pipe.close()
