"""The watch's shape judge: each rule of the API document an answer can break, alone."""

from __future__ import annotations

import json

from contract_tests.watch.judge import RULES, judge_answer

BOOKING = {
    "id": "bkg_xyz789",
    "eventTypeId": "evt_abc123",
    "status": "Confirmed",
    "startTime": "2026-03-16T14:00:00Z",
    "endTime": "2026-03-16T14:30:00Z",
    "invitee": {"name": "Alex", "email": "alex@example.com", "timezone": "America/New_York"},
    "location": {"type": "GoogleMeet", "value": "https://meet.google.com/abc-defg-hij"},
    "createdAt": "2026-03-13T10:30:00Z",
}
JSON = "application/json"


def rules(status: int, content_type: str | None, body: object, **kwargs: object) -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return [breach.rule for breach in judge_answer(status, content_type, raw, **kwargs)]


def test_documented_answers_break_nothing():
    assert rules(201, JSON, BOOKING) == []
    assert rules(400, "application/json; charset=utf-8", {"error": "The slot is taken."}) == []
    assert rules(429, JSON, {"error": "Rate limit exceeded. Retry in 5 seconds."}) == []


def test_an_undocumented_status_is_named():
    assert rules(418, JSON, {"error": "teapot"}) == ["status-undocumented"]
    assert rules(204, None, b"") == ["status-undocumented"]


def test_another_media_type_is_named():
    assert rules(404, "text/html", b"<h1>Not found</h1>") == ["content-type"]
    assert rules(201, None, BOOKING) == ["content-type"]


def test_a_json_answer_that_does_not_parse_is_named():
    assert rules(201, JSON, b'{"id": ') == ["body-not-json"]


def test_an_answer_off_its_schema_is_named():
    missing = {k: v for k, v in BOOKING.items() if k != "createdAt"}
    assert rules(201, JSON, missing) == ["schema"]
    assert rules(201, JSON, {**BOOKING, "status": "Maybe"}) == ["schema"]


def test_an_error_without_its_message_is_named():
    assert rules(400, JSON, {"message": "bad"}) == ["error-format"]
    assert rules(500, JSON, {"error": "  "}) == ["error-format"]
    assert rules(400, JSON, ["error"]) == ["error-format"]


def test_a_body_cut_for_size_is_not_judged():
    assert rules(201, JSON, b'{"id": ', complete=False) == []


def test_every_rule_has_its_meaning():
    assert set(RULES) == {
        "status-undocumented",
        "content-type",
        "body-not-json",
        "schema",
        "error-format",
    }
