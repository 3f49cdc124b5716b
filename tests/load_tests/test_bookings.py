"""Requests a load run sends, against the reference: good ones book, bad ones fail as expected."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from contract_tests import SLOT_TAKEN, load_profile
from load_tests.bookings import BookingFactory


@pytest.fixture
def factory() -> BookingFactory:
    return BookingFactory(load_profile(), rng=random.Random(1))


@pytest.fixture
def target(start_server):
    # The real clock: the load tests compute bookable slots from now, as against staging.
    url = start_server(rate_limit="10000/minute", clock=None, clock_frozen=False)
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def post(client: httpx.Client, request) -> httpx.Response:
    return client.post(
        request.path, content=request.content, headers={"Content-Type": "application/json"}
    )


def test_good_bookings_are_booked_on_the_slot_they_name(target, factory):
    for _ in range(25):
        request = factory.good()
        response = post(target, request)
        if response.status_code == 400:
            assert response.json()["error"] == SLOT_TAKEN  # an earlier one took it
            continue
        assert response.status_code == 201, response.text
        booking = response.json()
        start = datetime.fromisoformat(booking["startTime"].replace("Z", "+00:00"))
        # The verifier's slot is the booking's busy span (no buffers in this profile).
        assert request.slot is not None
        assert request.slot.start == start.timestamp()
        assert request.slot.host in request.path


def test_a_slot_booked_once_is_taken_for_the_second_request(target, factory):
    request = factory.good()
    assert post(target, request).status_code == 201
    second = post(target, request)
    assert second.status_code == 400 and second.json()["error"] == SLOT_TAKEN


def test_every_kind_of_mistake_gets_the_status_it_expects(target, factory):
    seen = set()
    for _ in range(200):
        request = factory.bad()
        seen.add(request.name)
        response = post(target, request)
        assert response.status_code in request.expected, (request.name, response.text)
    assert len(seen) == len(factory._bad)  # every kind was tried


def test_bookable_slots_lie_between_the_notice_and_the_horizon(factory):
    now = datetime.now(UTC)
    for host, event_type in factory.event_types:
        for _ in range(20):
            slot = factory.slot(host, event_type)
            assert slot.start >= now + event_type.minimum_notice
            assert slot.start <= now + event_type.booking_horizon
            assert slot.end - slot.start == event_type.duration


def test_a_race_across_event_types_asks_for_overlapping_slots_of_one_host(target, factory):
    for turn in range(8):
        pair = factory.across_event_types()
        assert len(pair) == 2
        first, second = pair if turn % 2 else pair[::-1]  # either may come first
        assert first.slot is not None and second.slot is not None
        assert first.slot.host == second.slot.host and first.path != second.path
        assert first.slot.start < second.slot.end and second.slot.start < first.slot.end
        # Each is bookable on its own; once one is booked, the other's slot is taken.
        booked = post(target, first)
        if booked.status_code == 400:
            assert booked.json()["error"] == SLOT_TAKEN  # an earlier pair took it
            continue
        assert booked.status_code == 201, booked.text
        refused = post(target, second)
        assert refused.status_code == 400 and refused.json()["error"] == SLOT_TAKEN
