"""Network faults, each seen by a real HTTP client (httpx) failing as that fault makes it fail.

Asked for per request with ``Prefer: fault=...``; armed faults are in test_arming.py.
``--faults`` draws them at random, repeatably with ``--seed``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from mock_server.cli import build_parser, settings_from_args
from mock_server.http.faults import FAULT_KINDS
from tests.mock_server.test_rules import body

BOOK = "/api/public/scheduling/jane-doe/30min-call/book"


def book(base_url: str, prefer: str, *, read: float = 5.0) -> httpx.Response:
    timeout = httpx.Timeout(10, read=read)
    return httpx.post(base_url + BOOK, json=body(), headers={"Prefer": prefer}, timeout=timeout)


def journal(base_url: str, at_least: int = 1) -> list[dict]:
    """The journal, once it holds ``at_least`` exchanges: a faulted exchange is recorded
    when the mock has seen the connection go, a moment after the client has."""
    deadline = time.monotonic() + 5
    while True:
        entries = httpx.get(f"{base_url}/__admin/requests").json()["requests"]
        if len(entries) >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


def bookings(base_url: str) -> list[dict]:
    return httpx.get(f"{base_url}/__admin/bookings").json()["bookings"]


@pytest.fixture
def mock(shared_server: Callable[..., str]) -> str:
    return shared_server(rate_limit="1000/minute")


class _Errors(logging.Filter):
    """Notes uvicorn's errors. A filter, not a handler: each server a test starts
    reconfigures uvicorn's loggers, which drops their handlers but keeps their filters."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            self.messages.append(record.getMessage())
        return True


@pytest.fixture(autouse=True)
def no_server_errors() -> Iterator[None]:
    """A fault is the mock's answer, not its failure: uvicorn must log no error about it
    ("returned without starting response") and answer no 500 of its own."""
    errors = _Errors()
    logger = logging.getLogger("uvicorn.error")
    logger.addFilter(errors)
    try:
        yield
    finally:
        logger.removeFilter(errors)
    assert errors.messages == []


def test_connection_reset_is_a_tcp_reset(mock):
    with pytest.raises(httpx.ReadError, match="reset"):
        book(mock, "fault=connection-reset")
    [entry] = journal(mock)
    assert entry["fault"] == "connection-reset"
    assert entry["status"] == 0


def test_empty_response_closes_before_any_byte(mock):
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        book(mock, "fault=empty-response")
    assert journal(mock)[0]["fault"] == "empty-response"


def test_malformed_sends_bytes_that_are_not_http(mock):
    with pytest.raises(httpx.RemoteProtocolError, match="illegal status line"):
        book(mock, "fault=malformed")
    assert journal(mock)[0]["fault"] == "malformed"


def test_partial_body_sends_the_headers_and_half_the_body(mock):
    with httpx.stream(
        "POST", mock + BOOK, json=body(), headers={"Prefer": "fault=partial-body"}
    ) as response:
        assert response.status_code == 201
        declared = int(response.headers["content-length"])
        assert response.headers["ratelimit"].startswith('"per-ip";r=')
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|without sending complete"):
            response.read()
    [entry] = journal(mock)
    assert entry["fault"] == "partial-body"
    assert entry["status"] == 201
    assert len(str(entry["response"].get("body", ""))) < declared


def test_slow_body_dribbles_the_whole_body_over_the_duration(mock):
    started = time.monotonic()
    response = book(mock, "fault=slow-body, duration=1s")
    assert time.monotonic() - started >= 0.9
    assert response.status_code == 201
    assert response.json()["id"]  # whole and parseable
    assert journal(mock)[0]["fault"] == "slow-body"


def test_slow_body_stops_when_the_client_leaves(mock):
    with httpx.stream(
        "POST", mock + BOOK, json=body(), headers={"Prefer": "fault=slow-body, duration=20s"}
    ) as response:
        assert response.status_code == 201
    assert journal(mock)[0]["fault"] == "slow-body"


def test_a_fault_duration_below_a_millisecond_still_answers(mock):
    with httpx.Client(base_url=f"{mock}/__admin") as admin:
        armed = {"respond": {"fault": "slow-body", "duration": "0.01ms"}}
        assert admin.post("/arm", json=armed).status_code == 201
    assert httpx.post(mock + BOOK, json=body()).status_code == 201


