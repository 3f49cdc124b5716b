"""Booking storage: one small interface, chosen once at start-up."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Invitee:
    name: str
    email: str
    timezone: str
    phone: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Booking:
    id: str
    host_slug: str
    event_slug: str
    event_type_id: str
    status: str
    start: datetime
    end: datetime
    # The span the host is busy: the slot plus the event type's buffers.
    busy_start: datetime
    busy_end: datetime
    invitee: Invitee
    location_type: str
    location_value: str
    created_at: datetime
    custom_fields: dict[str, str] = field(default_factory=dict)
    notes: str | None = None
    source: str | None = None

    def overlaps(self, busy_start: datetime, busy_end: datetime) -> bool:
        return self.busy_start < busy_end and busy_start < self.busy_end


class DuplicateBookingId(Exception):
    """Another process already stored a booking with this id (the same --seed twice)."""


class BookingStore(Protocol):
    async def add_if_free(self, booking: Booking) -> bool:
        """Store booking unless the host is busy during its span; atomic per host."""
        ...

    async def is_busy(self, host_slug: str, busy_start: datetime, busy_end: datetime) -> bool:
        """True when a stored booking of the host overlaps the span; a read, not a hold."""
        ...

    async def list(self, host_slug: str | None = None) -> list[Booking]:
        """The stored bookings, of one host or of all, by start; one host's reads only its own."""
        ...

    async def busy_spans(
        self, host_slug: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The host's busy spans that overlap [start, end), by start; reads that host only."""
        ...

    async def count(self) -> int:
        """How many bookings are stored, without reading them."""
        ...

    async def get(self, booking_id: str) -> Booking | None: ...

    async def delete(self, booking_id: str) -> bool: ...

    async def clear(self) -> None: ...

    async def ping(self) -> bool:
        """True when the storage answers."""
        ...


class MemoryBookingStore:
    """Bookings in a dict per host, with the host's busy spans in start order.

    A host's stored spans never overlap (each was checked on the way in), so they are
    ordered by end as well as by start: one bisection finds the only span that could
    overlap a new one, however many bookings the host has. ``add_if_free`` does its
    check and its insert without yielding to the event loop, so on one event loop no
    other request can slip in between.
    """

    def __init__(self) -> None:
        self._by_host: dict[str, dict[str, Booking]] = {}
        self._spans: dict[str, list[tuple[datetime, datetime, str]]] = {}
        self._host_of: dict[str, str] = {}

    def _free_at(
        self, spans: list[tuple[datetime, datetime, str]], start: datetime, end: datetime
    ) -> int | None:
        """Where a span [start, end) goes in the host's spans, or None when it overlaps one."""
        # The first span starting at or after the new span's end; the one before it is
        # the latest-ending span that starts earlier.
        index = bisect.bisect_left(spans, (end,))
        if index and spans[index - 1][1] > start:
            return None
        return index

    async def is_busy(self, host_slug: str, busy_start: datetime, busy_end: datetime) -> bool:
        return self._free_at(self._spans.get(host_slug, []), busy_start, busy_end) is None

    async def add_if_free(self, booking: Booking) -> bool:
        spans = self._spans.setdefault(booking.host_slug, [])
        index = self._free_at(spans, booking.busy_start, booking.busy_end)
        if index is None:
            return False
        spans.insert(index, (booking.busy_start, booking.busy_end, booking.id))
        self._by_host.setdefault(booking.host_slug, {})[booking.id] = booking
        self._host_of[booking.id] = booking.host_slug
        return True

    async def list(self, host_slug: str | None = None) -> list[Booking]:
        if host_slug is not None:
            out = list(self._by_host.get(host_slug, {}).values())
        else:
            out = [b for bookings in self._by_host.values() for b in bookings.values()]
        return sorted(out, key=lambda b: (b.start, b.id))

    async def busy_spans(
        self, host_slug: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        spans = self._spans.get(host_slug, [])
        # Ordered by start and by end alike (they never overlap): from the first that ends
        # after start, up to the first that starts at or after end.
        first = bisect.bisect_left(spans, (start,))
        if first and spans[first - 1][1] > start:
            first -= 1
        last = bisect.bisect_left(spans, (end,), first)
        return [(span[0], span[1]) for span in spans[first:last]]

    async def count(self) -> int:
        return len(self._host_of)

    async def get(self, booking_id: str) -> Booking | None:
        host = self._host_of.get(booking_id)
        return self._by_host[host].get(booking_id) if host else None

    async def delete(self, booking_id: str) -> bool:
        host = self._host_of.pop(booking_id, None)
        if host is None:
            return False
        booking = self._by_host[host].pop(booking_id)
        self._spans[host].remove((booking.busy_start, booking.busy_end, booking.id))
        return True

    async def clear(self) -> None:
        self._by_host.clear()
        self._spans.clear()
        self._host_of.clear()

    async def ping(self) -> bool:
        return True
