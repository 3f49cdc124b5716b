"""Rule 6: endTime - startTime is exactly the event type's duration, endTime after startTime."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .bodies import booking_body
from .slots import utc_text
from .suite import Suite
from .support import assert_refused_before_availability, free_slot, plain


@pytest.mark.parametrize("change", ["longer", "shorter", "empty", "reversed"])
def test_rule_6_wrong_duration_is_refused(contract: Suite, change: str) -> None:
    """endTime - startTime must be exactly the event type's duration, endTime after startTime."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    end = {
        "longer": slot.end + event_type.slot_interval,
        "shorter": slot.end - timedelta(minutes=1),
        "empty": slot.start,
        "reversed": slot.start - event_type.duration,
    }[change]
    body = booking_body(contract.profile, event_type, slot, endTime=utc_text(end))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, f"a slot {change} than the event type's duration")
