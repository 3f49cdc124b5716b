"""Slots from the profile and the clock: bookable ones, deliberately wrong ones, and a ledger.

The suite repeats the reference's slot arithmetic (the grid, the weekly availability,
the notice and horizon, buffers, DST) on purpose: it is the oracle a target is judged
by, so it is written from PRODUCT.md and the profile alone and imports nothing from
``mock_server``. Were it shared, a mistake in it would pass the reference and every
server built on it. tests/contract_tests/test_independence.py holds every module of
the suite to that.

Everything here is pure arithmetic on the profile, independent of any server:
local wall times become instants with the host's zone on the day in question,
so a 09:00 window stays at 09:00 local across DST changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .profile import EventType, Host

# Rule 8's answer for a slot the target does not offer: the one error message the contract fixes.
SLOT_TAKEN = "The selected time slot is no longer available."
# Room between the suite's clock and the target's: a slot this close to a bound
# could fall on either side of it by the time the request arrives.
CLOCK_MARGIN = timedelta(minutes=3)


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime

    def shifted(self, delta: timedelta) -> Slot:
        return Slot(self.start + delta, self.end + delta)

    def __str__(self) -> str:
        return f"{utc_text(self.start)}..{utc_text(self.end)}"


def utc_text(instant: datetime, *, browser: bool = False) -> str:
    """RFC 3339 in UTC; ``browser`` adds milliseconds, as ``Date.toISOString()`` does."""
    instant = instant.astimezone(UTC)
    if browser:
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


_clock: Callable[[], datetime] | None = None


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """Reckon now by the target's clock (TargetClock.now) for this run; None: this machine's."""
    global _clock
    _clock = clock


def now() -> datetime:
    """The target's now as the suite reckons it."""
    return _clock() if _clock is not None else datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with an offset (Z or +HH:MM), as UTC."""
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return instant.astimezone(UTC)


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


def local_day(host: Host, instant: datetime) -> date:
    return instant.astimezone(host.timezone).date()


def grid(host: Host, event_type: EventType, first_day: date, last_day: date) -> Iterator[Slot]:
    """Every slot of the grid inside the host's windows, local days first_day..last_day."""
    day = first_day
    while day <= last_day:
        for window_start, window_end in windows_on(host, day):
            start = window_start
            while start + event_type.duration <= window_end:
                yield Slot(start, start + event_type.duration)
                start += event_type.slot_interval
        day += timedelta(days=1)


def grid_before(
    host: Host, event_type: EventType, first_day: date, last_day: date
) -> Iterator[Slot]:
    """The grid of grid(), latest slot first."""
    day = last_day
    while day >= first_day:
        yield from reversed(list(grid(host, event_type, day, day)))
        day -= timedelta(days=1)


def bookable_bounds(
    event_type: EventType, at: datetime, *, margin: timedelta = CLOCK_MARGIN
) -> tuple[datetime, datetime]:
    """The earliest and latest start the target must accept at `at`, with a margin either side."""
    return (
        at + event_type.minimum_notice + margin,
        at + event_type.booking_horizon - margin,
    )


def bookable(host: Host, event_type: EventType, at: datetime | None = None) -> Iterator[Slot]:
    """Slots the target must accept (unless taken), nearest first."""
    at = at or now()
    earliest, latest = bookable_bounds(event_type, at)
    for slot in grid(host, event_type, local_day(host, earliest), local_day(host, latest)):
        if earliest <= slot.start <= latest:
            yield slot


def bookable_latest_first(
    host: Host, event_type: EventType, at: datetime | None = None
) -> Iterator[Slot]:
    """Slots the target must accept (unless taken), nearest to the booking horizon first."""
    at = at or now()
    earliest, latest = bookable_bounds(event_type, at)
    for slot in grid_before(host, event_type, local_day(host, earliest), local_day(host, latest)):
        if earliest <= slot.start <= latest:
            yield slot


def beyond_horizon(host: Host, event_type: EventType, at: datetime | None = None) -> Slot:
    """The nearest grid slot inside the host's availability past the booking horizon."""
    at = at or now()
    after = at + event_type.booking_horizon + CLOCK_MARGIN
    day = local_day(host, after)
    for slot in grid(host, event_type, day, day + timedelta(days=14)):
        if slot.start >= after:
            return slot
    raise LookupError(f"{host.slug} has no availability in the two weeks after {after}")


def inside_minimum_notice(event_type: EventType, at: datetime | None = None) -> Slot:
    """A slot starting halfway through the minimum notice (or right now when it is zero)."""
    at = (at or now()).replace(second=0, microsecond=0)
    start = at + event_type.minimum_notice / 2
    start = start.replace(second=0, microsecond=0)
    return Slot(start, start + event_type.duration)


