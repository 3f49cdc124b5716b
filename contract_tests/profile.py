"""Profiles: what the target holds (hosts, event types, tokens, rate limit), loaded from YAML.

The hosts are the host format shared with booking-mock's dataset
(``openapi/hosts.schema.json``): ``booking_format`` checks them and names the bad entry,
so the suite imports nothing of the reference for it. The dataclasses are the suite's own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import booking_format
from booking_format import FormatError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "default.yaml"

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(
    r"^\s*(?P<limit>\d+)\s*(?:/|per)\s*(?P<count>\d+)?\s*(?P<unit>second|minute|hour|day)s?\s*$",
    re.IGNORECASE,
)


class ProfileError(FormatError):
    """A profile the suite cannot use; the message names the file and the bad entry."""


@dataclass(frozen=True)
class Window:
    """A local time range [start, end) on one weekday; end None means midnight."""

    start: time
    end: time | None


@dataclass(frozen=True)
class CustomField:
    key: str
    required: bool


@dataclass(frozen=True)
class Location:
    type: str
    address: str | None = None


@dataclass(frozen=True)
class EventType:
    host_slug: str
    slug: str
    id: str
    duration: timedelta
    slot_interval: timedelta
    requires_approval: bool
    captcha: bool
    minimum_notice: timedelta
    booking_horizon: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    location: Location
    custom_fields: tuple[CustomField, ...]

    @property
    def label(self) -> str:
        return f"{self.host_slug}/{self.slug}"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.custom_fields if f.required)


@dataclass(frozen=True)
class Host:
    slug: str
    name: str
    timezone: ZoneInfo
    phone: str | None
    # Index 0 is Monday, as in date.weekday().
    weekly: tuple[tuple[Window, ...], ...]
    event_types: tuple[EventType, ...]

    def event_type(self, slug: str) -> EventType:
        for event_type in self.event_types:
            if event_type.slug == slug:
                return event_type
        raise KeyError(slug)


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window: int  # seconds
    trusts_forwarded_for: bool = False
    # Peers whose X-Forwarded-For the target honours; None: only the suite's own address
    # when trusts_forwarded_for, else nobody. "*" stands for any peer.
    trusted_proxies: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.limit} per {self.window} s"


@dataclass(frozen=True)
class Captcha:
    passing_token: str
    failing_token: str


@dataclass(frozen=True)
class Fuzzing:
    max_examples: int = 12
    coverage: bool = True
    seed: int | None = None


@dataclass(frozen=True)
class TargetTraits:
    """How the suite may treat the target; None means "decide from the base URL or ask"."""

    # Nothing but this run books on the target, so the suite's ledger is authoritative.
    dedicated: bool | None = None
    # The target offers booking-mock's control API, so the suite may pin its clock.
    control_api: bool = False
    # On loopback, each source address (127.x.y.z) is a client of its own to the target;
    # False behind something that hides the peer (Docker's published ports, a proxy).
    source_addresses: bool = True


@dataclass(frozen=True)
class Profile:
    name: str
    hosts: tuple[Host, ...]
    rate_limit: RateLimit
    captcha: Captcha | None = None
    fuzzing: Fuzzing = field(default_factory=Fuzzing)
    source: str | None = None
    target: TargetTraits = field(default_factory=TargetTraits)

    def host(self, slug: str) -> Host:
        for host in self.hosts:
            if host.slug == slug:
                return host
        raise KeyError(slug)

    def host_of(self, event_type: EventType) -> Host:
        return self.host(event_type.host_slug)

    def event_types(self) -> list[EventType]:
        return [event_type for host in self.hosts for event_type in host.event_types]

    def with_rate_limit(
        self,
        limit: int | None = None,
        window: int | None = None,
        trusts_forwarded_for: bool | None = None,
    ) -> Profile:
        """The same profile with the command line's overrides of the rate limit."""
        current = self.rate_limit
        return replace(
            self,
            rate_limit=RateLimit(
                limit if limit is not None else current.limit,
                window if window is not None else current.window,
                current.trusts_forwarded_for
                if trusts_forwarded_for is None
                else trusts_forwarded_for,
                current.trusted_proxies,
            ),
        )

    def with_target(
        self,
        dedicated: bool | None = None,
        control_api: bool | None = None,
        source_addresses: bool | None = None,
    ) -> Profile:
        """The same profile with the command line's overrides of the target's traits."""
        current = self.target
        return replace(
            self,
            target=TargetTraits(
                current.dedicated if dedicated is None else dedicated,
                current.control_api if control_api is None else control_api,
                current.source_addresses if source_addresses is None else source_addresses,
            ),
        )

    def with_fuzzing(
        self, max_examples: int | None = None, coverage: bool | None = None
    ) -> Profile:
        current = self.fuzzing
        return replace(
            self,
            fuzzing=Fuzzing(
                max_examples if max_examples is not None else current.max_examples,
                current.coverage if coverage is None else coverage,
                current.seed,
            ),
        )


