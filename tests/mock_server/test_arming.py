"""Armed answers (``/__admin/arm``): what an end-to-end test queues for a page without Prefer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.mock_server.test_faults import journal
from tests.mock_server.test_rules import body

BOOK = "/api/public/scheduling/{user}/{event}/book"


@pytest.fixture
def mock(shared_server: Callable[..., str]) -> str:
    return shared_server(rate_limit="1000/minute")


@pytest.fixture
def admin(mock: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{mock}/__admin", timeout=10) as client:
        yield client


def arm(admin: httpx.Client, **request: Any) -> dict[str, Any]:
    response = admin.post("/arm", json=request)
    assert response.status_code == 201, response.text
    return response.json()


def book(
    base_url: str,
    user: str = "jane-doe",
    event: str = "30min-call",
    *,
    source: str | None = None,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(base_url=base_url, transport=transport, timeout=10) as client:
        url = BOOK.format(user=user, event=event)
        return client.post(url, json=body(**overrides), headers=headers or {})


def stored(admin: httpx.Client) -> list[dict[str, Any]]:
    return admin.get("/bookings").json()["bookings"]


def test_an_armed_429_answers_the_next_book_request_then_the_real_answers_resume(mock, admin):
    arm(admin, respond={"code": 429})
    refused = book(mock)
    assert refused.status_code == 429
    assert refused.json()["error"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit"].startswith('"per-ip";r=0;t=')
    assert book(mock).status_code == 201


def test_times_answers_that_many_requests_counting_down(mock, admin):
    armed = arm(admin, times=2, respond={"code": 400, "example": "slotUnavailable"})
    assert (armed["times"], armed["remaining"]) == (2, 2)
    first = book(mock)
    assert first.status_code == 400
    assert first.json() == {"error": "The selected time slot is no longer available."}
    assert admin.get("/arm").json()["armed"][0]["remaining"] == 1
    assert book(mock).status_code == 400
    assert admin.get("/arm").json()["armed"] == []
    assert book(mock).status_code == 201


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"userSlug": "jane-doe"}, ("jane-doe", "30min-call"), ("john-smith", "30min-call")),
        ({"eventSlug": "60min-consult"}, ("jane-doe", "60min-consult"), ("jane-doe", "30min-call")),
    ],
    ids=["userSlug", "eventSlug"],
)
def test_match_on_the_path(mock, admin, match, hit, miss):
    arm(admin, match=match, respond={"code": 429})
    hosts = {h["slug"]: h for h in admin.get("/hosts").json()["hosts"]}
    assert miss[0] in hosts, "the default dataset has this host"
    assert book(mock, *miss).status_code != 429
    assert book(mock, *hit).status_code == 429


def test_match_on_the_client(mock, admin):
    arm(admin, match={"client": "127.0.0.2"}, respond={"code": 429})
    assert book(mock, source="127.0.0.1").status_code == 201
    assert book(mock, source="127.0.0.2").status_code == 429


def test_match_on_every_field_at_once(mock, admin):
    match = {"userSlug": "jane-doe", "eventSlug": "30min-call", "client": "127.0.0.3"}
    arm(admin, match=match, respond={"code": 429})
    assert book(mock, "jane-doe", "60min-consult", source="127.0.0.3").status_code != 429
    assert book(mock, source="127.0.0.4").status_code == 201
    assert book(mock, source="127.0.0.3").status_code == 429


def test_respond_with_a_named_example(mock, admin):
    arm(admin, respond={"example": "slotUnavailable"})
    response = book(mock)
    assert response.status_code == 400
    assert response.json()["error"] == "The selected time slot is no longer available."


def test_respond_dynamic_fills_the_schema_with_new_values(mock, admin):
    arm(admin, times=2, respond={"code": 201, "dynamic": True})
    first, second = book(mock).json(), book(mock).json()
    assert first.keys() >= {"id", "startTime", "endTime", "invitee", "status"}
    assert first["id"] != second["id"]
    assert stored(admin) == []


def test_respond_latency_waits_before_answering(mock, admin):
    arm(admin, respond={"code": 429, "latency": "400ms"})
    started = time.monotonic()
    assert book(mock).status_code == 429
    assert time.monotonic() - started >= 0.38


def test_respond_with_a_fault(mock, admin):
    arm(admin, respond={"fault": "connection-reset"})
    with pytest.raises(httpx.ReadError):
        book(mock)
    [entry] = journal(mock)
    assert entry["fault"] == "connection-reset"


def test_respond_with_a_fault_and_its_duration(mock, admin):
    arm(admin, respond={"fault": "timeout", "duration": "300ms"})
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        book(mock)
    assert 0.25 <= time.monotonic() - started < 5


def test_armed_answers_are_used_in_the_order_they_were_armed(mock, admin):
    first = arm(admin, respond={"code": 429})
    second = arm(admin, respond={"example": "slotUnavailable"})
    assert [a["id"] for a in admin.get("/arm").json()["armed"]] == [first["id"], second["id"]]
    assert [book(mock).status_code for _ in range(3)] == [429, 400, 201]


def test_the_list_shows_what_is_armed_and_delete_clears_it(mock, admin):
    first = arm(admin, times=3, match={"userSlug": "jane-doe"}, respond={"code": 429})
    second = arm(admin, respond={"fault": "slow-body", "duration": "1s"})
    listed = admin.get("/arm").json()["armed"]
    assert listed == [first, second]
    assert listed[1]["respond"] == {"fault": "slow-body", "duration": "1s"}
    cleared = admin.delete("/arm")
    assert cleared.status_code == 200
    assert cleared.json() == {"cleared": 2}
    assert admin.get("/arm").json() == {"armed": []}
    assert book(mock).status_code == 201


def test_reset_clears_the_armed_answers(mock, admin):
    arm(admin, respond={"code": 429})
    assert "armed" in admin.post("/reset").json()["reset"]
    assert admin.get("/arm").json()["armed"] == []
    arm(admin, respond={"code": 429})
    assert admin.post("/reset", params={"only": "armed"}).json() == {"reset": ["armed"]}
    assert book(mock).status_code == 201


def test_an_armed_answer_stores_nothing_and_counts_toward_the_limit(shared_server):
    mock = shared_server(rate_limit="5/minute")
    with httpx.Client(base_url=f"{mock}/__admin") as admin:
        arm(admin, respond={"code": 201})
        response = book(mock)
        assert response.status_code == 201
        assert response.headers["ratelimit"].startswith('"per-ip";r=4;')
        assert stored(admin) == []
        # The slot is still free: a real booking of it succeeds.
        assert book(mock).status_code == 201
        assert len(stored(admin)) == 1


def test_the_journal_names_the_armed_answer_used(mock, admin):
    armed = arm(admin, respond={"code": 429})
    book(mock)
    book(mock)
    newest, older = admin.get("/requests").json()["requests"][:2]
    assert older["armed"] == armed["id"]
    assert "armed" not in newest


def test_a_request_with_prefer_is_answered_by_it_and_leaves_the_armed_answer(mock, admin):
    arm(admin, respond={"code": 429})
    assert book(mock, headers={"Prefer": "example=slotUnavailable"}).status_code == 400
    assert admin.get("/arm").json()["armed"][0]["remaining"] == 1
    assert book(mock).status_code == 429


def test_over_the_limit_the_real_429_comes_and_the_armed_answer_waits(shared_server):
    mock = shared_server(rate_limit="1/minute")
    with httpx.Client(base_url=f"{mock}/__admin") as admin:
        assert book(mock, source="127.0.0.5").status_code == 201
        arm(admin, respond={"example": "slotUnavailable"})
        assert book(mock, source="127.0.0.5").status_code == 429
        assert admin.get("/arm").json()["armed"][0]["remaining"] == 1
        assert book(mock, source="127.0.0.6").status_code == 400


def test_an_unknown_host_gets_its_404_and_the_armed_answer_waits(mock, admin):
    arm(admin, respond={"code": 429})
    assert book(mock, "nobody", "30min-call").status_code == 404
    assert admin.get("/arm").json()["armed"][0]["remaining"] == 1


@pytest.mark.parametrize(
    ("request_body", "says"),
    [
        ({"respond": {"code": 418}}, "code=418 is not a documented response"),
        ({"respond": {"example": "nope"}}, "example=nope is not an example"),
        ({"respond": {"code": 201, "example": "slotUnavailable"}}, "is not an example of code 201"),
        ({"respond": {"latency": "300ms"}}, "one of code, example, dynamic or fault"),
        ({"respond": {"code": 429, "duration": "5s"}}, "duration goes with a fault"),
        ({"respond": {"fault": "meltdown"}}, "respond.fault"),
        ({"respond": {"fault": "timeout", "duration": "2h"}}, "duration"),
        ({"respond": {"code": 429, "latency": "90s"}}, "at most 60s"),
        ({"respond": {"code": 429}, "times": 0}, "times"),
        ({"respond": {"code": 429}, "match": {"host": "jane-doe"}}, "match"),
        ({"match": {"userSlug": "jane-doe"}}, "respond"),
    ],
)
def test_an_answer_that_cannot_be_given_is_refused_with_400(mock, admin, request_body, says):
    response = admin.post("/arm", json=request_body)
    assert response.status_code == 400
    assert says in str(response.json()), response.json()
    assert admin.get("/arm").json()["armed"] == []
