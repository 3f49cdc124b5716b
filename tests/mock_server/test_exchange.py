"""What every request passes through, in order (mock_server.http.exchange): the access log,
the header limit, the journal, injected latency."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from .test_rules import BOOK, body

URL = BOOK.format(user="jane-doe", event="30min-call")


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture):
    """The access lines written so far that name a path (they come in 100 ms batches)."""
    caplog.set_level(logging.INFO, logger="mock_server.access")

    def lines(path: str, count: int = 1) -> list[str]:
        deadline = time.monotonic() + 3
        while True:
            found = [
                line
                for record in caplog.records
                if record.name == "mock_server.access"
                for line in record.getMessage().splitlines()
                if f" {path} " in line
            ]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    return lines


def journal(client: httpx.Client) -> list[dict]:
    return client.get("/__admin/requests", params={"limit": 500}).json()["requests"]


def test_oversized_headers_are_logged_but_not_journaled(client, access_log):
    answer = client.post(URL, json=body(), headers={"X-Padding": "x" * 20_000})
    assert answer.status_code == 431
    assert journal(client) == []
    (line,) = access_log(URL)
    assert f"POST {URL} 431 127.0.0.1" in line


def test_control_api_requests_are_logged_but_not_journaled(client, access_log):
    assert client.get("/__admin/health").status_code == 200
    assert journal(client) == []
    assert "GET /__admin/health 200" in access_log("/__admin/health")[0]


def test_every_other_request_is_logged_and_journaled_once(client, access_log):
    client.post(URL, json=body(inviteeEmail="nope"))
    client.get("/nope")
    assert [(e["method"], e["path"], e["status"]) for e in journal(client)] == [
        ("GET", "/nope", 404),
        ("POST", URL, 400),
    ]
    assert len(access_log(URL)) == 1 and len(access_log("/nope")) == 1


def test_injected_latency_is_inside_the_journal_duration(client):
    client.post(URL, json=body(inviteeEmail="nope"), headers={"Prefer": "latency=200ms"})
    (entry,) = journal(client)
    assert entry["durationMs"] >= 200


def test_a_body_nobody_read_is_journaled(client):
    """An unknown host is answered before the body is read; the journal shows it anyway."""
    path = BOOK.format(user="nobody", event="30min-call")
    assert client.post(path, json=body(inviteeName="Unread")).status_code == 404
    (entry,) = journal(client)
    assert entry["request"]["body"]["inviteeName"] == "Unread"
    assert entry["response"]["body"]["error"]
