"""Rules 4 to 10 called on BookingService directly: no server, no HTTP, no framework.

The clock is pinned at the API document's moment (Friday 2026-03-13 10:30 UTC); Monday
2026-03-16 14:00 UTC is 10:00 in New York, inside Jane Doe's availability.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mock_server.dataset import load_dataset
from mock_server.domain import BookingRequest, BookingService, Clock, Invitee, MemoryBookingStore
from mock_server.errors import (
    CaptchaRejected,
    CaptchaRequired,
    HoneypotFilled,
    InvalidDuration,
    InvalidRequest,
    MissingCustomField,
    OutsideBookingWindow,
    SlotUnavailable,
)

NOW = datetime(2026, 3, 13, 10, 30, tzinfo=UTC)
MONDAY_10_NY = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)


def request(start: datetime = MONDAY_10_NY, minutes: int = 30, **changes: Any) -> BookingRequest:
    invitee = Invitee(name="Alex Johnson", email="alex@example.com", timezone="America/New_York")
    made = BookingRequest(start=start, end=start + timedelta(minutes=minutes), invitee=invitee)
    return replace(made, **changes)


class Service:
    """A BookingService on the default dataset, a pinned clock and a memory store."""

    def __init__(self, **options: Any) -> None:
        self.store = MemoryBookingStore()
        self.service = BookingService(
            load_dataset(), self.store, Clock(NOW, frozen=True), **options
        )

    def book(self, event: str, booking: BookingRequest, host: str = "jane-doe") -> Any:
        found = self.service.find(host, event)
        return asyncio.run(self.service.book(*found, booking))

    def stored(self) -> list[Any]:
        return asyncio.run(self.store.list())


@pytest.fixture
def service() -> Service:
    return Service()


def test_rule_3_custom_field_keys_over_100_characters_are_refused(service):
    with pytest.raises(InvalidRequest):
        service.book("30min-call", request(custom_fields={"k" * 101: "x"}))


def test_rule_4_filled_honeypot_is_refused_and_stores_nothing(service):
    with pytest.raises(HoneypotFilled):
        service.book("30min-call", request(honeypot="I am a bot"))
    assert service.stored() == []


def test_rule_5_captcha_event_type_needs_a_token(service):
    with pytest.raises(CaptchaRequired):
        service.book("15min-captcha", request(minutes=15, captcha_token="  "))


def test_rule_5_token_the_verifier_refuses_is_rejected():
    async def verifier(token: str) -> bool:
        return token == "good"

    plugged = Service(captcha=verifier)
    with pytest.raises(CaptchaRejected):
        plugged.book("15min-captcha", request(minutes=15, captcha_token="bad"))
    assert plugged.book("15min-captcha", request(minutes=15, captcha_token="good"))


def test_rule_6_duration_must_be_the_event_types(service):
    with pytest.raises(InvalidDuration):
        service.book("30min-call", request(minutes=45))
    with pytest.raises(InvalidDuration):
        service.book("30min-call", request(minutes=-30))


def test_rule_7_minimum_notice_and_booking_horizon(service):
    too_soon = NOW + timedelta(minutes=59)
    with pytest.raises(OutsideBookingWindow, match="60 minutes"):
        service.book("30min-call", request(start=too_soon))
    too_far = datetime(2026, 5, 13, 14, 0, tzinfo=UTC)  # 61 days ahead, a Wednesday
    with pytest.raises(OutsideBookingWindow, match="60 days"):
        service.book("30min-call", request(start=too_far))


@pytest.mark.parametrize(
    "start",
    [
        MONDAY_10_NY + timedelta(minutes=10),  # off the 30-minute grid
        datetime(2026, 3, 16, 12, 0, tzinfo=UTC),  # 08:00 in New York: before the window
        datetime(2026, 3, 14, 14, 0, tzinfo=UTC),  # a Saturday
    ],
    ids=["off-grid", "outside-hours", "weekend"],
)
def test_rule_8_slot_outside_grid_or_availability_is_unavailable(service, start):
    with pytest.raises(SlotUnavailable):
        service.book("30min-call", request(start=start))


def test_rule_8_overlap_with_any_event_type_of_the_host_is_unavailable(service):
    service.book("30min-call", request())
    overlapping = request(start=MONDAY_10_NY - timedelta(minutes=30), minutes=60)
    with pytest.raises(SlotUnavailable):
        service.book("60min-consult", replace(overlapping, custom_fields={"company": "Acme"}))


def test_rule_8_answers_before_rule_9(service):
    service.book("30min-call", request())
    # The consult needs "company"; the taken slot is what the caller hears.
    with pytest.raises(SlotUnavailable):
        service.book("60min-consult", request(minutes=60))


def test_rule_9_required_custom_field_missing_or_empty(service):
    for answers in ({}, {"company": "  "}):
        with pytest.raises(MissingCustomField):
            service.book("60min-consult", request(minutes=60, custom_fields=answers))
    assert service.stored() == []


def test_rule_10_booking_is_stored_with_what_the_event_type_says(service):
    booking = service.book(
        "30min-call", request(custom_fields={"company": "Acme", "undefined": "dropped"})
    )
    assert booking.status == "Confirmed"
    assert booking.location_type == "GoogleMeet"
    assert booking.location_value.startswith("https://meet.google.com/")
    assert booking.custom_fields == {"company": "Acme"}
    assert booking.created_at == NOW
    assert service.stored() == [booking]
    pending = service.book(
        "60min-consult",
        request(
            start=MONDAY_10_NY + timedelta(hours=1), minutes=60, custom_fields={"company": "A"}
        ),
    )
    assert pending.status == "PendingApproval"


def test_rule_10_of_concurrent_overlapping_requests_exactly_one_wins(service):
    async def burst() -> list[Any]:
        host, event_type = service.service.find("jane-doe", "30min-call")
        attempts = [service.service.book(host, event_type, request()) for _ in range(20)]
        return await asyncio.gather(*attempts, return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, SlotUnavailable) for o in outcomes if isinstance(o, Exception))
    assert len(service.stored()) == 1
