"""Shared fixtures: reference servers on free loopback ports, stopped after each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import httpx
import pytest

from mock_server import Settings, create_app

from .browser import artifacts, browser  # noqa: F401 (fixtures)
from .servers import serve_app

# The suite's own runs of booking-contract, Locust and the watch write a CI summary where
# this names a file: only the tests that ask for one (and set it) may.
os.environ.pop("GITHUB_STEP_SUMMARY", None)

# The API document's moment: a Friday, with the example's Monday slot ahead.
PINNED = datetime.fromisoformat("2026-03-13T10:30:00+00:00")


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    """Start a reference server with the given Settings fields; returns its base URL."""
    with ExitStack() as stack:

        def start(**fields: Any) -> str:
            fields.setdefault("clock", PINNED)
            fields.setdefault("clock_frozen", True)
            return stack.enter_context(serve_app(create_app(Settings(**fields))))

        yield start


@pytest.fixture(scope="session")
def shared_server() -> Iterator[Callable[..., str]]:
    """Servers shared by the whole session, one per set of settings, reset before each use.

    Starting a server costs more than most tests; the control API's reset (bookings,
    rate limits, journal and clock) gives each test the state of a fresh one.
    """
    with ExitStack() as stack:
        started: dict[str, str] = {}

        def get(**fields: Any) -> str:
            fields = {"clock": PINNED, "clock_frozen": True, **fields}
            key = repr(sorted(fields.items()))
            if key not in started:
                started[key] = stack.enter_context(serve_app(create_app(Settings(**fields))))
            base_url = started[key]
            httpx.post(f"{base_url}/__admin/reset").raise_for_status()
            return base_url

        yield get


@pytest.fixture
def server(shared_server: Callable[..., str]) -> str:
    """A reference server with the clock frozen at PINNED and a limit tests do not reach."""
    return shared_server(rate_limit="1000/minute")


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client
