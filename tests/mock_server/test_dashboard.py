"""The dashboard's page and assets, and the control API operations it reads."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.mock_server.test_rules import body
from tests.servers import free_port, start_process

BOOK = "/api/public/scheduling/jane-doe/30min-call/book"


@pytest.fixture
def mock(shared_server: Callable[..., str]) -> str:
    return shared_server(rate_limit="1000/minute")


def test_the_page_is_served_at_admin_with_a_policy_that_allows_only_this_origin(mock):
    response = httpx.get(f"{mock}/__admin/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert "dashboard/dashboard.js" in response.text


def test_the_page_and_assets_ship_in_the_package_and_name_no_other_origin(mock):
    page = httpx.get(f"{mock}/__admin/").text
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        asset = httpx.get(f"{mock}/__admin/dashboard/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(kind)
        for text in (page, asset.text):
            assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_admin_without_a_slash_redirects_to_the_page(mock):
    response = httpx.get(f"{mock}/__admin")
    assert response.status_code == 308
    assert response.headers["location"] == "/__admin/"


def test_an_unknown_asset_is_404_and_a_post_to_the_page_405(mock):
    missing = httpx.get(f"{mock}/__admin/dashboard/nope.js")
    assert missing.status_code == 404
    assert "nope.js" in missing.json()["error"]
    assert missing.json()["error"]
    posted = httpx.post(f"{mock}/__admin/")
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"


def test_with_a_token_the_page_loads_without_it_and_the_data_needs_it(start_server):
    mock = start_server(admin_token="s3cret")
    assert httpx.get(f"{mock}/__admin/").status_code == 200
    assert httpx.get(f"{mock}/__admin/dashboard/dashboard.js").status_code == 200
    for path in ("/requests", "/requests/stream", "/arm", "/rate-limits", "/hosts"):
        assert httpx.get(f"{mock}/__admin{path}").status_code == 401, path
    authorized = {"Authorization": "Bearer s3cret"}
    assert httpx.get(f"{mock}/__admin/arm", headers=authorized).status_code == 200


def test_the_page_answers_loopback_host_names_only(mock):
    response = httpx.get(f"{mock}/__admin/", headers={"Host": "evil.example"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "foreign",
    [
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},  # no Origin
        {"Host": "evil.example"},  # DNS rebinding
    ],
    ids=["cross-origin", "no-cors", "rebinding"],
)
def test_a_page_elsewhere_cannot_follow_the_stream_or_arm(mock, foreign):
    assert httpx.get(f"{mock}/__admin/requests/stream", headers=foreign).status_code == 403
    armed = httpx.post(f"{mock}/__admin/arm", headers=foreign, json={"respond": {"code": 429}})
    assert armed.status_code == 403
    assert httpx.get(f"{mock}/__admin/arm").json()["armed"] == []


@pytest.mark.parametrize("path", ["/__admin/", "/__admin/ui/", "/ui/", "/__admin/clock"])
def test_no_page_elsewhere_may_frame_the_control_plane(mock, path):
    response = httpx.get(mock + path)
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def _events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields and fields["event"] == "request":
            entry = json.loads(fields["data"])
            assert int(fields["id"]) == entry["id"]
            events.append(entry)
    return events


def test_the_stream_replays_entries_after_an_id_then_ends_after_its_seconds(mock):
    for _ in range(3):
        httpx.post(mock + BOOK, json=body())
    oldest = httpx.get(f"{mock}/__admin/requests").json()["requests"][-1]["id"]
    started = time.monotonic()
    response = httpx.get(
        f"{mock}/__admin/requests/stream", params={"after": oldest, "seconds": 1}, timeout=10
    )
    assert 0.9 <= time.monotonic() - started < 5
    assert response.headers["content-type"].startswith("text/event-stream")
    replayed = _events(response.text)
    assert [e["id"] for e in replayed] == [oldest + 1, oldest + 2]
    assert replayed[0]["method"] == "POST" and replayed[0]["path"] == BOOK


def test_the_stream_opens_with_a_hello_naming_the_process_and_its_last_id(start_server):
    first, second = start_server(), start_server()
    httpx.post(first + BOOK, json=body())

    def hello(base_url: str) -> dict[str, Any]:
        text = httpx.get(f"{base_url}/__admin/requests/stream", params={"seconds": 0}).text
        block = text.split("\n\n")[0].splitlines()
        assert block[0] == "event: hello"
        return json.loads(block[1].removeprefix("data: "))

    one, other = hello(first), hello(second)
    assert one["lastId"] == 1 and other["lastId"] == 0
    assert one["instance"] != other["instance"]
    assert hello(first)["instance"] == one["instance"]


def test_head_on_the_stream_answers_its_headers_only(mock):
    response = httpx.head(f"{mock}/__admin/requests/stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""


def test_the_stream_with_zero_seconds_sends_the_replay_and_ends(mock):
    httpx.post(mock + BOOK, json=body())
    response = httpx.get(f"{mock}/__admin/requests/stream", params={"after": 0, "seconds": 0})
    assert [e["method"] for e in _events(response.text)] == ["POST"]


def test_the_stream_sends_each_exchange_as_it_is_recorded(mock):
    received: list[str] = []

    def follow() -> None:
        with httpx.stream(
            "GET", f"{mock}/__admin/requests/stream", params={"seconds": 3}, timeout=10
        ) as response:
            for line in response.iter_lines():
                received.append(line)

    reader = threading.Thread(target=follow)
    reader.start()
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:  # the stream's opening comment
        time.sleep(0.02)
    booked = httpx.post(mock + BOOK, json=body())
    deadline = time.monotonic() + 5
    while "event: request" not in received and time.monotonic() < deadline:
        time.sleep(0.02)
    seen = _events("\n".join(received) + "\n\n")
    assert seen and seen[0]["status"] == 201
    assert seen[0]["response"]["body"]["id"] == booked.json()["id"]
    reader.join(timeout=10)


@pytest.mark.parametrize(
    "query", ["after=x", "after=-1", "seconds=-1", "seconds=3601", "after=1e3"]
)
def test_the_stream_refuses_bad_parameters_with_400(mock, query):
    response = httpx.get(f"{mock}/__admin/requests/stream?{query}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_rate_limits_show_each_recent_client_most_recent_first(shared_server):
    mock = shared_server(rate_limit="5/minute")
    for source, count in (("127.0.0.8", 2), ("127.0.0.9", 1)):
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport) as client:
            for _ in range(count):
                client.post(mock + BOOK, json={})
    standing = httpx.get(f"{mock}/__admin/rate-limits").json()
    assert (standing["limit"], standing["windowSeconds"]) == (5, 60)
    clients = [(c["client"], c["remaining"]) for c in standing["clients"]]
    assert clients[:2] == [("127.0.0.9", 4), ("127.0.0.8", 3)]
    assert 1 <= standing["clients"][0]["resetSeconds"] <= 60


def test_rate_limits_forget_the_clients_on_reset(mock):
    httpx.post(mock + BOOK, json={})
    httpx.post(f"{mock}/__admin/reset", params={"only": "rateLimits"})
    assert httpx.get(f"{mock}/__admin/rate-limits").json()["clients"] == []


def test_hosts_list_the_event_types_a_slot_query_takes(mock):
    listed = httpx.get(f"{mock}/__admin/hosts").json()
    assert listed["total"] == len(listed["hosts"]) >= 1
    host = listed["hosts"][0]
    event = host["eventTypes"][0]
    slots = httpx.get(f"{mock}/__admin/slots/{host['slug']}/{event['slug']}")
    assert slots.status_code == 200
    assert slots.json()["durationMinutes"] == event["durationMinutes"]
    assert len(httpx.get(f"{mock}/__admin/hosts", params={"limit": 1}).json()["hosts"]) == 1


def test_booking_mock_stops_promptly_with_a_stream_open():
    port = free_port()
    with start_process([], port) as served:
        ended: list[str] = []

        def follow() -> None:
            try:
                httpx.get(f"{served.url}/__admin/requests/stream", timeout=30)
            except httpx.HTTPError as error:  # the stop cuts the stream short
                ended.append(type(error).__name__)

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        time.sleep(0.5)
        started = time.monotonic()
        served.process.send_signal(signal.SIGINT)
        served.process.wait(timeout=15)
        assert time.monotonic() - started < 8
        reader.join(timeout=5)
        assert ended == ["RemoteProtocolError"]
