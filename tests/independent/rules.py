"""Rules 2 and 4 to 10: the lookup, the booking checks in order, and the atomic store."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import timeutil
from .dataset import EventType, Host
from .timeutil import Instant
from .validation import ApiError, BookingRequest, bad

SLOT_TAKEN = "The selected time slot is no longer available."
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class StoredBooking:
    id: str
    host: str
    event_type_id: str
    status: str
    start: Instant
    end: Instant
    blocked_from: Instant  # start minus the event type's buffer before
    blocked_until: Instant  # end plus its buffer after
    response: dict[str, Any]


def _random(alphabet: str, count: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


def location_value(host: Host, event: EventType) -> str:
    if event.location_type == "GoogleMeet":
        letters = string.ascii_lowercase
        return (
            f"https://meet.google.com/{_random(letters, 3)}-{_random(letters, 4)}"
            f"-{_random(letters, 3)}"
        )
    if event.location_type == "Zoom":
        return f"https://us02web.zoom.us/j/{_random('123456789', 1)}{_random(string.digits, 10)}"
    if event.location_type == "Phone":
        return host.phone or ""
    return event.location_address or ""


def _windows(host: Host, first: Instant, last: Instant) -> list[tuple[Instant, Instant]]:
    """The host's availability windows, as instants, on the local dates around [first, last]."""
    day = timeutil.to_datetime(first, host.zone).date() - timedelta(days=1)
    final = timeutil.to_datetime(last, host.zone).date() + timedelta(days=1)
    windows = []
    while day <= final:
        for start, end in host.availability.get(day.weekday(), ()):
            windows.append(
                (
                    timeutil.local_instant(day, start, host.zone),
                    timeutil.local_instant(day, end, host.zone),
                )
            )
        day += timedelta(days=1)
    return sorted(windows)


def within_availability(host: Host, event: EventType, start: Instant, end: Instant) -> bool:
    """On the slot grid of the window it starts in, and wholly inside the availability."""
    windows = _windows(host, start, end)
    step = event.slot_interval_minutes * 60
    if not any(a <= start < b and (start - a) % step == 0 for a, b in windows):
        return False
    merged: list[list[Instant]] = []
    for a, b in windows:  # abutting or overlapping windows form one stretch
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return any(a <= start and end <= b for a, b in merged)


class Bookings:
    """In-memory bookings, and the checks of rules 4 to 10 against them."""

    def __init__(
        self,
        hosts: dict[str, Host],
        clock: Callable[[], Instant] = timeutil.now,
        manage_base: str = "https://bookings.example.invalid/manage/",
    ) -> None:
        self.hosts = hosts
        self.clock = clock
        self.manage_base = manage_base
        self.stored: dict[str, list[StoredBooking]] = {slug: [] for slug in hosts}

    def lookup(self, user_slug: str, event_slug: str) -> tuple[Host, EventType]:
        """Rule 2."""
        host = self.hosts.get(user_slug)
        if host is None:
            raise ApiError(404, "There is no host with that user slug.")
        event = host.event_types.get(event_slug)
        if event is None:
            raise ApiError(404, "That host offers no event type with that slug.")
        return host, event

    def book(self, host: Host, event: EventType, request: BookingRequest) -> dict[str, Any]:
        """Rules 4 to 10. Synchronous from check to insert, so atomic on one event loop."""
        if request.honeypot:
            raise bad("This booking request was not accepted.")

        if event.captcha:
            token = request.captcha_token
            if not token:
                raise bad("This event type wants a captchaToken from the CAPTCHA widget.")
            if token.startswith("invalid"):
                raise bad("The CAPTCHA verifier did not accept that token.")

        duration = event.duration_minutes * 60
        if request.end <= request.start or request.end - request.start != duration:
            raise bad(
                f"endTime has to be {event.duration_minutes} minutes after startTime "
                "for this event type."
            )

        now = self.clock()
        if request.start < now + event.minimum_notice_minutes * 60:
            raise bad(f"Bookings need {event.minimum_notice_minutes} minutes' notice.")
        if request.start > now + event.booking_horizon_days * 86400:
            raise bad(f"Bookings open at most {event.booking_horizon_days} days ahead.")

        if not within_availability(host, event, request.start, request.end):
            raise bad(SLOT_TAKEN)
        blocked_from = request.start - event.buffer_before_minutes * 60
        blocked_until = request.end + event.buffer_after_minutes * 60
        for other in self.stored[host.slug]:
            if blocked_from < other.blocked_until and other.blocked_from < blocked_until:
                raise bad(SLOT_TAKEN)

        for key in event.required_fields:
            if request.custom_fields.get(key, "") == "":  # white space alone is an answer here
                raise bad(f"The booking form's field {key!r} needs an answer.")

        booking_id = "bkg_" + _random(_ALNUM, 16)
        status = "PendingApproval" if event.requires_approval else "Confirmed"
        invitee = {"name": request.name, "email": request.email}
        if request.phone is not None:
            invitee["phone"] = request.phone
        invitee["timezone"] = request.timezone
        response = {
            "id": booking_id,
            "eventTypeId": event.id,
            "status": status,
            "startTime": timeutil.format_utc(request.start),
            "endTime": timeutil.format_utc(request.end),
            "invitee": invitee,
            "location": {"type": event.location_type, "value": location_value(host, event)},
            "createdAt": timeutil.format_utc(now),
            "manageUrl": self.manage_base + booking_id,  # beyond the documented fields
        }
        self.stored[host.slug].append(
            StoredBooking(
                id=booking_id,
                host=host.slug,
                event_type_id=event.id,
                status=status,
                start=request.start,
                end=request.end,
                blocked_from=blocked_from,
                blocked_until=blocked_until,
                response=response,
            )
        )
        return response
