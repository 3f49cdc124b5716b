"""Rule 2: an unknown user or event type is 404, before any validation of the request."""

from __future__ import annotations

import pytest

from .bodies import booking_body
from .suite import Suite
from .support import assert_error, free_slot, plain


def test_rule_2_unknown_user_is_404(contract: Suite) -> None:
    """A request for a user the target does not know is 404, even with a bookable slot."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, host_slug="no-such-user-contract")
    assert_error(exchange, 404)


def test_rule_2_unknown_event_type_is_404(contract: Suite) -> None:
    """A request for an event type the user does not have is 404."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, event_slug="no-such-event-contract")
    assert_error(exchange, 404)


def test_rule_2_event_type_of_another_host_is_404(contract: Suite) -> None:
    """An event type that exists, but under another host, is 404 for this host."""
    for host in contract.profile.hosts:
        own = {e.slug for e in host.event_types}
        for other in contract.profile.event_types():
            if other.host_slug != host.slug and other.slug not in own:
                body = booking_body(contract.profile, other, free_slot(contract, other))
                exchange = contract.target.post_booking(other, body, host_slug=host.slug)
                assert_error(exchange, 404)
                return
    pytest.skip("the profile has no two hosts with event types of different slugs")


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(b"{not json", "application/json"), (b"startTime=soon", "text/plain")],
    ids=["body-not-json", "not-application-json"],
)
@pytest.mark.parametrize("unknown", ["user", "event type"])
def test_rule_2_404_comes_before_validation(
    contract: Suite, unknown: str, content: bytes, media_type: str
) -> None:
    """An unknown user or event type is 404 even when the body is malformed."""
    event_type = plain(contract.profile)
    names = (
        {"host_slug": "no-such-user-contract"}
        if unknown == "user"
        else {"event_slug": "no-such-event-contract"}
    )
    exchange = contract.target.post_booking(
        event_type, content=content, headers={"Content-Type": media_type}, **names
    )
    assert_error(exchange, 404)
