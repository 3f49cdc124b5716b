"""Handlers of the control API (openapi/admin.yaml): thin, over the same objects the API uses."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .domain.booking import BookingService
from .domain.clock import Clock
from .domain.instants import parse_instant, utc_text
from .errors import InternalError, InvalidRequest, NotFound, StorageUnavailable
from .http.arming import ArmedResponses
from .http.journal import Journal
from .http.wire import booking_json
from .ratelimit import RateLimiter

MAX_SLOT_RANGE_DAYS = 62
RESET_PARTS = ("bookings", "rateLimits", "journal", "clock", "armed")


def _local_today(now: datetime, zone: tzinfo) -> date:
    """Today in a zone, or the calendar's edge when that day is outside it."""
    try:
        return now.astimezone(zone).date()
    except OverflowError:
        return date.min if now.year == 1 else date.max


def _days_after(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def _instant_text(instant: datetime) -> str:
    """UTC with milliseconds when there are any: a float clock far out has noise below them."""
    millis = round(instant.microsecond / 1000)
    if millis in (0, 1000):
        return utc_text(instant + timedelta(milliseconds=millis))
    return utc_text(instant)[:-1] + f".{millis:03d}Z"


class AdminHandlers:
    """Operations of openapi/admin.yaml, by operationId in snake_case."""

    def __init__(
        self,
        service: BookingService,
        limiter: RateLimiter,
        journal: Journal,
        clock_start: datetime | None,
        clock_frozen: bool,
        storage_name: str,
        armed: ArmedResponses,
    ) -> None:
        self.service = service
        self.limiter = limiter
        self.journal = journal
        self.armed = armed
        self.clock_start = clock_start
        self.clock_frozen = clock_frozen
        self.storage_name = storage_name

    @property
    def clock(self) -> Clock:
        return self.service.clock

    async def reset_state(self, only: list[str] | None = None) -> dict[str, Any]:
        parts = only or list(RESET_PARTS)
        if "bookings" in parts:
            await self.service.store.clear()
        if "rateLimits" in parts:
            await self.limiter.reset()
        if "journal" in parts:
            self.journal.clear()
        if "clock" in parts:
            self.clock.reset()
            if self.clock_start is not None:
                self.clock.set(self.clock_start, frozen=self.clock_frozen)
        if "armed" in parts:
            self.armed.clear()
        return {"reset": [p for p in RESET_PARTS if p in parts]}

    async def list_bookings(
        self, host: str | None = None, event_type: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        out = []
        for booking in await self.service.store.list(host or None):
            if event_type and event_type not in (booking.event_slug, booking.event_type_id):
                continue
            if status and booking.status != status:
                continue
            public = booking_json(booking)
            public["invitee"].update(
                {"locale": booking.invitee.locale} if booking.invitee.locale else {}
            )
            out.append(
                {
                    **public,
                    "host": booking.host_slug,
                    "eventSlug": booking.event_slug,
                    "customFields": booking.custom_fields,
                    **({"notes": booking.notes} if booking.notes else {}),
                    **({"source": booking.source} if booking.source else {}),
                }
            )
        return {"bookings": out}

    async def cancel_booking(self, booking_id: str) -> tuple[None, int]:
        if not await self.service.store.delete(booking_id):
            raise NotFound(f"No booking {booking_id!r}.")
        return None, 204

    async def list_slots(
        self,
        user_slug: str,
        event_slug: str,
        from_: str | None = None,
        to: str | None = None,
        timezone: str | None = None,
    ) -> dict[str, Any]:
        host, event_type = self.service.find(user_slug, event_slug)
        zone = ZoneInfo(timezone) if timezone else host.timezone
        first = date.fromisoformat(from_) if from_ else _local_today(self.clock.now(), zone)
        last = date.fromisoformat(to) if to else _days_after(first, 6)
        if last < first or (last - first).days > MAX_SLOT_RANGE_DAYS:
            raise InvalidRequest(
                f"'to' must be on or after 'from' and at most {MAX_SLOT_RANGE_DAYS} days after it."
            )
        free = await self.service.free_slots(host, event_type, first, last, zone)
        return {
            "host": host.slug,
            "eventSlug": event_type.slug,
            "eventTypeId": event_type.id,
            "timezone": str(zone),
            "from": first.isoformat(),
            "to": last.isoformat(),
            "durationMinutes": event_type.duration_minutes,
            "slots": [
                {
                    "startTime": utc_text(start),
                    "endTime": utc_text(end),
                    "localStart": start.astimezone(zone).isoformat(),
                }
                for start, end in free
            ],
        }

    def _clock_json(self) -> dict[str, Any]:
        return {
            "now": _instant_text(self.clock.now()),
            "frozen": self.clock.frozen,
            "real": self.clock.real,
        }

    async def get_clock(self) -> dict[str, Any]:
        return self._clock_json()

    async def set_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        before = self.clock.state()
        try:
            if body.get("real"):
                self.clock.reset()
            if "now" in body:
                # Frozen in the same step: freezing afterwards would stop the clock a few
                # microseconds past the instant asked for.
                frozen = body.get("frozen") if "advanceSeconds" not in body else None
                self.clock.set(parse_instant(body["now"]), frozen=frozen)
            if "advanceSeconds" in body:
                self.clock.advance(timedelta(seconds=body["advanceSeconds"]))
            if body.get("frozen") is True:
                self.clock.freeze()
            elif body.get("frozen") is False:
                self.clock.unfreeze()
            return self._clock_json()
        except (OverflowError, ValueError, OSError):
            self.clock.restore(before)  # all of the change or none of it
            raise InvalidRequest("The clock would leave the years 1 to 9999.") from None

    async def list_requests(self, limit: int = 50) -> dict[str, Any]:
        return {"requests": self.journal.recent(limit)}

    async def health(self) -> dict[str, Any]:
        if not await self.service.store.ping():
            raise StorageUnavailable()
        return {
            "status": "ok",
            "bookings": await self.service.store.count(),
            "now": utc_text(self.clock.now()),
            "storage": self.storage_name,
        }

    async def list_hosts(self, limit: int = 100) -> dict[str, Any]:
        hosts = self.service.dataset.hosts
        return {
            "total": len(hosts),
            "hosts": [
                {
                    "slug": host.slug,
                    "name": host.name,
                    "timezone": str(host.timezone),
                    "eventTypes": [
                        {
                            "slug": event_type.slug,
                            "id": event_type.id,
                            "title": event_type.title,
                            "durationMinutes": event_type.duration_minutes,
                        }
                        for event_type in host.event_types.values()
                    ],
                }
                for host in itertools.islice(hosts.values(), limit)
            ],
        }

    async def list_armed(self) -> dict[str, Any]:
        return {"armed": [armed.json() for armed in self.armed.list()]}

    async def arm_response(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        armed = self.armed.arm(body.get("times", 1), body.get("match", {}), body["respond"])
        return armed.json(), 201

    async def clear_armed(self) -> dict[str, Any]:
        return {"cleared": self.armed.clear()}

    async def list_rate_limits(self) -> dict[str, Any]:
        clients = []
        for client, seen in self.limiter.recent_clients():
            quota = await self.limiter.peek(client)
            clients.append(
                {
                    "client": client,
                    "remaining": quota.remaining,
                    "resetSeconds": quota.reset_after,
                    "lastSeen": datetime.fromtimestamp(seen, UTC).isoformat(
                        timespec="milliseconds"
                    ),
                }
            )
        return {
            "limit": self.limiter.limit,
            "windowSeconds": self.limiter.window,
            "clients": clients,
        }

    @staticmethod
    async def dashboard() -> None:
        """Never called: mock_server.http.dashboard, ahead of Connexion, serves the page."""
        raise InternalError()

    @staticmethod
    async def stream_requests(**_: Any) -> None:
        """Never called: mock_server.http.dashboard, ahead of Connexion, streams the journal."""
        raise InternalError()
