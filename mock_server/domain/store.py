"""Booking storage: one small interface, chosen once at start-up."""

from __future__ import annotations

import bisect
import json
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..encoding import json_bytes


# Not frozen: a frozen dataclass sets each field through object.__setattr__, four times
# slower, and one is built for every request. Nothing changes one once built.
@dataclass(slots=True)
class Invitee:
    name: str
    email: str
    timezone: str
    phone: str | None = None
    locale: str | None = None


# Not frozen: a frozen dataclass sets each field through object.__setattr__, four times
# slower, and one is built for every request. Nothing changes one once built.
@dataclass(slots=True)
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(instant: datetime) -> int:
    """An instant as whole microseconds since 1970, exactly (float seconds lose them)."""
    # Not `// _MICROSECOND`: dividing timedeltas goes through big-integer division.
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def pack(booking: Booking, busy: tuple[int, int] | None = None) -> bytes:
    """A booking as one compact bytes object: a JSON array, instants in microseconds.

    ``busy``: the busy span in microseconds, when the caller has it already."""
    invitee = booking.invitee
    busy_start, busy_end = busy or (_micros(booking.busy_start), _micros(booking.busy_end))
    fields = [
        booking.id,
        booking.host_slug,
        booking.event_slug,
        booking.event_type_id,
        booking.status,
        _micros(booking.start),
        _micros(booking.end),
        busy_start,
        busy_end,
        invitee.name,
        invitee.email,
        invitee.timezone,
        invitee.phone,
        invitee.locale,
        booking.location_type,
        booking.location_value,
        _micros(booking.created_at),
        booking.custom_fields,
        booking.notes,
        booking.source,
    ]
    # A copy of exactly its length: orjson's buffer is at least 4 KiB, kept whole otherwise.
    return memoryview(json_bytes(fields)).tobytes()


def unpack(packed: bytes) -> Booking:
    (id_, host, event, event_type_id, status, start, end, busy_start, busy_end) = (
        fields := json.loads(packed)  # not orjson's: it refuses an escaped lone surrogate
    )[:9]
    name, email, timezone, phone, locale, kind, value, created, custom, notes, source = fields[9:]
    return Booking(
        id=id_,
        host_slug=host,
        event_slug=event,
        event_type_id=event_type_id,
        status=status,
        start=_instant(start),
        end=_instant(end),
        busy_start=_instant(busy_start),
        busy_end=_instant(busy_end),
        invitee=Invitee(name, email, timezone, phone, locale),
        location_type=kind,
        location_value=value,
        created_at=_instant(created),
        custom_fields=custom,
        notes=notes,
        source=source,
    )


class _HostSpans:
    """One host's busy spans in start order, as microseconds, and its bookings' ids.

    No list: a list is a container the collector walks element by element, and a million
    ids in lists made every full collection 10 ms longer. Arrays of integers and a dict
    of strings to integers are walked in no time (the dict is not tracked at all).
    """

    __slots__ = ("ends", "start_of", "starts")

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")
        self.start_of: dict[str, int] = {}  # booking id -> its span's start

    def free_at(self, start: int, end: int) -> int | None:
        """Where a span [start, end) goes, or None when it overlaps a stored one."""
        # The first span starting at or after the new span's end; the one before it is
        # the latest-ending span that starts earlier.
        index = bisect.bisect_left(self.starts, end)
        if index and self.ends[index - 1] > start:
            return None
        return index

    def insert(self, index: int, start: int, end: int, booking_id: str) -> None:
        self.starts.insert(index, start)
        self.ends.insert(index, end)
        self.start_of[booking_id] = start

    def remove(self, booking_id: str) -> None:
        # Stored spans never overlap, so no two start together: the start finds the span.
        index = bisect.bisect_left(self.starts, self.start_of.pop(booking_id))
        del self.starts[index], self.ends[index]


class MemoryBookingStore:
    """Bookings packed into bytes, with each host's busy spans in start order.

    A host's stored spans never overlap (each was checked on the way in), so they are
    ordered by end as well as by start: one bisection finds the only span that could
    overlap a new one, however many bookings the host has. ``add_if_free`` does its
    check and its insert without yielding to the event loop, so on one event loop no
    other request can slip in between.

    The state is made of objects the garbage collector does not walk (bytes, arrays of
    integers, strings), so a million stored bookings add nothing to a collection's
    pause (mock_server.gc_tuning), and each costs a few hundred bytes.
    """

    def __init__(self) -> None:
        self._packed: dict[str, bytes] = {}
        self._hosts: dict[str, _HostSpans] = {}

    async def is_busy(self, host_slug: str, busy_start: datetime, busy_end: datetime) -> bool:
        spans = self._hosts.get(host_slug)
        return spans is not None and spans.free_at(_micros(busy_start), _micros(busy_end)) is None

    async def add_if_free(self, booking: Booking) -> bool:
        spans = self._hosts.get(booking.host_slug)
        if spans is None:
            spans = self._hosts[booking.host_slug] = _HostSpans()
        start, end = _micros(booking.busy_start), _micros(booking.busy_end)
        index = spans.free_at(start, end)
        if index is None:
            return False
        if booking.id in self._packed:
            raise DuplicateBookingId(booking.id)
        spans.insert(index, start, end, booking.id)
        self._packed[booking.id] = pack(booking, (start, end))
        return True

    async def list(self, host_slug: str | None = None) -> list[Booking]:
        if host_slug is not None:
            spans = self._hosts.get(host_slug)
            out = [unpack(self._packed[i]) for i in spans.start_of] if spans else []
        else:
            out = [unpack(packed) for packed in self._packed.values()]
        return sorted(out, key=lambda b: (b.start, b.id))

    async def busy_spans(
        self, host_slug: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        spans = self._hosts.get(host_slug)
        if spans is None:
            return []
        low, high = _micros(start), _micros(end)
        # Ordered by start and by end alike (they never overlap): from the first that ends
        # after start, up to the first that starts at or after end.
        first = bisect.bisect_left(spans.starts, low)
        if first and spans.ends[first - 1] > low:
            first -= 1
        last = bisect.bisect_left(spans.starts, high, first)
        return [(_instant(spans.starts[i]), _instant(spans.ends[i])) for i in range(first, last)]

    async def count(self) -> int:
        return len(self._packed)

    async def get(self, booking_id: str) -> Booking | None:
        packed = self._packed.get(booking_id)
        return unpack(packed) if packed is not None else None

    async def delete(self, booking_id: str) -> bool:
        packed = self._packed.pop(booking_id, None)
        if packed is None:
            return False
        self._hosts[unpack(packed).host_slug].remove(booking_id)
        return True

    async def clear(self) -> None:
        self._packed.clear()
        self._hosts.clear()

    async def ping(self) -> bool:
        return True