def parse_rate_limit(text: str) -> tuple[int, int]:
    """``15/minute``, ``15/10 seconds`` or ``15 per 10 seconds`` as (limit, window seconds)."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a rate limit such as 15/minute, 15/10 seconds or 15 per 10 seconds"
        )
    limit = int(match["limit"])
    window = int(match["count"] or 1) * _UNITS[match["unit"].lower()]
    if limit < 1 or window < 1:
        raise ValueError(f"{text!r}: the limit and the window must be positive")
    return limit, window


def _schema() -> dict[str, Any]:
    return json.loads((PROFILES_DIR / "profile.schema.json").read_text(encoding="utf-8"))


_VALIDATOR = booking_format.document_validator(_schema())


def _minutes(value: int) -> timedelta:
    return timedelta(minutes=value)


def _event_type(host_slug: str, raw: dict[str, Any]) -> EventType:
    return EventType(
        host_slug=host_slug,
        slug=raw["slug"],
        id=raw["id"],
        duration=_minutes(raw["durationMinutes"]),
        slot_interval=_minutes(raw["slotIntervalMinutes"]),
        requires_approval=raw["requiresApproval"],
        captcha=raw["captcha"],
        minimum_notice=_minutes(raw["minimumNoticeMinutes"]),
        booking_horizon=timedelta(days=raw["bookingHorizonDays"]),
        buffer_before=_minutes(raw["bufferBeforeMinutes"]),
        buffer_after=_minutes(raw["bufferAfterMinutes"]),
        location=Location(**raw["location"]),
        custom_fields=tuple(CustomField(f["key"], f["required"]) for f in raw["customFields"]),
    )


def _host(checked: booking_format.CheckedHost, where: str) -> Host:
    entry = checked.entry
    weekly = tuple(tuple(Window(*window) for window in day) for day in checked.weekly)
    if not any(weekly):
        # The suite's own need, not the format's: it books at every host it is told of.
        raise FormatError(f"{where}.availability", "the host is never available")
    return Host(
        slug=entry["slug"],
        name=entry["name"],
        timezone=checked.timezone,
        phone=entry.get("phone"),
        weekly=weekly,
        event_types=tuple(_event_type(entry["slug"], e) for e in entry["eventTypes"]),
    )


def parse_profile(raw: Any, source: str | None = None) -> Profile:
    """Build a Profile from parsed YAML, or raise ProfileError naming the bad entry."""
    try:
        hosts = tuple(
            _host(checked, f"hosts[{index}]")
            for index, checked in enumerate(booking_format.check_hosts(raw, _VALIDATOR))
        )
    except FormatError as exc:
        raise ProfileError(exc.path, exc.message, source) from None
    if any(e.captcha for h in hosts for e in h.event_types) and "captcha" not in raw:
        raise ProfileError(
            "captcha",
            "an event type has CAPTCHA enabled: give a passingToken and a failingToken",
            source,
        )
    raw_limit = raw["rateLimit"]
    raw_target = raw.get("target", {})
    raw_captcha = raw.get("captcha")
    raw_fuzzing = raw.get("fuzzing", {})
    return Profile(
        name=raw.get("name", source or "profile"),
        hosts=hosts,
        rate_limit=RateLimit(
            raw_limit["limit"],
            raw_limit["windowSeconds"],
            raw_limit.get("trustsForwardedFor", False),
            tuple(raw_limit["trustedProxies"]) if "trustedProxies" in raw_limit else None,
        ),
        target=TargetTraits(
            raw_target.get("dedicated"),
            raw_target.get("controlApi", False),
            raw_target.get("sourceAddresses", True),
        ),
        captcha=Captcha(raw_captcha["passingToken"], raw_captcha["failingToken"])
        if raw_captcha
        else None,
        fuzzing=Fuzzing(
            raw_fuzzing.get("maxExamples", 12),
            raw_fuzzing.get("coverage", True),
            raw_fuzzing.get("seed"),
        ),
        source=source,
    )


def load_profile(path: str | Path | None = None) -> Profile:
    """Load a profile file; the default profile (booking-mock's default dataset) when None."""
    path = Path(path) if path is not None else DEFAULT_PROFILE
    source = str(path)
    try:
        raw = booking_format.load_yaml(path)
    except FormatError as exc:
        raise ProfileError(exc.path, exc.message, source) from None
    return parse_profile(raw, source)
