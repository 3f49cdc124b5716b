"""The book endpoint's wire format: the camelCase JSON of the spec to domain objects and back."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from ..domain.booking import BookingRequest
from ..domain.instants import parse_instant, utc_text
from ..domain.store import Booking, Invitee


def booking_request(body: dict[str, Any]) -> BookingRequest:
    """A body the spec's schema accepted, as the domain reads it."""
    return BookingRequest(
        start=parse_instant(body["startTime"]).astimezone(UTC),
        end=parse_instant(body["endTime"]).astimezone(UTC),
        invitee=Invitee(
            name=body["inviteeName"],
            email=body["inviteeEmail"],
            timezone=body["inviteeTimezone"],
            phone=body.get("inviteePhone"),
            locale=body.get("inviteeLocale"),
        ),
        custom_fields=body.get("customFields") or {},
        notes=body.get("inviteeNotes"),
        source=body.get("source"),
        honeypot=body.get("honeypotValue") or "",
        captcha_token=body.get("captchaToken"),
    )


def booking_json(booking: Booking) -> dict[str, Any]:
    """The booking as the API returns it."""
    invitee: dict[str, Any] = {"name": booking.invitee.name, "email": booking.invitee.email}
    if booking.invitee.phone is not None:
        invitee["phone"] = booking.invitee.phone
    invitee["timezone"] = booking.invitee.timezone
    return {
        "id": booking.id,
        "eventTypeId": booking.event_type_id,
        "status": booking.status,
        "startTime": utc_text(booking.start),
        "endTime": utc_text(booking.end),
        "invitee": invitee,
        "location": {"type": booking.location_type, "value": booking.location_value},
        "createdAt": utc_text(booking.created_at),
    }
