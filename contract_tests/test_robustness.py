"""Hostile but well-formed input: a 4xx in the error format, never a 5xx, nothing stored.

PRODUCT.md, "Hostile input": rule 3 also covers JSON nested thousands deep, numbers
with thousands of digits, the literals NaN and Infinity (not JSON under RFC 8259),
strings with lone UTF-16 surrogates ("\\ud800"), and RFC 3339 times whose offset puts
the instant outside years 1 to 9999. "Each gets a 4xx in the {"error"} format, nothing
is stored, and the request counts toward the limit like any other."

Schemathesis generates JSON a parser accepts, so these are written by hand. Each is a
valid booking of a free slot except for the hostile part, often in a field the API
does not define (which a server must otherwise ignore): only the hostile part can
make a correct server refuse it, and a server that skips over it books the slot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .bodies import booking_body
from .suite import Suite
from .support import assert_error_shape, plain

JSON = {"Content-Type": "application/json"}
PLACEHOLDER = "__hostile_value__"
# Each under the 64 KiB body limit, so a 413 cannot stand in for the check.
DEEP_ARRAY = "[" * 20_000 + "]" * 20_000
DEEP_OBJECT = '{"a":' * 8_000 + "1" + "}" * 8_000
DIGITS = "7" * 5_000
BACKSLASH = "\\"

Variants = Callable[[dict[str, Any]], dict[str, bytes]]


def raw(body: dict[str, Any], field: str, value: str) -> bytes:
    """The body as JSON with `field` holding raw JSON text, which json.dumps cannot write."""
    text = json.dumps({**body, field: PLACEHOLDER})
    return text.replace(json.dumps(PLACEHOLDER), value, 1).encode("ascii")


def custom_field_key(body: dict[str, Any], key: str) -> bytes:
    text = json.dumps({**body, "customFields": {**body["customFields"], PLACEHOLDER: "x"}})
    return text.replace(json.dumps(PLACEHOLDER), key, 1).encode("ascii")


def judge_hostile(contract: Suite, what: str, variants: Variants) -> None:
    """Send each variant for one free slot; each must be a 4xx, and the slot stays free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot = next(contract.ledger.free_slots(host, event_type))
    valid = booking_body(contract.profile, event_type, slot)
    for label, content in variants(valid).items():
        exchange = contract.target.post_booking(event_type, content=content, headers=JSON)
        assert exchange.status < 500, (
            f"{what} ({label}) got {exchange.status}: hostile input must get a 4xx in the"
            f" error format, never a 5xx"
        )
        assert exchange.status != 201, (
            f"{what} ({label}) was booked: rule 3 refuses it with a 4xx, and nothing is stored"
        )
        assert 400 <= exchange.status < 500, f"{what} ({label}) got {exchange.status}, not a 4xx"
        assert_error_shape(exchange)
    again = contract.target.post_booking(event_type, valid)
    if again.status == 201:
        contract.ledger.mark_busy(event_type, slot)
        return
    assert again.is_slot_taken, (
        f"after the refused {what}, a valid booking of the free slot {slot} got {again.status}"
    )
    contract.ledger.found_taken(event_type, slot)
    assert not contract.ledger.dedicated, (
        f"{slot} was taken right after the refused {what} for it, and nothing else books on"
        f" this target: a refused request was stored"
    )


def test_robustness_deep_nesting_is_refused(contract: Suite) -> None:
    """JSON nested thousands deep gets a 4xx, wherever it is, and stores nothing."""
    judge_hostile(
        contract,
        "JSON nested thousands deep",
        lambda body: {
            "an unknown field holding arrays 20,000 deep": raw(body, "futureField", DEEP_ARRAY),
            "an unknown field holding objects 8,000 deep": raw(body, "futureField", DEEP_OBJECT),
            "inviteeName as arrays 20,000 deep": raw(body, "inviteeName", DEEP_ARRAY),
            "the whole body as arrays 20,000 deep": DEEP_ARRAY.encode(),
        },
    )


def test_robustness_huge_numbers_are_refused(contract: Suite) -> None:
    """Numbers with thousands of digits get a 4xx, even in a field the API ignores."""
    judge_hostile(
        contract,
        "a number with thousands of digits",
        lambda body: {
            "a 5,000-digit integer in an unknown field": raw(body, "futureField", DIGITS),
            "a 5,000-digit fraction in an unknown field": raw(body, "futureField", "0." + DIGITS),
            "a 5,000-digit integer as inviteeName": raw(body, "inviteeName", DIGITS),
        },
    )


def test_robustness_non_finite_literals_are_refused(contract: Suite) -> None:
    """NaN and Infinity are not JSON (RFC 8259): a 4xx, even in a field the API ignores."""
    judge_hostile(
        contract,
        "a NaN or Infinity literal",
        lambda body: {
            f"{literal} in an unknown field": raw(body, "futureField", literal)
            for literal in ("NaN", "Infinity", "-Infinity")
        },
    )


def test_robustness_lone_surrogates_are_refused(contract: Suite) -> None:
    """Strings with lone UTF-16 surrogates get a 4xx, in any field or key."""
    judge_hostile(
        contract,
        "a string with a lone UTF-16 surrogate",
        lambda body: {
            "inviteeName \\ud800": raw(body, "inviteeName", f'"{BACKSLASH}ud800"'),
            "inviteeNotes with \\udc00 inside": raw(
                body, "inviteeNotes", f'"before {BACKSLASH}udc00 after"'
            ),
            "a customFields key \\ud83d": custom_field_key(body, f'"{BACKSLASH}ud83d"'),
            "an unknown field \\udfff": raw(body, "futureField", f'"{BACKSLASH}udfff"'),
        },
    )


def test_robustness_instants_outside_the_calendar_are_refused(contract: Suite) -> None:
    """Times whose offset puts the instant outside years 1 to 9999 get a 4xx."""

    def times(start: str, end: str) -> Callable[[dict[str, Any]], bytes]:
        return lambda body: json.dumps({**body, "startTime": start, "endTime": end}).encode()

    after = times("9999-12-31T23:30:00-23:59", "9999-12-31T23:59:00-23:59")
    before = times("0001-01-01T00:00:00+23:59", "0001-01-01T00:30:00+23:59")
    judge_hostile(
        contract,
        "an instant outside years 1 to 9999",
        lambda body: {
            "9999-12-31T23:30:00-23:59, in year 10000 in UTC": after(body),
            "0001-01-01T00:00:00+23:59, in year 0 in UTC": before(body),
        },
    )
