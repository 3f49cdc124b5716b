"""``--storage``: where bookings and rate-limit counters live, chosen once for both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits.aio.storage import Storage as LimitsStorage

from .domain.store import BookingStore, MemoryBookingStore
from .ratelimit import SweptMemoryStorage, redis_storage

if TYPE_CHECKING:
    from .redis_pipe import RedisPipe

URL_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Storage:
    name: str  # what /__admin/health reports: memory or redis
    bookings: BookingStore
    rate_limits: LimitsStorage
    # The process's pipelined connection to the Redis both use (None in memory).
    pipe: RedisPipe | None = None


def open_storage(url: str) -> Storage:
    """``memory``, or a Redis URL shared by every worker and instance that names it."""
    if url == "memory":
        return Storage("memory", MemoryBookingStore(), SweptMemoryStorage())
    if not url.startswith(URL_SCHEMES):
        raise ValueError(f"{url!r} is not memory or a redis://host:port/db URL")
    # Imported here: redis' client is a tenth of a second of start-up that memory runs skip.
    from .redis_pipe import RedisPipe
    from .redis_store import RedisBookingStore

    pipe = RedisPipe(url)
    return Storage("redis", RedisBookingStore(url, pipe=pipe), redis_storage(url), pipe)
