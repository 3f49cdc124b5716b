"""Booking requests the suite sends: valid ones for a slot, with whatever the test changes."""

from __future__ import annotations

import itertools
from typing import Any

from .profile import EventType, Profile
from .slots import Slot, utc_text

_counter = itertools.count(1)

# A value in place of a field's that removes it from the body.
OMIT = object()


def invitee_email() -> str:
    """A fresh address per request, so two bookings are told apart in the target's records."""
    return f"contract-test-{next(_counter)}@example.com"


def booking_body(
    profile: Profile, event_type: EventType, slot: Slot, **changes: Any
) -> dict[str, Any]:
    """A request every correct target accepts for a free slot, with changes applied.

    It carries every optional field, so a response that drops or alters one shows.
    """
    body: dict[str, Any] = {
        "startTime": utc_text(slot.start),
        "endTime": utc_text(slot.end),
        "inviteeName": "Alex Contract",
        "inviteeEmail": invitee_email(),
        "inviteePhone": "+1-555-0123",
        "inviteeTimezone": "America/New_York",
        "inviteeLocale": "en",
        "customFields": {key: "Acme Inc." for key in event_type.required_fields},
        "inviteeNotes": "Sent by the booking API contract suite.",
        "source": "API",
        "honeypotValue": "",
    }
    if event_type.captcha and profile.captcha is not None:
        body["captchaToken"] = profile.captcha.passing_token
    body.update(changes)
    return {key: value for key, value in body.items() if value is not OMIT}
