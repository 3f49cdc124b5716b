"""The dataset: hosts, their weekly availability and their event types.

The shape is this package's own (a dict, or the same as YAML):

    hosts:
      - slug, name, timezone, phone (optional)
        availability: {monday: [["09:00", "17:00"], ...], ...}   # host's local time
        eventTypes:
          - slug, id, durationMinutes, slotIntervalMinutes (default: the duration),
            requiresApproval, captcha, location: {type, address?},
            customFields: [{key, required}], minimumNoticeMinutes (60),
            bookingHorizonDays (60), bufferBeforeMinutes (0), bufferAfterMinutes (0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LOCATION_TYPES = ("GoogleMeet", "Zoom", "Phone", "InPerson")


def _weekdays(start: str, end: str) -> dict[str, list[list[str]]]:
    return {day: [[start, end]] for day in WEEKDAYS[:5]}


DEFAULT_DATASET: dict[str, Any] = {
    "hosts": [
        {
            "slug": "jane-doe",
            "name": "Jane Doe",
            "timezone": "America/New_York",
            "phone": "+1-555-0100",
            "availability": _weekdays("09:00", "17:00"),
            "eventTypes": [
                {
                    "slug": "30min-call",
                    "id": "evt_abc123",
                    "durationMinutes": 30,
                    "slotIntervalMinutes": 30,
                    "requiresApproval": False,
                    "captcha": False,
                    "location": {"type": "GoogleMeet"},
                    "customFields": [
                        {"key": "company", "required": False},
                        {"key": "role", "required": False},
                    ],
                },
                {
                    "slug": "60min-consult",
                    "id": "evt_def456",
                    "durationMinutes": 60,
                    "slotIntervalMinutes": 30,
                    "requiresApproval": True,
                    "captcha": False,
                    "location": {"type": "Zoom"},
                    "customFields": [{"key": "company", "required": True}],
                },
                {
                    "slug": "15min-captcha",
                    "id": "evt_ghi789",
                    "durationMinutes": 15,
                    "slotIntervalMinutes": 15,
                    "requiresApproval": False,
                    "captcha": True,
                    "location": {"type": "Phone"},
                    "customFields": [],
                },
            ],
        },
        {
            "slug": "john-smith",
            "name": "John Smith",
            "timezone": "Europe/Berlin",
            "availability": _weekdays("10:00", "18:00"),
            "eventTypes": [
                {
                    "slug": "15min-intro",
                    "id": "evt_jkl012",
                    "durationMinutes": 15,
                    "slotIntervalMinutes": 15,
                    "requiresApproval": False,
                    "captcha": False,
                    "location": {"type": "InPerson", "address": "Alexanderplatz 1, 10178 Berlin"},
                    "customFields": [],
                },
            ],
        },
    ]
}


@dataclass(frozen=True)
class EventType:
    slug: str
    id: str
    duration_minutes: int
    slot_interval_minutes: int
    requires_approval: bool
    captcha: bool
    location_type: str
    location_address: str | None
    required_fields: tuple[str, ...]
    minimum_notice_minutes: int
    booking_horizon_days: int
    buffer_before_minutes: int
    buffer_after_minutes: int


@dataclass(frozen=True)
class Host:
    slug: str
    name: str
    zone: ZoneInfo
    phone: str | None
    # weekday (0 = Monday) -> windows as (start, end) minutes after local midnight
    availability: dict[int, tuple[tuple[int, int], ...]]
    event_types: dict[str, EventType] = field(default_factory=dict)


def _minutes(text: str) -> int:
    hours, _, minutes = str(text).partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"not a time of day: {text!r}")
    return value


def _event_type(raw: dict[str, Any], host_phone: str | None) -> EventType:
    duration = int(raw["durationMinutes"])
    location = raw.get("location") or {"type": "GoogleMeet"}
    kind = location["type"]
    if kind not in LOCATION_TYPES:
        raise ValueError(f"unknown location type {kind!r}")
    if kind == "InPerson" and not location.get("address"):
        raise ValueError(f"event type {raw['slug']!r}: InPerson needs an address")
    if kind == "Phone" and not host_phone:
        raise ValueError(f"event type {raw['slug']!r}: Phone needs the host's phone")
    fields = raw.get("customFields") or []
    return EventType(
        slug=raw["slug"],
        id=raw["id"],
        duration_minutes=duration,
        slot_interval_minutes=int(raw.get("slotIntervalMinutes") or duration),
        requires_approval=bool(raw.get("requiresApproval", False)),
        captcha=bool(raw.get("captcha", False)),
        location_type=kind,
        location_address=location.get("address"),
        required_fields=tuple(f["key"] for f in fields if f.get("required")),
        minimum_notice_minutes=int(raw.get("minimumNoticeMinutes", 60)),
        booking_horizon_days=int(raw.get("bookingHorizonDays", 60)),
        buffer_before_minutes=int(raw.get("bufferBeforeMinutes", 0)),
        buffer_after_minutes=int(raw.get("bufferAfterMinutes", 0)),
    )


def load_dataset(raw: dict[str, Any]) -> dict[str, Host]:
    """Hosts by slug, from a dataset dict of the shape above; raises ValueError if malformed."""
    hosts: dict[str, Host] = {}
    for raw_host in raw["hosts"]:
        availability: dict[int, tuple[tuple[int, int], ...]] = {}
        for day, windows in (raw_host.get("availability") or {}).items():
            parsed = tuple((_minutes(a), _minutes(b)) for a, b in windows)
            if any(end <= start for start, end in parsed):
                raise ValueError(f"host {raw_host['slug']!r}: a window must end after it starts")
            availability[WEEKDAYS.index(str(day).lower())] = parsed
        phone = raw_host.get("phone")
        host = Host(
            slug=raw_host["slug"],
            name=raw_host.get("name", raw_host["slug"]),
            zone=ZoneInfo(raw_host["timezone"]),
            phone=phone,
            availability=availability,
        )
        for raw_event in raw_host.get("eventTypes") or []:
            event = _event_type(raw_event, phone)
            host.event_types[event.slug] = event
        hosts[host.slug] = host
    return hosts
