"""Hostile but well-formed input (PRODUCT, "Hostile input"): a 4xx, nothing stored, counted once.

Each class goes through HTTP to a real server, on both booking pipelines, and each test
checks the status, the {"error"} shape, that no booking was stored, and that the
request took exactly one unit of the client's quota.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .test_rules import BOOK, assert_error, body

URL = BOOK.format(user="jane-doe", event="30min-call")
BACKSLASH = "\\"
DEEP = "[" * 20_000 + "]" * 20_000
DIGITS = "7" * 5_000


def post_raw(client: httpx.Client, text: str, **headers: str) -> httpx.Response:
    return client.post(
        URL, content=text.encode(), headers={"content-type": "application/json", **headers}
    )


def with_extra(raw_value: str, **overrides) -> str:
    """The example request plus an unknown top-level field holding raw JSON text."""
    return json.dumps(body(**overrides))[:-1] + f', "futureField": {raw_value}}}'


def with_field(name: str, raw_value: str) -> str:
    """The example request with one field's value replaced by raw JSON text."""
    text = json.dumps(body(**{name: "PLACEHOLDER"}))
    return text.replace('"PLACEHOLDER"', raw_value)


def remaining(response: httpx.Response) -> int:
    return int(re.search(r";r=(\d+)", response.headers["RateLimit"])[1])


def assert_refused_and_nothing_stored(
    client: httpx.Client, response: httpx.Response, status: int = 400
) -> dict:
    assert_error(response, status)
    assert client.get("/__admin/bookings").json()["bookings"] == []
    # Counted once: the next request finds exactly one unit fewer, and the slot is free.
    follow_up = client.post(URL, json=body())
    assert follow_up.status_code == 201, follow_up.text
    assert remaining(follow_up) == remaining(response) - 1
    return response.json()


@pytest.mark.parametrize(
    "text",
    [
        DEEP,
        with_extra(DEEP),
        with_field("inviteeName", DEEP),
        with_extra('{"a":' * 70 + "1" + "}" * 70),
    ],
    ids=["body", "unknown-field", "field-value", "objects"],
)
def test_hostile_deep_nesting_is_400(client, text):
    error = assert_refused_and_nothing_stored(client, post_raw(client, text))
    assert "nested deeper than 64" in error["error"]


def test_hostile_nesting_within_the_limit_is_accepted(client):
    response = post_raw(client, with_extra("[" * 60 + "]" * 60))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "text",
    [with_extra(DIGITS), with_field("inviteeName", DIGITS), with_extra("-0." + DIGITS)],
    ids=["unknown-field", "field-value", "fraction"],
)
def test_hostile_huge_number_is_400(client, text):
    error = assert_refused_and_nothing_stored(client, post_raw(client, text))
    assert "number of" in error["error"]


def test_hostile_number_overflowing_a_double_is_400(client):
    error = assert_refused_and_nothing_stored(client, post_raw(client, with_extra("1e999")))
    assert "1e999" in error["error"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_hostile_non_finite_literal_is_400(client, literal):
    error = assert_refused_and_nothing_stored(client, post_raw(client, with_extra(literal)))
    assert f"{literal} is not a JSON value" in error["error"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (with_field("inviteeName", f'"{BACKSLASH}ud800"'), "inviteeName"),
        (with_field("inviteeNotes", f'"a{BACKSLASH}udfffb"'), "inviteeNotes"),
        (with_field("customFields", f'{{"{BACKSLASH}ud83d": "x"}}'), "customFields"),
        (with_field("customFields", f'{{"company": "{BACKSLASH}udc00"}}'), "customFields.company"),
        (with_extra(f'["{BACKSLASH}ud800"]'), "futureField[0]"),
    ],
    ids=["name", "low-surrogate", "custom-field-key", "custom-field-value", "unknown-field"],
)
def test_hostile_lone_surrogate_is_400_naming_the_field(client, text, field):
    error = assert_refused_and_nothing_stored(client, post_raw(client, text))
    assert [d["field"] for d in error["details"]] == [field]


