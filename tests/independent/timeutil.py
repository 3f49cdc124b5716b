"""Instants as exact Fractions of seconds since the Unix epoch, RFC 3339 in and UTC out."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

Instant = Fraction

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST = (date(1, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86400  # 0001-01-01T00:00:00Z
_AFTER_LAST = (date(9999, 12, 31).toordinal() + 1 - _EPOCH_ORDINAL) * 86400  # 10000-01-01

# RFC 3339 section 5.6, with an offset required; ASCII digits only ("\d" would take others).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(text: str) -> Instant | None:
    """The instant ``text`` names, or None when it is not an RFC 3339 date-time with an
    offset, names no real date, or the instant falls outside the years 1 to 9999 in UTC."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_hours, off_minutes = match.groups()[6:]
    if hour > 23 or minute > 59 or second > 59:  # a leap second (:60) names no bookable instant
        return None
    try:
        ordinal = date(year, month, day).toordinal()
    except ValueError:
        return None
    offset = 0
    if not zulu:
        if int(off_hours) > 23 or int(off_minutes) > 59:
            return None
        offset = (int(off_hours) * 3600 + int(off_minutes) * 60) * (1 if sign == "+" else -1)
    seconds = (ordinal - _EPOCH_ORDINAL) * 86400 + hour * 3600 + minute * 60 + second - offset
    instant = Fraction(seconds)
    if fraction:
        instant += Fraction(int(fraction), 10 ** len(fraction))
    if not _FIRST <= instant < _AFTER_LAST:
        return None
    return instant


def from_datetime(moment: datetime) -> Instant:
    return Fraction((moment - _EPOCH) // timedelta(microseconds=1), 1_000_000)


def now() -> Instant:
    """The server's real now."""
    return from_datetime(datetime.now(UTC))


def to_datetime(instant: Instant, zone: ZoneInfo | None = None) -> datetime:
    """The instant, truncated to whole seconds, as an aware datetime (UTC unless ``zone``)."""
    moment = _EPOCH + timedelta(seconds=math.floor(instant))
    return moment.astimezone(zone) if zone is not None else moment


def format_utc(instant: Instant) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``."""
    m = to_datetime(instant)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def local_instant(day: date, minutes: int, zone: ZoneInfo) -> Instant:
    """The instant of wall-clock ``minutes`` after midnight of ``day`` in ``zone``.

    Python's aware arithmetic is wall-clock arithmetic, so 24:00 is the next midnight
    and the zone's offset on that date (summer or winter time) applies.
    """
    wall = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)
    return Fraction((wall - _EPOCH) // timedelta(seconds=1))
