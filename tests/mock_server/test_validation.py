"""Rule 3's explanations (mock_server.http.validation): the same, however the body is read."""

from __future__ import annotations

import pytest

from mock_server.errors import InvalidRequest
from mock_server.http.book import BookSpec
from mock_server.http.validation import SchemaValidator, _details
from mock_server.specs import load_spec

from .test_rules import body

SCHEMA = BookSpec.from_spec(load_spec("booking.yaml")).schema.schema

INVALID = {
    "email": body(inviteeEmail="not-an-email"),
    "no-offset": body(startTime="2026-03-16T14:00:00"),
    "outside-calendar": body(startTime="9999-12-31T23:59:59-01:00"),
    "missing": {k: v for k, v in body().items() if k not in ("inviteeEmail", "endTime")},
    "types": body(inviteeName=7, inviteeTimezone=None, customFields=[]),
    "nested": body(customFields={"topic": 5, "company": "x" * 5000}),
    "zone": body(inviteeTimezone="Mars/Olympus_Mons"),
    "enum": body(source="Fax"),
    "long": body(inviteeNotes="n" * 100_000, inviteePhone=""),
    "everything": {"startTime": 1, "inviteeEmail": "@", "unknown": {"deep": [1, 2]}},
}


def details(error: InvalidRequest) -> list[tuple[str, str]]:
    return sorted((d.field, d.message) for d in error.details)


@pytest.mark.parametrize("name", INVALID)
def test_a_failing_body_is_explained_as_the_whole_schema_explains_it(name):
    validator = SchemaValidator(SCHEMA)
    with pytest.raises(InvalidRequest) as raised:
        validator.check_body(INVALID[name])
    whole = sorted(
        validator.explainer.iter_errors(INVALID[name]),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    assert whole, "the corpus holds invalid bodies only"
    assert details(raised.value) == sorted((d.field, d.message) for d in _details(whole))


@pytest.mark.parametrize("instance", [[], "text", 3, None, [body()]])
def test_a_body_that_is_no_object_is_said_to_be_one(instance):
    with pytest.raises(InvalidRequest, match="must be a JSON object"):
        SchemaValidator(SCHEMA).check_body(instance)


def test_a_valid_body_passes():
    SchemaValidator(SCHEMA).check_body(body())