def test_a_server_that_does_not_expose_the_connection_gets_a_400_saying_so():
    from starlette.testclient import TestClient

    from mock_server import Settings, create_app

    with TestClient(create_app(Settings())) as client:
        for kind in ("connection-reset", "empty-response", "malformed", "partial-body", "timeout"):
            response = client.post(BOOK, json=body(), headers={"Prefer": f"fault={kind}"})
            assert response.status_code == 400
            assert "needs the connection" in response.json()["error"]
        slow = client.post(BOOK, json=body(), headers={"Prefer": "fault=slow-body, duration=1ms"})
        assert slow.status_code == 201


def test_slow_body_trips_a_read_timeout_shorter_than_its_pauses(mock):
    # 20 pieces over 2 s: a pause of 100 ms between them.
    with pytest.raises(httpx.ReadTimeout):
        book(mock, "fault=slow-body, duration=2s", read=0.03)


def test_timeout_answers_nothing_until_the_client_gives_up(mock):
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        book(mock, "fault=timeout, duration=30s", read=0.5)
    assert time.monotonic() - started < 5
    # The mock notices the client leave and records the exchange without waiting 30 s.
    assert journal(mock)[0]["fault"] == "timeout"


def test_timeout_is_bounded_by_its_duration_then_closes(mock):
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        book(mock, "fault=timeout, duration=300ms", read=10)
    assert 0.25 <= time.monotonic() - started < 5


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_faulted_request_stores_nothing_and_counts_toward_the_limit(shared_server, kind):
    mock = shared_server(rate_limit="3/minute")
    with pytest.raises(httpx.HTTPError) if kind != "slow-body" else contextlib.nullcontext():
        book(mock, f"fault={kind}, duration=200ms", read=2)
    assert bookings(mock) == []
    standing = httpx.get(f"{mock}/__admin/rate-limits").json()["clients"]
    assert standing[0]["remaining"] == 2


def test_an_unknown_fault_is_a_400_naming_the_kinds(mock):
    response = book(mock, "fault=meltdown")
    assert response.status_code == 400
    assert "connection-reset" in response.json()["error"]
    assert bookings(mock) == []


def test_a_fault_comes_after_the_rate_limit(shared_server):
    mock = shared_server(rate_limit="1/minute")
    assert book(mock, "code=201").status_code == 201
    response = book(mock, "fault=connection-reset")
    assert response.status_code == 429  # over the limit: the real 429, no fault


def _outcomes(base_url: str, count: int) -> list[str]:
    """What each of ``count`` book requests met: a status, or the fault httpx saw."""
    seen = []
    for index in range(count):
        start = f"2026-03-16T{13 + index // 2 % 8:02d}:{index % 2 * 30:02d}:00Z"
        end = f"2026-03-16T{13 + (index + 1) // 2 % 8:02d}:{(index + 1) % 2 * 30:02d}:00Z"
        try:
            response = httpx.post(
                base_url + BOOK, json=body(startTime=start, endTime=end), timeout=5
            )
            seen.append(str(response.status_code))
        except httpx.HTTPError as error:
            seen.append(type(error).__name__)
    return seen


def test_random_faults_repeat_with_the_same_seed(start_server):
    fields = {"fault_rate": 0.5, "fault_kinds": ("connection-reset", "empty-response")}
    first = _outcomes(start_server(seed=7, **fields), 8)
    second = _outcomes(start_server(seed=7, **fields), 8)
    other = _outcomes(start_server(seed=8, **fields), 8)
    assert first == second
    assert first != other
    assert {"ReadError", "RemoteProtocolError"} & set(first)
    assert "201" in first or "400" in first


def test_random_faults_hit_about_their_rate(start_server):
    mock = start_server(
        seed=1, fault_rate=0.25, fault_kinds=("empty-response",), rate_limit="1000/minute"
    )
    faulted = _outcomes(mock, 40).count("RemoteProtocolError")
    assert 4 <= faulted <= 18  # 10 expected; seeded, so the same count on every run


def test_no_faults_without_the_flag(start_server):
    assert "RemoteProtocolError" not in _outcomes(start_server(seed=7), 4)


def test_the_faults_flags_parse():
    args = build_parser().parse_args(
        ["--faults", "5%", "--fault-kinds", "timeout,slow-body", "--fault-duration", "3s"]
    )
    settings = settings_from_args(args)
    assert settings.fault_rate == pytest.approx(0.05)
    assert settings.fault_kinds == ("timeout", "slow-body")
    assert settings.fault_duration == "3s"
    for bad in (["--faults", "150%"], ["--fault-kinds", "meltdown"], ["--fault-duration", "1h"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)
