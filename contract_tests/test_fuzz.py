"""Schemathesis fuzzing of the book operation: one test per event type of the profile, and one
for unknown users and event types.

Schemathesis generates valid and invalid requests from the document (its
examples, boundary values of every field, random data). Before a request goes
out, what the document cannot know is made right where the request has the
right shape for it: a free slot from the profile, an empty honeypot, a passing
CAPTCHA token, the required custom fields. So a well-formed request must book
(201) and a malformed one must be refused, besides Schemathesis' own checks
(no 5xx, documented statuses, content types, response schemas and headers)
and ours (checks.py). Requests are paced like every other request of the suite.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import requests
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

from . import checks, shape
from .clients import Client
from .profile import EventType
from .slots import SLOT_TAKEN, Slot, utc_text
from .spec import spec_path
from .suite import Suite, active
from .target import Exchange

# Checks register on import; the name keeps the import from looking unused.
CUSTOM_CHECKS = (
    checks.ratelimit_fields_are_structured,
    checks.retry_after_on_every_429,
    checks.error_bodies_have_an_error_message,
)
REFUSALS = ["400", "404", "405", "413", "415", "429"]
MAX_429_RETRIES = 3

suite: Suite = active()
_session = requests.Session()


def fuzz_config(event_type: EventType | None, *, coverage: bool) -> schemathesis.Config:
    fuzzing = suite.profile.fuzzing
    data: dict[str, Any] = {
        # Hypothesis' health checks judge the generator, not the target: a slow
        # example (one paced by the rate limit) must not fail a rule's test.
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {
            "max-examples": fuzzing.max_examples,
            # No example database in the user's directory, and no shrinking: each
            # shrinking step would be one more request against the target.
            "database": "none",
            "no-shrink": True,
        },
        "phases": {
            "coverage": {"enabled": coverage},
            "stateful": {"enabled": False},
        },
        "checks": {
            # Replaced by the stricter judgement below: a well-formed request must book.
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"expected-statuses": REFUSALS},
        },
    }
    if fuzzing.seed is not None:
        data["seed"] = fuzzing.seed
    if event_type is None:
        # Random slugs are unknown users: invalid ones (empty, or with a /) are not
        # this operation's path at all, so only well-formed slugs are sent.
        data["generation"]["mode"] = "positive"
    else:
        data["parameters"] = {
            "path.userSlug": event_type.host_slug,
            "path.eventSlug": event_type.slug,
        }
    return schemathesis.Config.from_dict(data)


def _valid(name: str, body: dict[str, Any]) -> bool:
    return name in body and shape.field_is_valid(name, body[name])


def make_bookable(body: dict[str, Any], event_type: EventType, slot: Slot) -> None:
    """Set, in place, what the document cannot know, where the field has its right shape."""
    for name, instant in (("startTime", slot.start), ("endTime", slot.end)):
        if _valid(name, body):
            body[name] = utc_text(instant)
    if _valid("honeypotValue", body):
        body["honeypotValue"] = ""
    captcha = suite.profile.captcha
    if (
        event_type.captcha
        and captcha
        and ("captchaToken" not in body or _valid("captchaToken", body))
    ):
        body["captchaToken"] = captcha.passing_token
    required = event_type.required_fields
    if required and "customFields" not in body:
        body["customFields"] = {}
    answers = body.get("customFields")
    if required and _valid("customFields", body) and isinstance(answers, dict):
        for key in required:
            if not answers.get(key, "").strip():
                answers[key] = "Acme Inc."
        extra = [k for k in answers if k not in required]
        while len(answers) > 50 and extra:
            del answers[extra.pop()]


def _send(case: Any) -> tuple[Any, Client]:
    """Call the target as a paced client; a 429 is checked like any answer, then waited out."""
    for attempt in range(MAX_429_RETRIES + 1):
        client = suite.pool.acquire()
        headers = client.headers()
        response = case.call(base_url=suite.base_url, session=_session, headers=headers, timeout=30)
        suite.pool.record(client, response.status_code, checks._headers(response))
        suite.target.note(_exchange(response, client))
        if response.status_code != 429 or attempt == MAX_429_RETRIES:
            return response, client
        suite.pool.unplanned_429s += 1
        # A 429 is documented: judge it now, then ask again once the pool allows.
        case.validate_response(response, headers=headers, excluded_checks=[negative_data_rejection])
    raise AssertionError("unreachable")


def _exchange(response: Any, client: Client) -> Exchange:
    """The request and answer as the failure report shows every other test's."""
    request = response.request
    body = request.body.encode() if isinstance(request.body, str) else request.body
    return Exchange(
        method=request.method,
        url=request.url,
        request_headers=dict(request.headers),
        request_body=body,
        status=response.status_code,
        response_headers=httpx.Headers(
            [(name, value) for name, values in response.headers.items() for value in values]
        ),
        response_body=response.content,
        client=client.name,
        elapsed=response.elapsed,
    )


