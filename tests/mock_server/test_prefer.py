"""Forced responses with Prefer, in Prism's syntax: they store nothing and keep the headers."""

from __future__ import annotations

import re

import httpx
import jsonschema
import pytest
from connexion.json_schema import resolve_refs

from mock_server.specs import load_spec

from .test_rules import BOOK, assert_error, body

URL = BOOK.format(user="jane-doe", event="30min-call")
OPERATION = resolve_refs(load_spec())["paths"][
    "/api/public/scheduling/{userSlug}/{eventSlug}/book"
]["post"]


def schema_of(status: int) -> dict:
    return OPERATION["responses"][str(status)]["content"]["application/json"]["schema"]


def example(status: int, name: str):
    return OPERATION["responses"][str(status)]["content"]["application/json"]["examples"][name][
        "value"
    ]


def forced(client: httpx.Client, prefer: str, **overrides) -> httpx.Response:
    return client.post(URL, json=body(**overrides), headers={"Prefer": prefer})


def assert_nothing_stored(client: httpx.Client) -> None:
    assert client.get("/__admin/bookings").json()["bookings"] == []
    assert client.post(URL, json=body()).status_code == 201  # the slot is still free


def test_prefer_code_returns_that_status_with_its_example(client):
    response = forced(client, "code=404")
    assert_error(response, 404)
    assert response.json() == example(404, "userNotFound")
    assert_nothing_stored(client)


def test_prefer_code_429_carries_retry_after_and_ratelimit_fields(client):
    response = forced(client, "code=429")
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "60"
    assert response.headers["RateLimit"] == '"per-ip";r=0;t=60'
    assert response.headers["RateLimit-Policy"] == '"per-ip";q=1000;w=60'


def test_prefer_code_429_says_in_its_body_the_wait_its_retry_after_names(client):
    response = forced(client, "code=429")
    assert response.json() == {"error": "Rate limit exceeded. Retry in 60 seconds."}
    # A named example is given as written.
    named = forced(client, "example=rateLimited")
    assert named.json() == example(429, "rateLimited")


def test_prefer_example_returns_the_named_example(client):
    response = forced(client, "example=slotUnavailable")
    assert_error(response, 400, "The selected time slot is no longer available.")
    assert re.match(r'^"per-ip";r=\d+;t=\d+$', response.headers["RateLimit"])
    assert_nothing_stored(client)


def test_prefer_code_and_example_combined(client):
    response = forced(client, "code=400, example=validationError")
    assert response.status_code == 400
    assert response.json() == example(400, "validationError")


def test_prefer_201_example_is_a_booking_that_is_not_stored(client):
    response = forced(client, "example=pendingApproval")
    assert response.status_code == 201
    assert response.json()["status"] == "PendingApproval"
    assert_nothing_stored(client)


def test_prefer_dynamic_is_schema_valid_and_realistic(client):
    responses = [forced(client, "dynamic=true") for _ in range(10)]
    for response in responses:
        assert response.status_code == 201
        booking = response.json()
        jsonschema.validate(booking, schema_of(201))
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", booking["invitee"]["email"])
        assert " " in booking["invitee"]["name"]  # a person's name, not lorem ipsum
        assert booking["startTime"] > "2026-03-13T10:30:00Z"  # in the future of the mock's clock
        assert booking["endTime"] > booking["startTime"]
    assert len({r.json()["invitee"]["email"] for r in responses}) > 1
    assert_nothing_stored(client)


def test_prefer_dynamic_with_an_error_code_is_schema_valid(client):
    response = forced(client, "code=404, dynamic=true")
    assert_error(response, 404)
    jsonschema.validate(response.json(), schema_of(404))


def test_unknown_code_lists_the_documented_ones(client):
    response = forced(client, "code=418")
    assert_error(response, 400)
    assert "201, 400, 404, 405, 413, 415, 429, 500" in response.json()["error"]


def test_unknown_example_lists_the_examples(client):
    response = forced(client, "example=noSuchExample")
    assert_error(response, 400)
    assert "slotUnavailable" in response.json()["error"]


def test_example_of_another_code_is_refused_listing_that_codes_examples(client):
    response = forced(client, "code=404, example=slotUnavailable")
    assert_error(response, 400)
    assert "userNotFound, eventTypeNotFound" in response.json()["error"]


def test_forced_responses_still_count_toward_the_rate_limit(shared_server):
    base = shared_server(rate_limit="2/minute")
    with httpx.Client(base_url=base) as client:
        statuses = [forced(client, "code=201").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("seed", [5])
def test_seed_makes_dynamic_responses_repeat(start_server, seed):
    bodies = []
    for _ in range(2):
        base = start_server(seed=seed)
        with httpx.Client(base_url=base) as client:
            bodies.append([forced(client, "dynamic=true").json() for _ in range(3)])
    assert bodies[0] == bodies[1]