def test_hostile_surrogate_pair_is_an_ordinary_character(client):
    response = post_raw(
        client, with_field("inviteeName", f'"Ann {BACKSLASH}ud83d{BACKSLASH}ude00"')
    )
    assert response.status_code == 201, response.text
    assert response.json()["invitee"]["name"] == "Ann \U0001f600"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T23:30:00-23:59", "9999-12-31T23:59:00-23:59"),
        ("0001-01-01T00:00:00+23:59", "0001-01-01T00:30:00+23:59"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:30:00Z"),
    ],
    ids=["after-9999", "before-0001", "year-0"],
)
def test_hostile_instant_outside_the_calendar_is_400_naming_the_field(client, start, end):
    response = client.post(URL, json=body(startTime=start, endTime=end))
    error = assert_refused_and_nothing_stored(client, response)
    assert {d["field"] for d in error["details"]} == {"startTime", "endTime"}
    assert "years 1 to 9999" in error["details"][0]["message"]


@pytest.mark.parametrize("charset", ["rot13", "no-such-codec", "utf-7"])
def test_hostile_charset_is_400(client, charset):
    # UTF-7 can spell a lone surrogate in plain ASCII bytes: +2AA- is U+D800.
    text = with_field("inviteeName", '"+2AA-"')
    response = post_raw(client, text, **{"content-type": f"application/json; charset={charset}"})
    assert_refused_and_nothing_stored(client, response)


def test_hostile_oversized_headers_are_431_and_not_counted(client):
    response = client.post(URL, json=body(), headers={"X-Padding": "a" * 20_000})
    assert_error(response, 431)
    assert "16384" in response.json()["error"]
    assert client.get("/__admin/bookings").json()["bookings"] == []
    assert client.get("/__admin/requests").json()["requests"] == []  # not journaled either
    first = client.post(URL, json=body())
    assert first.status_code == 201
    assert remaining(first) == 999  # the refused request never reached the limiter


def test_headers_under_the_limit_are_served(client):
    response = client.post(URL, json=body(), headers={"X-Padding": "a" * 15_000})
    assert response.status_code == 201


def test_hostile_requests_count_toward_the_limit_like_any_other(shared_server):
    base = shared_server(rate_limit="3/minute")
    with httpx.Client(base_url=base) as client:
        for text in (DEEP, with_extra("NaN"), with_extra(DIGITS)):
            assert post_raw(client, text).status_code == 400
        assert client.post(URL, json=body()).status_code == 429


@pytest.mark.parametrize(
    "text", [DEEP, '{"advanceSeconds": NaN}', '{"advanceSeconds": ' + DIGITS + "}"]
)
def test_control_api_bodies_go_through_the_same_reader(client, text):
    before = client.get("/__admin/clock").json()
    response = client.put(
        "/__admin/clock", content=text, headers={"content-type": "application/json"}
    )
    assert_error(response, 400)
    assert client.get("/__admin/clock").json() == before


@pytest.mark.parametrize(
    "now", ["9999-12-31T23:59:00Z", "9999-12-20T10:00:00Z", "0001-01-01T00:00:00Z"]
)
def test_a_clock_at_the_calendar_edge_never_answers_500(client, now):
    assert client.put("/__admin/clock", json={"now": now, "frozen": True}).status_code == 200
    day = now[:10]
    for start in (f"{day}T14:00:00Z", f"{day}T23:30:00Z", f"{day}T00:30:00Z"):
        end = start[:11] + ("14:30:00Z" if "T14" in start else start[11:13] + ":59:00Z")
        response = client.post(URL, json=body(startTime=start, endTime=end))
        assert response.status_code in (201, 400), response.text
    for query in (
        "",
        f"?from={day}",
        f"?from={day}&timezone=Pacific/Kiritimati",
        f"?from={day}&timezone=Pacific/Pago_Pago",
    ):
        response = client.get(f"/__admin/slots/jane-doe/30min-call{query}")
        assert response.status_code == 200, (query, response.text)


def test_the_journal_shows_hostile_bodies_as_text(client):
    shallow_enough_to_keep = "[" * 8_000 + "]" * 8_000  # under the journal's 16 KiB cut
    for text in (shallow_enough_to_keep, with_extra("NaN"), with_field("inviteeName", DIGITS)):
        assert post_raw(client, text).status_code == 400
    response = client.get("/__admin/requests")
    assert response.status_code == 200

    def refuse(literal: str) -> None:
        raise AssertionError(f"the journal answered {literal}, which is not JSON")

    entries = json.loads(response.text, parse_constant=refuse)["requests"]
    assert [type(e["request"]["body"]) for e in entries] == [str, str, str]
