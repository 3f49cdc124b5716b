"""Schemathesis additions: checks of what the document cannot say, and the iana-timezone format.

Importing this module registers them; only the fuzzing module does, so other
Schemathesis users in the same process are not handed the booking API's rules.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

from .ratelimit import FieldSyntaxError, parse_quota, parse_retry_after, retry_after_rounding

# Long-standing canonical zones: every IANA database a target could run knows them.
ZONES = (
    "UTC",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "America/Anchorage",
    "America/Argentina/Buenos_Aires",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "America/Toronto",
    "Asia/Dubai",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Atlantic/Azores",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Europe/Berlin",
    "Europe/Lisbon",
    "Europe/London",
    "Europe/Madrid",
    "Europe/Paris",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Honolulu",
)

schemathesis.openapi.format("iana-timezone", st.sampled_from(ZONES))


def _headers(response: Any) -> dict[str, str]:
    return {name: ", ".join(values) for name, values in response.headers.items()}


@schemathesis.check
def ratelimit_fields_are_structured(ctx: Any, response: Any, case: Any) -> bool | None:
    """Rule 1: RateLimit-Policy and RateLimit parse as the draft's structured fields, r <= q."""
    if "/book" not in case.path:
        return None
    try:
        parse_quota(_headers(response))
    except FieldSyntaxError as exc:
        raise AssertionError(f"RateLimit fields: {exc}") from None
    return None


@schemathesis.check
def retry_after_on_every_429(ctx: Any, response: Any, case: Any) -> bool | None:
    """Rule 1: a 429 says when to retry: delay-seconds of at least 1, or an HTTP-date."""
    if response.status_code != 429:
        return None
    headers = _headers(response)
    retry_after = parse_retry_after(headers)
    # An HTTP-date and its Date both have whole seconds: the difference may round to 0.
    least = 1 - retry_after_rounding(headers)
    if retry_after is None or retry_after < least:
        raise AssertionError(
            "a 429 without Retry-After: delay-seconds of at least 1, or an HTTP-date"
        )
    return None


@schemathesis.check
def error_bodies_have_an_error_message(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is application/json {"error": "<non-empty message>"}."""
    if response.status_code < 400:
        return None
    media_type = _headers(response).get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise AssertionError(f"an error answered as {media_type!r}, not application/json")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError("an error body that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        raise AssertionError('an error body without an "error" string')
    if not body["error"].strip():
        raise AssertionError('an error body with an empty "error"')
    return None