def _is_slot_taken(response: Any) -> bool:
    return response.status_code == 400 and SLOT_TAKEN in response.content.decode(errors="replace")


def _sent_as_json(response: Any) -> bool:
    """Whether the request went out as a POST of application/json (not a media-type probe)."""
    request = response.request
    media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return request.method == "POST" and media_type == "application/json"


def fuzz_event_type(case: Any, event_type: EventType) -> None:
    host = suite.profile.host_of(event_type)
    body = case.body
    for _ in range(8):
        slot = next(suite.ledger.free_slots(host, event_type))
        if isinstance(body, dict):
            make_bookable(body, event_type, slot)
        response, client = _send(case)
        judged = isinstance(body, dict) and _sent_as_json(response) and not shape.is_contested(body)
        errors = shape.shape_errors(body, len(response.request.body or b"")) if judged else []
        if not (judged and not errors and _is_slot_taken(response)):
            break
        suite.ledger.mark_busy(event_type, slot)  # taken by someone else: use the next slot
    if response.status_code == 201:
        suite.ledger.mark_busy(event_type, slot)
    case.validate_response(response, headers=client.headers())
    if not judged:
        return
    curl = case.as_curl_command(headers=client.headers(), base_url=suite.base_url)
    if not errors:
        assert response.status_code == 201, (
            f"a well-formed request for the free slot {slot} got {response.status_code}, not 201:"
            f" {response.content[:500]!r}\nReproduce with: {curl}"
        )
    else:
        assert response.status_code in (400, 413), (
            f"a malformed request got {response.status_code}, not 400 (or 413): {errors[:3]}"
            f"\nReproduce with: {curl}"
        )


def fuzz_unknown(case: Any) -> None:
    response, client = _send(case)
    case.validate_response(response, headers=client.headers())


def _test_name(event_type: EventType) -> str:
    return "test_fuzz_" + re.sub(r"\W+", "_", f"{event_type.host_slug}_{event_type.slug}").lower()


def _define(event_type: EventType, coverage: bool) -> None:
    schema = schemathesis.openapi.from_path(
        str(spec_path()), config=fuzz_config(event_type, coverage=coverage)
    )

    def test(case: Any) -> None:
        fuzz_event_type(case, event_type)

    test.__name__ = test.__qualname__ = _test_name(event_type)
    test.__doc__ = f"Generated requests to {event_type.label} are judged by the document."
    globals()[test.__name__] = schema.parametrize()(test)


for _index, _event_type in enumerate(suite.profile.event_types()):
    # Boundary values are the same for every event type: the first gets them.
    _define(_event_type, coverage=_index == 0 and suite.profile.fuzzing.coverage)

_unknown_schema = schemathesis.openapi.from_path(
    str(spec_path()), config=fuzz_config(None, coverage=False)
)


@_unknown_schema.parametrize()
def test_fuzz_unknown_users_and_event_types(case: Any) -> None:
    """Requests to generated (unknown) slugs are 404s of the documented shape."""
    fuzz_unknown(case)
