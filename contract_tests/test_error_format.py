"""Every error is application/json with a non-empty "error", whoever produces it.

PRODUCT.md: "Every error, including those the framework produces (unknown route
404, wrong method 405, wrong media type 415, body too large 413, and any 500),
is application/json with {"error": "..."}; 400s may add details. Never
application/problem+json, never HTML, never a stack trace."
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .bodies import booking_body
from .ratelimit import FieldSyntaxError, parse_quota
from .suite import Suite
from .support import assert_error, plain
from .target import Exchange


def unknown_route(contract: Suite) -> Exchange:
    return contract.target.send("GET", contract.target.base_url + "/api/public/no-such-route")


def wrong_method(contract: Suite) -> Exchange:
    event_type = plain(contract.profile)
    url = contract.target.book_url(event_type.host_slug, event_type.slug)
    return contract.target.send("GET", url)


def wrong_media_type(contract: Suite) -> Exchange:
    return contract.target.post_booking(
        plain(contract.profile), content=b"hello", headers={"Content-Type": "text/plain"}
    )


def too_large(contract: Suite) -> Exchange:
    return contract.target.post_booking(
        plain(contract.profile),
        content=b'{"inviteeNotes": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )


def not_json(contract: Suite) -> Exchange:
    return contract.target.post_booking(
        plain(contract.profile), content=b"{", headers={"Content-Type": "application/json"}
    )


def invalid_field(contract: Suite) -> Exchange:
    event_type = plain(contract.profile)
    slot = next(contract.ledger.free_slots(contract.profile.host_of(event_type), event_type))
    body = booking_body(contract.profile, event_type, slot, inviteeName=42)
    return contract.target.post_booking(event_type, body)


def unknown_user(contract: Suite) -> Exchange:
    return contract.target.post_booking(plain(contract.profile), {}, host_slug="no-such-user-x")


ERRORS: dict[str, tuple[Callable[[Suite], Exchange], int]] = {
    "unknown route 404": (unknown_route, 404),
    "wrong method 405": (wrong_method, 405),
    "wrong media type 415": (wrong_media_type, 415),
    "body too large 413": (too_large, 413),
    "body not JSON 400": (not_json, 400),
    "invalid field 400": (invalid_field, 400),
    "unknown user 404": (unknown_user, 404),
}


@pytest.mark.parametrize("kind", list(ERRORS), ids=list(ERRORS))
def test_error_format_is_json_with_an_error_message(contract: Suite, kind: str) -> None:
    """The error is application/json {"error": "<non-empty message>"}."""
    send, status = ERRORS[kind]
    exchange = send(contract)
    assert_error(exchange, status)
    text = exchange.response_body.decode("utf-8", "replace")
    assert "Traceback" not in text and "<html" not in text.lower()


def test_error_format_405_names_the_allowed_method(contract: Suite) -> None:
    """A 405 carries Allow, listing POST."""
    exchange = wrong_method(contract)
    assert_error(exchange, 405)
    allowed = {m.strip().upper() for m in exchange.headers.get("allow", "").split(",")}
    assert "POST" in allowed, f"Allow: {exchange.headers.get('allow')!r}"


def test_error_format_details_name_the_field(contract: Suite) -> None:
    """A 400's optional details are a list of {"field", "message"} strings.

    How a field is named there (inviteeName, body.inviteeName, /inviteeName) is the
    target's choice: PRODUCT leaves the entries open, and only their shape is judged.
    """
    exchange = invalid_field(contract)
    assert_error(exchange, 400)
    details = exchange.json().get("details")
    if details is None:
        return
    assert isinstance(details, list), "details, when present, is a list"
    for detail in details:
        assert isinstance(detail, dict), detail
        assert isinstance(detail.get("field"), str) and isinstance(detail.get("message"), str)


BOOK_ERRORS = ["wrong method 405", "wrong media type 415", "body too large 413"]
BOOK_ERRORS += ["body not JSON 400", "invalid field 400", "unknown user 404"]


@pytest.mark.parametrize("kind", BOOK_ERRORS, ids=BOOK_ERRORS)
def test_rule_1_every_error_of_the_book_endpoint_carries_the_ratelimit_fields(
    contract: Suite, kind: str
) -> None:
    """PRODUCT: "Every response of the book endpoint carries" RateLimit-Policy and RateLimit."""
    send, status = ERRORS[kind]
    exchange = send(contract)
    assert exchange.status == status, f"expected {status}, got {exchange.status}"
    try:
        parse_quota(exchange.headers)
    except FieldSyntaxError as exc:
        pytest.fail(f"the {kind} of the book endpoint: {exc}")
