"""Booking stores that forget one part of rule 8 or 10, for `Settings(store=...)`.

`BrokenStore` implements mock_server's `BookingStore` protocol over a list, slowly and
plainly, and breaks it in the one way its ``fault`` names (one of `STORE_FAULTS`). The
races are real: the check and the insert are apart by ``pause`` seconds, a database's
round trip, during which the event loop serves other requests. The pause ends early once a
rival (a request for an overlapping span of the same host, which the fault lets through)
has made its own check: both then insert, so a burst races on a loaded machine too,
however far apart its requests arrive within ``pause``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from mock_server.domain import Booking

STORE_FAULTS = {
    "double booking": "nothing blocks a booking",
    "same event type only": "a booking blocks its own event type only, not the host",
    "pending does not block": "PendingApproval bookings do not block",
    "touching spans overlap": "spans that only touch (back to back) count as overlapping",
    "only the same start blocks": "a booking blocks only a request with its start",
    "only a booking containing the new start blocks": "an overlap is checked at the start alone",
    "custom fields before the overlap": "is_busy always says free, so rule 9 answers for a taken"
    " slot (the order of the issue-10 bug)",
    "atomic per event type only": "one lock per event type: a burst across two event types of"
    " a host races, one on a single event type does not",
    "not atomic": "check, pause, then insert, without a lock: a burst for one slot races",
}


@dataclass
class _Check:
    """A request that found its span free and is in its round trip before inserting."""

    booking: Booking
    rival_seen: asyncio.Event = field(default_factory=asyncio.Event)


class BrokenStore:
    """The BookingStore interface over a list, with one fault in its overlap rule or lock."""

    def __init__(self, fault: str, *, pause: float = 0.05) -> None:
        if fault not in STORE_FAULTS:
            raise ValueError(f"no such store fault: {fault!r}; see STORE_FAULTS")
        self.fault = fault
        self.pause = pause
        self.bookings: list[Booking] = []
        self.locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.checks: list[_Check] = []

    def _overlap(self, b: Booking, start: datetime, end: datetime) -> bool:
        if self.fault == "touching spans overlap":
            return b.busy_start <= end and start <= b.busy_end
        if self.fault == "only the same start blocks":
            return b.busy_start == start
        if self.fault == "only a booking containing the new start blocks":
            return b.busy_start <= start < b.busy_end
        return b.overlaps(start, end)

    def _clashes(self, booking: Booking) -> bool:
        others = [b for b in self.bookings if b.host_slug == booking.host_slug]
        if self.fault == "double booking":
            others = []
        elif self.fault == "same event type only":
            others = [b for b in others if b.event_slug == booking.event_slug]
        elif self.fault == "pending does not block":
            others = [b for b in others if b.status != "PendingApproval"]
        return any(self._overlap(b, booking.busy_start, booking.busy_end) for b in others)

    async def is_busy(self, host_slug: str, busy_start: datetime, busy_end: datetime) -> bool:
        if self.fault == "custom fields before the overlap":
            return False
        return any(
            b.host_slug == host_slug and self._overlap(b, busy_start, busy_end)
            for b in self.bookings
        )

    async def add_if_free(self, booking: Booking) -> bool:
        if self.fault == "atomic per event type only":
            async with self.locks[(booking.host_slug, booking.event_slug)]:
                clash = self._clashes(booking)
                await self._round_trip(booking, clash)
                return self._insert(booking, clash)
        clash = self._clashes(booking)
        if self.fault == "not atomic":
            await self._round_trip(booking, clash)
        return self._insert(booking, clash)

    def _rivals(self, one: Booking, other: Booking) -> bool:
        """Whether the fault lets both through: same host, overlapping spans (and, for the
        per-event-type lock, another event type, since one event type is serialised)."""
        if one.host_slug != other.host_slug or not one.overlaps(other.busy_start, other.busy_end):
            return False
        return self.fault != "atomic per event type only" or one.event_slug != other.event_slug

    async def _round_trip(self, booking: Booking, clash: bool) -> None:
        """Up to ``pause`` between the check and the insert, cut short by a rival's check."""
        if clash:
            return
        mine = _Check(booking)
        for other in self.checks:
            if self._rivals(booking, other.booking):
                other.rival_seen.set()
                mine.rival_seen.set()
        self.checks.append(mine)
        try:
            async with asyncio.timeout(self.pause):
                await mine.rival_seen.wait()
        except TimeoutError:
            pass
        finally:
            self.checks.remove(mine)

    def _insert(self, booking: Booking, clash: bool) -> bool:
        if clash:
            return False
        self.bookings.append(booking)
        return True

    async def list(self, host_slug: str | None = None) -> list[Booking]:
        mine = [b for b in self.bookings if host_slug is None or b.host_slug == host_slug]
        return sorted(mine, key=lambda b: (b.start, b.id))

    async def busy_spans(
        self, host_slug: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        return sorted(
            (b.busy_start, b.busy_end)
            for b in self.bookings
            if b.host_slug == host_slug and b.overlaps(start, end)
        )

    async def count(self) -> int:
        return len(self.bookings)

    async def get(self, booking_id: str) -> Booking | None:
        return next((b for b in self.bookings if b.id == booking_id), None)

    async def delete(self, booking_id: str) -> bool:
        before = len(self.bookings)
        self.bookings = [b for b in self.bookings if b.id != booking_id]
        return len(self.bookings) < before

    async def clear(self) -> None:
        self.bookings.clear()

    async def ping(self) -> bool:
        return True