def in_the_past(host: Host, event_type: EventType, at: datetime | None = None) -> Slot:
    """A grid slot inside the host's availability, at least a day ago."""
    at = at or now()
    before = at - timedelta(days=1)
    day = local_day(host, before)
    for slot in grid_before(host, event_type, day - timedelta(days=14), day):
        if slot.end <= before:
            return slot
    raise LookupError(f"{host.slug} had no availability in the two weeks before {before}")


def is_available(host: Host, slot: Slot) -> bool:
    """True when the slot lies wholly inside one of the host's windows."""
    for day in (local_day(host, slot.start) - timedelta(days=1), local_day(host, slot.start)):
        for window_start, window_end in windows_on(host, day):
            if window_start <= slot.start and slot.end <= window_end:
                return True
    return False


def is_on_grid(host: Host, event_type: EventType, slot: Slot) -> bool:
    for day in (local_day(host, slot.start) - timedelta(days=1), local_day(host, slot.start)):
        for window_start, window_end in windows_on(host, day):
            if window_start <= slot.start < window_end:
                return (slot.start - window_start) % event_type.slot_interval == timedelta(0)
    return False


def dst_changes(host: Host, first: datetime, last: datetime) -> list[datetime]:
    """Instants (to the hour) at which the host's UTC offset changes between first and last."""
    changes = []
    step = timedelta(hours=1)
    instant = first.replace(minute=0, second=0, microsecond=0)
    offset = instant.astimezone(host.timezone).utcoffset()
    while instant < last:
        instant += step
        current = instant.astimezone(host.timezone).utcoffset()
        if current != offset:
            changes.append(instant)
            offset = current
    return changes


def occupied(event_type: EventType, slot: Slot) -> tuple[datetime, datetime]:
    """The span a booking keeps the host busy: the slot plus its buffers."""
    return slot.start - event_type.buffer_before, slot.end + event_type.buffer_after


class SlotTakenUnexpectedly(AssertionError):
    """On a dedicated target, a slot this run never booked was refused as taken."""


class SlotLedger:
    """What the suite knows is busy at the target: slots it booked and slots found taken.

    Shared by every test of a run, so no test offers a slot another already used,
    and a slot found taken once is never tried again. On a ``dedicated`` target
    (nothing but this run books there) the ledger is authoritative: a slot it does
    not know to be busy is free, and the target refusing it as taken is rule 8
    broken, not "someone else's booking". On a shared target such slots are
    skipped, and ``unchecked`` counts them for the run's summary.
    """

    def __init__(self, *, dedicated: bool = False) -> None:
        self.dedicated = dedicated
        self._busy: dict[str, list[tuple[datetime, datetime]]] = {}
        self._lock = threading.Lock()
        self.booking_ids: list[str] = []
        self.unchecked = 0

    def is_free(self, event_type: EventType, slot: Slot) -> bool:
        start, end = occupied(event_type, slot)
        with self._lock:
            spans = self._busy.get(event_type.host_slug, [])
            return not any(s < end and start < e for s, e in spans)

    def mark_busy(self, event_type: EventType, slot: Slot) -> None:
        with self._lock:
            self._busy.setdefault(event_type.host_slug, []).append(occupied(event_type, slot))

    def mark_span_busy(self, host_slug: str, start: datetime, end: datetime) -> None:
        """A booking the run found at the target when it started (its busy span)."""
        with self._lock:
            self._busy.setdefault(host_slug, []).append((start, end))

    def found_taken(self, event_type: EventType, slot: Slot, why: str = "") -> None:
        """The target refused `slot` as taken. Raises on a dedicated target if it was free."""
        free = self.is_free(event_type, slot)
        self.mark_busy(event_type, slot)
        if not free:
            return
        if self.dedicated:
            raise SlotTakenUnexpectedly(
                f"Rule 8: {event_type.label} refused {slot} as taken ('The selected time slot"
                f" is no longer available.'), but this run never booked anything overlapping"
                f" it{why}, and the target is dedicated to the run. If something else books"
                f" on this target (an earlier run, a person), run with --shared-target."
            )
        with self._lock:
            self.unchecked += 1

    def record_booking(self, booking_id: str) -> None:
        with self._lock:
            self.booking_ids.append(booking_id)

    def free_slots(
        self, host: Host, event_type: EventType, *, latest_first: bool = False
    ) -> Iterator[Slot]:
        """Bookable slots not known to be busy, nearest (or latest) first."""
        candidates = (
            bookable_latest_first(host, event_type) if latest_first else bookable(host, event_type)
        )
        for slot in candidates:
            if self.is_free(event_type, slot):
                yield slot
