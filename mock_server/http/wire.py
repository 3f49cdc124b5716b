"""The book endpoint's wire format: the camelCase JSON of the spec to domain objects and back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from ..domain.booking import BookingRequest
from ..domain.instants import parse_instant, utc_text
from ..domain.store import Booking, Invitee
from ..encoding import json_bytes


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


def booking_json(booking: Booking, instant: Callable[[datetime], Any] = utc_text) -> dict[str, Any]:
    """The booking as the API returns it; ``instant`` writes its times."""
    invitee: dict[str, Any] = {"name": booking.invitee.name, "email": booking.invitee.email}
    if booking.invitee.phone is not None:
        invitee["phone"] = booking.invitee.phone
    invitee["timezone"] = booking.invitee.timezone
    return {
        "id": booking.id,
        "eventTypeId": booking.event_type_id,
        "status": booking.status,
        "startTime": instant(booking.start),
        "endTime": instant(booking.end),
        "invitee": invitee,
        "location": {"type": booking.location_type, "value": booking.location_value},
        "createdAt": instant(booking.created_at),
    }


def _in_utc(instant: datetime) -> datetime:
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


_INSTANTS_AS_UTC_TEXT = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


def booking_bytes(booking: Booking) -> bytes:
    """``booking_json`` as JSON, its times written by orjson itself, as ``utc_text`` writes
    them (YYYY-MM-DDTHH:MM:SSZ): three ``isoformat`` calls and their strings fewer."""
    try:
        return orjson.dumps(booking_json(booking, _in_utc), option=_INSTANTS_AS_UTC_TEXT)
    except TypeError:  # what orjson refuses, json_bytes encodes
        return json_bytes(booking_json(booking))
