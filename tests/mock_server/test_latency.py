"""Injected latency, for every response (--latency) and for one (Prefer: latency=)."""

from __future__ import annotations

import time

import httpx
import pytest

from mock_server.http.latency import parse_latency

from .test_rules import BOOK, body

URL = BOOK.format(user="jane-doe", event="30min-call")


def timed(client: httpx.Client, **kwargs) -> float:
    started = time.perf_counter()
    client.post(URL, json=body(inviteeEmail=""), **kwargs)
    return time.perf_counter() - started


def test_fixed_latency_delays_every_response(shared_server):
    base = shared_server(latency=parse_latency("300ms"))
    with httpx.Client(base_url=base) as client:
        client.get("/__admin/health")  # connect once, so timings exclude the handshake
        assert all(0.3 <= timed(client) < 1.0 for _ in range(3))
        started = time.perf_counter()
        client.get("/nope")
        assert time.perf_counter() - started >= 0.3


def test_latency_range_spreads_within_bounds(shared_server):
    base = shared_server(latency=parse_latency("100ms-400ms"), seed=1)
    with httpx.Client(base_url=base) as client:
        client.get("/__admin/health")
        delays = [timed(client) for _ in range(8)]
    assert all(0.1 <= d < 0.9 for d in delays)
    assert max(delays) - min(delays) > 0.05


def test_prefer_latency_delays_one_request(client):
    client.get("/__admin/health")
    assert timed(client, headers={"Prefer": "latency=300ms"}) >= 0.3
    assert timed(client) < 0.3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200ms", (0.2, 0.2)),
        ("1s", (1.0, 1.0)),
        ("100ms-500ms", (0.1, 0.5)),
        ("100-500", (0.1, 0.5)),
    ],
)
def test_latency_syntax(text, expected):
    assert parse_latency(text) == expected


@pytest.mark.parametrize("text", ["fast", "500ms-100ms", "-5ms", "120s"])
def test_bad_latency_is_refused(text):
    with pytest.raises(ValueError):
        parse_latency(text)
