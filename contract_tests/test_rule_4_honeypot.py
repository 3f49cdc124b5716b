"""Rule 4: a non-empty honeypotValue gets a generic 400, and nothing is stored.

A slot the target refuses as taken that the run never booked is a failure on a
dedicated target (the slot ledger knows every booking there), and is skipped,
and counted, on a shared one.
"""

from __future__ import annotations

from .bodies import booking_body
from .suite import Suite
from .support import assert_error, plain
from .target import ContractViolation


def test_rule_4_filled_honeypot_is_refused_and_stores_nothing(contract: Suite) -> None:
    """A non-empty honeypotValue gets a generic 400, and the slot stays free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for attempt, slot in enumerate(contract.ledger.free_slots(host, event_type)):
        refused = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot, honeypotValue="I am a bot")
        )
        assert refused.status != 201, "a request with a filled honeypot was booked"
        assert_error(refused, 400)
        assert "honeypot" not in (refused.error or "").lower(), (
            "the refusal names the honeypot: a bot learns what to leave empty"
        )
        again = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot)
        )
        if again.status == 201:
            contract.ledger.mark_busy(event_type, slot)
            return
        assert again.is_slot_taken, "a valid booking of a free slot was refused"
        if contract.ledger.dedicated:
            contract.ledger.mark_busy(event_type, slot)
        assert not contract.ledger.dedicated, (
            f"{slot} was taken right after a refused honeypot request for it, and nothing"
            f" else books on this target: the honeypot request was stored"
        )
        contract.ledger.found_taken(event_type, slot)
        # Taken by someone else, or by the honeypot request: only a run of them tells.
        assert attempt < 3, (
            "4 slots in a row were taken right after a refused honeypot request for them:"
            " the honeypot requests were stored"
        )
    raise ContractViolation(f"no free slot of {event_type.label} left")
