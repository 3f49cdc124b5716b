"""Profiles: what the target holds (hosts, event types, tokens, rate limit), loaded from YAML."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "default.yaml"

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(
    r"^\s*(?P<limit>\d+)\s*(?:/|per)\s*(?P<count>\d+)?\s*(?P<unit>second|minute|hour|day)s?\s*$",
    re.IGNORECASE,
)


class ProfileError(ValueError):
    """A profile the suite cannot use; the message names the file and the bad entry."""

    def __init__(self, path: str, message: str, source: str | None = None) -> None:
        self.path = path
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}")


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


_VALIDATOR = jsonschema.Draft202012Validator(_schema())


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _parse_time(text: str) -> time | None:
    if text == "24:00":
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _minutes(value: int) -> timedelta:
    return timedelta(minutes=value)


def _parse_host(raw: dict[str, Any], where: str, source: str | None) -> Host:
    try:
        zone = ZoneInfo(raw["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(
            f"{where}.timezone", f"{raw['timezone']!r} is not an IANA time zone", source
        ) from None
    weekly = []
    for day in WEEKDAYS:
        windows = []
        for index, text in enumerate(raw["availability"].get(day, [])):
            start_text, end_text = text.split("-")
            start, end = _parse_time(start_text), _parse_time(end_text)
            if end is not None and end <= start:
                raise ProfileError(
                    f"{where}.availability.{day}[{index}]",
                    f"the window {text!r} ends before it starts",
                    source,
                )
            windows.append(Window(start, end))
        windows.sort(key=lambda w: w.start)
        weekly.append(tuple(windows))
    if not any(weekly):
        raise ProfileError(f"{where}.availability", "the host is never available", source)

    event_types = []
    for index, raw_event in enumerate(raw["eventTypes"]):
        e_where = f"{where}.eventTypes[{index}]"
        location = Location(**raw_event["location"])
        if location.type == "InPerson" and not location.address:
            raise ProfileError(
                f"{e_where}.location.address", "an InPerson location needs an address", source
            )
        if location.type == "Phone" and not raw.get("phone"):
            raise ProfileError(
                f"{where}.phone", "a host with a Phone event type needs a phone", source
            )
        duration = raw_event["durationMinutes"]
        event_types.append(
            EventType(
                host_slug=raw["slug"],
                slug=raw_event["slug"],
                id=raw_event["id"],
                duration=_minutes(duration),
                slot_interval=_minutes(raw_event.get("slotIntervalMinutes", duration)),
                requires_approval=raw_event.get("requiresApproval", False),
                captcha=raw_event.get("captcha", False),
                minimum_notice=_minutes(raw_event.get("minimumNoticeMinutes", 60)),
                booking_horizon=timedelta(days=raw_event.get("bookingHorizonDays", 60)),
                buffer_before=_minutes(raw_event.get("bufferBeforeMinutes", 0)),
                buffer_after=_minutes(raw_event.get("bufferAfterMinutes", 0)),
                location=location,
                custom_fields=tuple(
                    CustomField(f["key"], f.get("required", False))
                    for f in raw_event.get("customFields", [])
                ),
            )
        )
    slugs = [e.slug for e in event_types]
    if len(slugs) != len(set(slugs)):
        raise ProfileError(f"{where}.eventTypes", "duplicate event type slug", source)
    return Host(
        slug=raw["slug"],
        name=raw.get("name", raw["slug"]),
        timezone=zone,
        phone=raw.get("phone"),
        weekly=tuple(weekly),
        event_types=tuple(event_types),
    )


def parse_profile(raw: Any, source: str | None = None) -> Profile:
    """Build a Profile from parsed YAML, or raise ProfileError naming the bad entry."""
    errors = sorted(_VALIDATOR.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise ProfileError(_json_path(error.absolute_path), error.message, source)
    hosts = tuple(
        _parse_host(raw_host, f"hosts[{index}]", source)
        for index, raw_host in enumerate(raw["hosts"])
    )
    slugs = [h.slug for h in hosts]
    if len(slugs) != len(set(slugs)):
        raise ProfileError("hosts", "duplicate host slug", source)
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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError("(file)", f"cannot read the file: {exc.strerror}", source) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ProfileError(
            where, f"not valid YAML: {getattr(exc, 'problem', exc)}", source
        ) from None
    return parse_profile(raw, source)
