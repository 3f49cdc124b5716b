"""Booking requests a load run sends: Faker invitees on bookable slots, and deliberate mistakes.

Slots come from the profile (the contract suite's format and arithmetic): on the
event type's grid, inside the host's availability, between the minimum notice and
the booking horizon. Each request says which statuses mean the target behaved, so
anything else shows up as a failure in Locust's statistics.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from faker import Faker

from contract_tests import (
    EventType,
    Host,
    Profile,
    book_path,
    bookable_bounds,
    grid,
    local_day,
    occupied,
    utc_text,
)
from contract_tests import Slot as ProfileSlot

from .verifier import Slot

TIME_ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)
LOCALES = ("en", "de", "es", "pt-BR", "fr", "ja")
SOURCES = ("BookingPage", "EmbedWidget", "API")
# Keep clear of the bounds, so a slot is still bookable when the request lands.
MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class BookingRequest:
    """One request to the book endpoint and what a correct target may answer (besides 429)."""

    name: str  # Locust's statistics entry
    path: str
    body: dict[str, Any] | bytes
    expected: frozenset[int]
    slot: Slot | None = None  # set when a 201 would book a slot
    # For a valid booking, a 400 is only right when the slot is taken.
    only_slot_taken: bool = False

    @property
    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class BookingFactory:
    """Makes booking requests for a profile; ``now`` is the target's idea of the time."""

    def __init__(
        self,
        profile: Profile,
        *,
        rng: random.Random | None = None,
        faker: Faker | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.profile = profile
        self.rng = rng or random.Random()
        self.faker = faker or Faker()
        self.faker.seed_instance(self.rng.random())
        self.now = now
        self.event_types = [(h, e) for h in profile.hosts for e in h.event_types]
        if not self.event_types:
            raise ValueError("the profile has no event type to book")
        self._bad = [
            ("invalid email", 400, self._bad_email),
            ("wrong duration", 400, self._wrong_duration),
            ("off the slot grid", 400, self._off_grid),
            ("missing name", 400, self._missing_name),
            ("honeypot filled", 400, self._honeypot),
            ("not JSON", 400, self._not_json),
            ("unknown event type", 404, self._unknown_event_type),
            ("unknown host", 404, self._unknown_host),
        ]
        if profile.captcha and any(e.captcha for _, e in self.event_types):
            self._bad.append(("CAPTCHA refused", 400, self._captcha_refused))

    # Valid bookings

    def slot(self, host: Host, event_type: EventType) -> ProfileSlot:
        """A random slot the target must accept unless it is taken."""
        earliest, latest = bookable_bounds(event_type, self.now(), margin=MARGIN)
        first = local_day(host, earliest)
        days = max(0, (local_day(host, latest) - first).days)
        for _ in range(50):
            day = first + timedelta(days=self.rng.randint(0, days))
            candidates = [
                s for s in grid(host, event_type, day, day) if earliest <= s.start <= latest
            ]
            if candidates:
                return self.rng.choice(candidates)
        raise LookupError(f"{event_type.label} has no bookable slot in the profile's horizon")

    def good(self) -> BookingRequest:
        host, event_type = self.rng.choice(self.event_types)
        return self.for_slot(host, event_type, self.slot(host, event_type))

    def across_event_types(
        self, name: str = "book: race across event types"
    ) -> list[BookingRequest]:
        """Valid requests for overlapping slots on two event types of one host.

        A target may book at most one of them (rule 8: no overlap with a booking of the
        same host on any of its event types). Empty when no host has two event types
        with overlapping bookable slots.
        """
        hosts = [h for h in self.profile.hosts if len(h.event_types) >= 2]
        for _ in range(20 if hosts else 0):
            host = self.rng.choice(hosts)
            first, second = self.rng.sample(list(host.event_types), 2)
            slot = self.slot(host, first)
            start, end = occupied(first, slot)
            earliest, latest = bookable_bounds(second, self.now(), margin=MARGIN)
            day = local_day(host, slot.start)
            overlapping = [
                other
                for other in grid(host, second, day, day)
                if earliest <= other.start <= latest
                and (busy := occupied(second, other))[0] < end
                and start < busy[1]
            ]
            if overlapping:
                return [
                    self.for_slot(host, first, slot, name),
                    self.for_slot(host, second, self.rng.choice(overlapping), name),
                ]
        return []

    def for_slot(
        self, host: Host, event_type: EventType, slot: ProfileSlot, name: str = "book"
    ) -> BookingRequest:
        body = self._body(event_type, slot)
        busy_start, busy_end = occupied(event_type, slot)
        return BookingRequest(
            name=name,
            path=self.path(host.slug, event_type.slug),
            body=body,
            expected=frozenset({201, 400}),
            slot=Slot(host.slug, busy_start.timestamp(), busy_end.timestamp()),
            only_slot_taken=True,
        )

    def _body(self, event_type: EventType, slot: ProfileSlot) -> dict[str, Any]:
        rng, faker = self.rng, self.faker
        browser = rng.random() < 0.3
        body: dict[str, Any] = {
            "startTime": utc_text(slot.start, browser=browser),
            "endTime": utc_text(slot.end, browser=browser),
            "inviteeName": faker.name(),
            "inviteeEmail": faker.email(),
            "inviteeTimezone": rng.choice(TIME_ZONES),
            "inviteeLocale": rng.choice(LOCALES),
            "source": rng.choice(SOURCES),
            "honeypotValue": "",
        }
        if rng.random() < 0.6:
            body["inviteePhone"] = f"+1-555-{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"
        if rng.random() < 0.4:
            body["inviteeNotes"] = faker.sentence(nb_words=12)
        answers = {
            f.key: faker.company()
            for f in event_type.custom_fields
            if f.required or rng.random() < 0.5
        }
        if answers:
            body["customFields"] = answers
        if event_type.captcha and self.profile.captcha:
            body["captchaToken"] = self.profile.captcha.passing_token
        return body

    # Mistakes

    def bad(self) -> BookingRequest:
        name, status, make = self.rng.choice(self._bad)
        path, body = make()
        return BookingRequest(f"book: {name}", path, body, frozenset({status}))

    def _valid(self, *, captcha: bool | None = None) -> tuple[Host, EventType, dict[str, Any]]:
        choices = [
            (h, e) for h, e in self.event_types if captcha is None or e.captcha == captcha
        ] or self.event_types
        host, event_type = self.rng.choice(choices)
        return host, event_type, self._body(event_type, self.slot(host, event_type))

    def _bad_email(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid()
        body["inviteeEmail"] = self.faker.user_name()  # no @
        return self.path(host.slug, event_type.slug), body

    def _wrong_duration(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid()
        start = datetime.fromisoformat(body["startTime"].replace("Z", "+00:00"))
        body["endTime"] = utc_text(start + event_type.duration + timedelta(minutes=5))
        return self.path(host.slug, event_type.slug), body

    def _off_grid(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid()
        start = datetime.fromisoformat(body["startTime"].replace("Z", "+00:00"))
        start += event_type.slot_interval / 2
        body["startTime"] = utc_text(start)
        body["endTime"] = utc_text(start + event_type.duration)
        return self.path(host.slug, event_type.slug), body

    def _missing_name(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid()
        del body["inviteeName"]
        return self.path(host.slug, event_type.slug), body

    def _honeypot(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid()
        body["honeypotValue"] = self.faker.word()
        return self.path(host.slug, event_type.slug), body

    def _not_json(self) -> tuple[str, bytes]:
        host, event_type, _ = self._valid()
        return self.path(host.slug, event_type.slug), b'{"startTime": '

    def _unknown_event_type(self) -> tuple[str, dict[str, Any]]:
        host, _, body = self._valid()
        return self.path(host.slug, "no-such-event-type"), body

    def _unknown_host(self) -> tuple[str, dict[str, Any]]:
        _, event_type, body = self._valid()
        return self.path("no-such-host", event_type.slug), body

    def _captcha_refused(self) -> tuple[str, dict[str, Any]]:
        host, event_type, body = self._valid(captcha=True)
        assert self.profile.captcha is not None
        body["captchaToken"] = self.profile.captcha.failing_token
        return self.path(host.slug, event_type.slug), body

    @staticmethod
    def path(user_slug: str, event_slug: str) -> str:
        return (
            book_path()
            .replace("{userSlug}", quote(user_slug, safe=""))
            .replace("{eventSlug}", quote(event_slug, safe=""))
        )
