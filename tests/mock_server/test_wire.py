"""The book endpoint's wire format (mock_server.http.wire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mock_server.domain.store import Booking, Invitee
from mock_server.encoding import json_bytes
from mock_server.http.wire import booking_bytes, booking_json


def a_booking(start: datetime, created: datetime, **invitee: str) -> Booking:
    return Booking(
        id="bkg_wire00000001",
        host_slug="jane-doe",
        event_slug="30min-call",
        event_type_id="evt_1",
        status="Confirmed",
        start=start,
        end=start + timedelta(minutes=30),
        busy_start=start,
        busy_end=start + timedelta(minutes=30),
        invitee=Invitee(
            **{"name": "Ada", "email": "ada@example.com", "timezone": "UTC", **invitee}
        ),
        location_type="Zoom",
        location_value="https://zoom.us/j/1",
        created_at=created,
    )


@pytest.mark.parametrize(
    ("start", "created"),
    [
        (datetime(2026, 3, 16, 14, tzinfo=UTC), datetime(2026, 3, 13, 10, 30, tzinfo=UTC)),
        (datetime(1, 1, 1, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
        (
            datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 16, 15, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 3, 13, 5, 30, 1, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
    ids=["ordinary", "early-years-and-microseconds", "calendar-end", "other-offsets"],
)
def test_the_201_body_is_booking_json_as_json(start, created):
    booking = a_booking(start, created)
    assert booking_bytes(booking) == json_bytes(booking_json(booking))


def test_a_booking_orjson_refuses_is_still_written():
    booking = a_booking(
        datetime(2026, 3, 16, 14, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC), name="\ud800"
    )
    assert booking_bytes(booking) == json_bytes(booking_json(booking))
