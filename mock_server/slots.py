"""Slot rules: the weekly availability of a host and the slot grid of an event type.

Everything here is pure: instants are aware datetimes, and local wall times are
turned into instants with the host's zone on the day in question, so a 09:00
window stays at 09:00 local across DST changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from .dataset import EventType, Host


def windows_on(host: Host, day: date) -> list[tuple[datetime, datetime]]:
    """The host's availability windows on a local date, as UTC instants."""
    out = []
    for window in host.weekly[day.weekday()]:
        start = datetime.combine(day, window.start, host.timezone)
        if window.end is None:
            end = datetime.combine(day + timedelta(days=1), time(0), host.timezone)
        else:
            end = datetime.combine(day, window.end, host.timezone)
        out.append((start.astimezone(UTC), end.astimezone(UTC)))
    return out


def duration(event_type: EventType) -> timedelta:
    return timedelta(minutes=event_type.duration_minutes)


def is_on_grid_and_available(
    host: Host, event_type: EventType, start: datetime, end: datetime
) -> bool:
    """True when [start, end) starts on the slot grid and lies inside one window."""
    interval = timedelta(minutes=event_type.slot_interval_minutes)
    local_day = start.astimezone(host.timezone).date()
    for window_start, window_end in windows_on(host, local_day):
        if window_start <= start and end <= window_end:
            return (start - window_start) % interval == timedelta(0)
    return False


def occupied(event_type: EventType, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The span a booking keeps the host busy: the slot plus its buffers."""
    return (
        start - timedelta(minutes=event_type.buffer_before_minutes),
        end + timedelta(minutes=event_type.buffer_after_minutes),
    )


def within_bounds(event_type: EventType, start: datetime, now: datetime) -> bool:
    """The minimum notice and booking horizon rule."""
    earliest = now + timedelta(minutes=event_type.minimum_notice_minutes)
    latest = now + timedelta(days=event_type.booking_horizon_days)
    return earliest <= start <= latest


def grid_slots(
    host: Host, event_type: EventType, first_day: date, last_day: date
) -> Iterator[tuple[datetime, datetime]]:
    """Every slot of the grid inside the host's windows, local days first_day..last_day."""
    step = timedelta(minutes=event_type.slot_interval_minutes)
    length = duration(event_type)
    day = first_day
    while day <= last_day:
        for window_start, window_end in windows_on(host, day):
            start = window_start
            while start + length <= window_end:
                yield start, start + length
                start += step
        day += timedelta(days=1)
