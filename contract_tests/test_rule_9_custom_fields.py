"""Rule 9: a required custom field missing or empty is 400; keys the event type does not
define are ignored; and all of rule 8 answers before rule 9.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import slots
from .bodies import booking_body
from .slots import SLOT_TAKEN, Slot
from .suite import Suite
from .support import (
    assert_error,
    assert_refused_before_availability,
    body_for,
    book,
    overlapping_slot,
    plain,
    refuse_each_until_free,
    required_field_type,
    windows_ahead,
)


@pytest.mark.parametrize("answer", ["absent", "empty", "null"])
def test_rule_9_missing_required_custom_field_is_refused(contract: Suite, answer: str) -> None:
    """A required custom field missing or empty is 400."""
    event_type = required_field_type(contract.profile)
    key = event_type.required_fields[0]
    answers: dict[str, Any] = {"absent": {}, "empty": {key: ""}, "null": {key: None}}[answer]
    answers.update({k: "Acme" for k in event_type.required_fields[1:]})
    exchange = refuse_each_until_free(
        contract,
        event_type,
        body_for(contract.profile, event_type, customFields=answers),
        f"an {answer} required field is refused",
    )
    assert exchange.status != 201, f"a booking with the required field {key!r} {answer} was made"
    assert_error(exchange, 400)


def test_rule_9_blank_required_custom_field_is_refused_or_accepted(contract: Suite) -> None:
    """An answer of only white space: PRODUCT leaves it open, refused as empty or accepted.

    Either way the answer is the contract's: a 400 of rule 9 (not "slot taken") or a 201.
    """
    event_type = required_field_type(contract.profile)
    answers = {k: "Acme" for k in event_type.required_fields}
    answers[event_type.required_fields[0]] = "   "

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(contract.profile, event_type, slot, customFields=answers)

    _, exchange = contract.target.book_free_slot(event_type, make)
    if exchange.status != 201:
        assert_refused_before_availability(exchange, "a blank answer is refused")


def test_rule_9_undefined_custom_field_keys_are_ignored(contract: Suite) -> None:
    """Custom field keys the event type does not define are accepted and ignored."""
    event_type = plain(contract.profile)
    answers = {key: "Acme" for key in event_type.required_fields}
    answers["favouriteColourContract"] = "teal"
    book(contract, event_type, customFields=answers)


def test_rule_9_availability_comes_before_custom_fields(contract: Suite) -> None:
    """An unavailable slot is 'no longer available', even when a required field is missing."""
    event_type = required_field_type(contract.profile)
    host = contract.profile.host_of(event_type)
    before_opening = [
        Slot(start - event_type.duration, start) for start, _ in windows_ahead(host, event_type)
    ]
    slot = next((s for s in before_opening if not slots.is_available(host, s)), None)
    if slot is None:
        pytest.skip(f"{host.slug} has no opening time with unavailable time before it")
    exchange = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, customFields={})
    )
    assert_error(exchange, 400, message=SLOT_TAKEN)


def test_rule_9_taken_slot_comes_before_custom_fields(contract: Suite) -> None:
    """A slot overlapping a booking is 'no longer available', even when a required field is
    missing: all of rule 8, the overlap included, answers before rule 9."""
    event_type = required_field_type(contract.profile)
    host = contract.profile.host_of(event_type)
    others = [e for e in host.event_types if not e.captcha] or [event_type]
    for other in sorted(others, key=lambda e: e is event_type):
        for _ in range(3):
            slot, _ = book(contract, other)
            overlapping = overlapping_slot(contract, other, slot, event_type)
            if overlapping is None:
                continue
            exchange = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, overlapping, customFields={})
            )
            assert exchange.status != 201, f"{overlapping} was booked over {slot}"
            assert_error(exchange, 400, message=SLOT_TAKEN)
            return
    pytest.skip(f"no grid slot of {event_type.label} overlaps another booking of its host")
