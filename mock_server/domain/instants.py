"""RFC 3339 instants in and out: the one parser and the one UTC format the API uses."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


# A booking's two instants are parsed by the spec's format check and again as the
# request is read; a datetime is immutable, so the second parse is a lookup.
@lru_cache(maxsize=256)
def parse_instant(value: str) -> datetime:
    """Parse an RFC 3339 date-time with an offset (the spec's format checks its shape).

    An offset can carry a calendar instant out of ``datetime``'s years 1 to 9999
    (``9999-12-31T23:30:00-23:59`` is in year 10000 in UTC); such an instant is refused
    here, with ValueError, rather than overflowing later in arithmetic.
    """
    instant = datetime.fromisoformat(value.upper())
    try:
        instant.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value} is outside the years 1 to 9999 in UTC") from None
    return instant


def utc_text(instant: datetime) -> str:
    """YYYY-MM-DDTHH:MM:SSZ (isoformat pads years below 1000; strftime does not)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.isoformat(timespec="seconds")[:-6] + "Z"  # "+00:00" off
