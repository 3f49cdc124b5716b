"""The hosts, their weekly availability and event types, as the rules read them.

Plain frozen dataclasses; ``mock_server.dataset`` builds them from a dataset file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CustomField:
    key: str
    label: str
    required: bool


@dataclass(frozen=True)
class Location:
    type: str
    address: str | None = None


@dataclass(frozen=True)
class EventType:
    slug: str
    id: str
    title: str
    duration_minutes: int
    slot_interval_minutes: int
    requires_approval: bool
    captcha: bool
    minimum_notice_minutes: int
    booking_horizon_days: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    location: Location
    custom_fields: tuple[CustomField, ...]


@dataclass(frozen=True)
class Window:
    """A local time range [start, end) on one weekday; end None means midnight."""

    start: time
    end: time | None


@dataclass(frozen=True)
class Host:
    slug: str
    name: str
    timezone: ZoneInfo
    phone: str | None
    # Index 0 is Monday, as in date.weekday().
    weekly: tuple[tuple[Window, ...], ...]
    event_types: dict[str, EventType] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    hosts: dict[str, Host]

    def host(self, slug: str) -> Host | None:
        return self.hosts.get(slug)

    def event_type_by_id(self, event_type_id: str) -> tuple[Host, EventType] | None:
        for host in self.hosts.values():
            for event_type in host.event_types.values():
                if event_type.id == event_type_id:
                    return host, event_type
        return None
