"""Slot rules: the weekly availability of a host and the slot grid of an event type.

Everything here is pure: instants are aware datetimes, and local wall times are
turned into instants with the host's zone on the day in question, so a 09:00
window stays at 09:00 local across DST changes.

Every function is total over ``datetime``'s calendar (years 1 to 9999): arithmetic
that would leave it saturates at the edge, and a window or a local day that cannot be
represented there (23:00 in New York on 9999-12-31 is in year 10000 in UTC) does not
exist, so no clock setting or instant near the edges can raise OverflowError.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from .dataset import EventType, Host

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
_ZERO = timedelta(0)
_DAY = timedelta(days=1)


# An event type's minutes and days, as timedeltas: a booking reads six of them, and
# timedelta(minutes=n) parses its keyword arguments each time (half a microsecond).
@lru_cache(maxsize=1024)
def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


@lru_cache(maxsize=1024)
def days(count: int) -> timedelta:
    return timedelta(days=count)


def shift(instant: datetime, delta: timedelta) -> datetime:
    """``instant + delta``, held at the first or last representable instant."""
    try:
        return instant + delta
    except OverflowError:
        return LATEST if delta > _ZERO else EARLIEST


def next_day(day: date) -> date | None:
    """The following date, or None after 9999-12-31."""
    return None if day == date.max else day + _DAY


# (id of the weekly windows, id of the zone, local date) -> (the windows, the zone, the
# day's windows in UTC). An entry holds the objects whose ids make its key, so no other
# object can take those ids while it lives: a reloaded dataset makes keys of its own.
_DAYS: dict[
    tuple[int, int, date], tuple[object, object, tuple[tuple[datetime, datetime], ...]]
] = {}
DAYS_KEPT = 16_384  # hosts times days of a load test; the cache starts over beyond


def windows_on(host: Host, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The host's availability windows on a local date, as UTC instants.

    Remembered per host and day: two zone conversions per window were a booking's
    most expensive arithmetic, and a load test books the same days over and over.
    """
    key = (id(host.weekly), id(host.timezone), day)
    kept = _DAYS.get(key)
    if kept is not None:
        return kept[2]
    windows = tuple(_windows_on(host, day))
    if len(_DAYS) >= DAYS_KEPT:
        _DAYS.clear()
    _DAYS[key] = (host.weekly, host.timezone, windows)
    return windows


def days_remembered() -> int:
    """How many host days ``windows_on`` keeps now (at most DAYS_KEPT)."""
    return len(_DAYS)


def _windows_on(host: Host, day: date) -> list[tuple[datetime, datetime]]:
    out = []
    for window in host.weekly[day.weekday()]:
        start = datetime.combine(day, window.start, host.timezone)
        following = next_day(day)
        if window.end is not None:
            end = datetime.combine(day, window.end, host.timezone)
        elif following is not None:
            end = datetime.combine(following, time(0), host.timezone)
        else:
            continue
        try:
            out.append((start.astimezone(UTC), end.astimezone(UTC)))
        except OverflowError:
            continue  # outside the calendar in UTC
    return out


def duration(event_type: EventType) -> timedelta:
    return minutes(event_type.duration_minutes)


def is_on_grid_and_available(
    host: Host, event_type: EventType, start: datetime, end: datetime
) -> bool:
    """True when [start, end) starts on the slot grid and lies inside one window."""
    interval = minutes(event_type.slot_interval_minutes)
    try:
        local_day = start.astimezone(host.timezone).date()
    except OverflowError:
        return False
    for window_start, window_end in windows_on(host, local_day):
        if window_start <= start and end <= window_end:
            return (start - window_start) % interval == _ZERO
    return False


def occupied(event_type: EventType, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The span a booking keeps the host busy: the slot plus its buffers."""
    return (
        shift(start, -minutes(event_type.buffer_before_minutes)),
        shift(end, minutes(event_type.buffer_after_minutes)),
    )


def within_bounds(event_type: EventType, start: datetime, now: datetime) -> bool:
    """The minimum notice and booking horizon rule."""
    return (
        earliest_start(event_type, now)
        <= start
        <= shift(now, days(event_type.booking_horizon_days))
    )


def earliest_start(event_type: EventType, now: datetime) -> datetime:
    """The minimum notice from now."""
    return shift(now, minutes(event_type.minimum_notice_minutes))


def grid_slots(
    host: Host, event_type: EventType, first_day: date, last_day: date
) -> Iterator[tuple[datetime, datetime]]:
    """Every slot of the grid inside the host's windows, local days first_day..last_day."""
    step = minutes(event_type.slot_interval_minutes)
    length = duration(event_type)
    day: date | None = first_day
    while day is not None and day <= last_day:
        for window_start, window_end in windows_on(host, day):
            start = window_start
            while shift(start, length) <= window_end and start < LATEST:
                yield start, start + length
                start = shift(start, step)
        day = next_day(day)
