"""The field limits of rule 3: every field's longest and shortest accepted values, and one past.

Each refused value is sent in an otherwise bookable request for a free slot, so
a target that lets it through books the slot and the test sees a 201.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .bodies import booking_body
from .slots import Slot, utc_text
from .suite import Suite
from .support import assert_refused_before_availability, plain

MAX_BODY = 64 * 1024


def longest_custom_fields() -> dict[str, str]:
    return {f"{index:02d}".ljust(100, "k"): "v" * 1000 for index in range(50)}


ACCEPTED: dict[str, dict[str, Any]] = {
    "longest values": {
        "inviteeName": "N" * 200,
        "inviteeEmail": "a" * 64 + "@" + ("d" * 60 + ".") * 3 + "d" * 5,
        "inviteePhone": "+" + "1 (555) 010-0000".ljust(31, "0"),
        "inviteeTimezone": "America/Argentina/Buenos_Aires",
        "inviteeLocale": "de-" + "-".join(["abcdefgh"] * 3) + "-abcde",
        "inviteeNotes": "n" * 5000,
        "source": "EmbedWidget",
    },
    "shortest values": {
        "inviteeName": "N",
        "inviteeEmail": "a@b.co",
        "inviteePhone": "12345",
        "inviteeTimezone": "UTC",
        "inviteeLocale": "en",
        "inviteeNotes": "",
        "source": "BookingPage",
    },
    "fifty custom fields of 100-character keys and 1,000-character answers": {
        "customFields": longest_custom_fields(),
        "inviteeNotes": "",
    },
    # Values real invitees send that a too-narrow check refuses.
    "an email with + and dots in the local part": {
        "inviteeEmail": "alex.johnson+booking@mail.example.co.uk"
    },
    # 200 characters, 228 bytes in UTF-8: the limit counts characters.
    "a 200-character name of non-ASCII letters": {
        "inviteeName": ("Zoë Łukasiewicz-Ōtani " * 10)[:199] + "ü"
    },
    "a name with an apostrophe, a hyphen and accents": {"inviteeName": "Zoë O'Brien-Łukasiewicz"},
    "a phone with spaces, dots and parentheses": {"inviteePhone": "+44 (20) 7946.0958"},
    "a locale with a script and a region": {"inviteeLocale": "zh-Hant-TW"},
    "longest CAPTCHA token and honeypot left empty": {
        "captchaToken": "t" * 4096,
        "honeypotValue": "",
    },
}

REFUSED: dict[str, dict[str, Any] | Callable[[Slot], dict[str, Any]]] = {
    "inviteeName: 201 characters": {"inviteeName": "N" * 201},
    "inviteeName: empty": {"inviteeName": ""},
    "inviteeName: only white space": {"inviteeName": " \t "},
    "inviteeEmail: 255 characters": {"inviteeEmail": "a" * 243 + "@example.com"},
    "inviteeEmail: no @": {"inviteeEmail": "alex.example.com"},
    "inviteeEmail: two @": {"inviteeEmail": "alex@@example.com"},
    "inviteeEmail: empty local part": {"inviteeEmail": "@example.com"},
    "inviteeEmail: domain without a dot": {"inviteeEmail": "alex@localhost"},
    "inviteeEmail: white space": {"inviteeEmail": "alex @example.com"},
    "inviteePhone: 4 characters": {"inviteePhone": "1234"},
    "inviteePhone: 33 characters": {"inviteePhone": "+" + "1" * 32},
    "inviteePhone: 4 digits": {"inviteePhone": "+1 (55) 5"},
    "inviteePhone: letters": {"inviteePhone": "call me maybe"},
    "inviteePhone: + inside": {"inviteePhone": "1+555-0123"},
    "inviteeTimezone: unknown zone": {"inviteeTimezone": "Mars/Olympus_Mons"},
    "inviteeTimezone: 65 characters": {"inviteeTimezone": "America/" + "x" * 57},
    "inviteeLocale: not BCP 47": {"inviteeLocale": "en_US"},
    "inviteeLocale: a word": {"inviteeLocale": "english"},
    "inviteeLocale: 36 characters": {
        "inviteeLocale": "en-" + "-".join(["abcdefgh"] * 3) + "-abcdef"
    },
    "inviteeNotes: 5,001 characters": {"inviteeNotes": "n" * 5001},
    "customFields: not an object": {"customFields": ["company"]},
    "customFields: an answer that is not a string": {"customFields": {"company": 42}},
    "customFields: an answer of 1,001 characters": {"customFields": {"company": "x" * 1001}},
    "customFields: 51 keys": {"customFields": {f"k{index}": "v" for index in range(51)}},
    "customFields: a key of 101 characters": {"customFields": {"k" * 101: "v"}},
    "source: unknown": {"source": "Fax"},
    "honeypotValue: 1,001 characters": {"honeypotValue": "x" * 1001},
    "captchaToken: 4,097 characters": {"captchaToken": "t" * 4097},
    # The slot's own instants in another form, so rule 6 would pass if the form did.
    "startTime and endTime: numbers": lambda slot: {
        "startTime": int(slot.start.timestamp()),
        "endTime": int(slot.end.timestamp()),
    },
    "startTime: not a calendar date": lambda slot: {
        "startTime": "2026-02-30" + utc_text(slot.start)[10:],
        "endTime": "2026-02-30" + utc_text(slot.end)[10:],
    },
    "startTime: words": {"startTime": "next monday"},
    "inviteeName: a number": {"inviteeName": 42},
    "inviteeEmail: null": {"inviteeEmail": None},
}


def _answers(contract: Suite, changes: dict[str, Any]) -> dict[str, Any]:
    """Keep answers to the event type's required custom fields when a test replaces them."""
    event_type = plain(contract.profile)
    fields = changes.get("customFields")
    if isinstance(fields, dict):
        required = {k: "Acme" for k in event_type.required_fields if k not in fields}
        # Room for the required answers, unless the case is about having too many keys.
        keep = 50 - len(required) if len(fields) <= 50 else len(fields)
        fields = {**dict(list(fields.items())[:keep]), **required}
        changes = {**changes, "customFields": fields}
    return changes


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
def test_field_limits_values_at_the_limits_are_accepted(contract: Suite, case: str) -> None:
    """Values at the edge of every field's limits book."""
    event_type = plain(contract.profile)
    changes = _answers(contract, ACCEPTED[case])

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(contract.profile, event_type, slot, **changes)

    _, exchange = contract.target.book_free_slot(event_type, make)
    assert len(exchange.request_body or b"") <= MAX_BODY
    assert exchange.status == 201, f"a request with the {case} was refused"


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_field_limits_values_past_the_limits_are_refused(contract: Suite, case: str) -> None:
    """A value just past a field's limits is 400, even in an otherwise bookable request."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot = next(contract.ledger.free_slots(host, event_type))
    changes = REFUSED[case]
    changes = changes(slot) if callable(changes) else changes
    body = booking_body(contract.profile, event_type, slot, **_answers(contract, changes))
    exchange = contract.target.post_booking(event_type, body)
    if exchange.status == 201:
        contract.ledger.mark_busy(event_type, slot)
    assert exchange.status != 201, f"a request with {case} was booked"
    # Rule 3 answers before availability: a shape error never looks like a taken slot.
    assert_refused_before_availability(exchange, f"{case} is outside the field's limits")
