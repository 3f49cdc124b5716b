"""Faker-made data: schema-valid dynamic responses, and extra hosts for load runs."""

from __future__ import annotations

import random
import re
import string
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faker import Faker

from .domain.instants import utc_text

_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "Asia/Tokyo",
    "Australia/Sydney",
)
_LOCATIONS = ("GoogleMeet", "Zoom", "Phone", "InPerson")


class DynamicResponder:
    """Fills a response schema of the spec with realistic values, field by field.

    It walks the spec's own schema, so a field added to the spec appears in dynamic
    responses without a change here; the names it knows get realistic values.
    """

    def __init__(self, seed: int | None, rng: random.Random, now: Any) -> None:
        self.seed = seed
        self.rng = rng
        self.now = now  # a callable returning the mock's aware now

    @cached_property
    def faker(self) -> Faker:
        """Made on the first dynamic answer: importing Faker is a seventh of a second, which
        booking-mock's start-up does not pay for a feature most runs never ask for."""
        return _faker(self.seed)

    def response(self, schema: dict[str, Any], examples: dict[str, Any]) -> Any:
        context: dict[str, Any] = {"examples": examples}
        return self._value(schema, None, context)

    def _value(self, schema: dict[str, Any], name: str | None, context: dict[str, Any]) -> Any:
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(part)
            return self._value(merged, name, context)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if kind == "object":
            return self._object(schema, context)
        if kind == "array":
            return [
                self._value(schema.get("items", {}), name, context)
                for _ in range(self.rng.randint(1, 2))
            ]
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        if kind == "integer":
            return self.rng.randint(schema.get("minimum", 1), schema.get("maximum", 100))
        if kind == "number":
            return round(self.rng.uniform(schema.get("minimum", 0), schema.get("maximum", 100)), 2)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return self._string(schema, name, context)

    def _object(self, schema: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        required = set(schema.get("required", []))
        properties = schema.get("properties", {})
        # Times first, so endTime can follow startTime; location's value follows its type.
        for key in sorted(properties, key=lambda k: (k not in ("startTime", "type"), k)):
            if key not in required and (key == "details" or self.rng.random() < 0.3):
                continue
            out[key] = self._value(properties[key], key, context)
            if key == "type":
                context["location_type"] = out[key]
        return out

    def _string(self, schema: dict[str, Any], name: str | None, context: dict[str, Any]) -> str:
        pattern = schema.get("pattern", "")
        if name == "id" or pattern.startswith("^bkg_"):
            return "bkg_" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=14))
        if name == "eventTypeId":
            return "evt_" + "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=6))
        if name == "startTime":
            start = self.now().replace(minute=0, second=0, microsecond=0) + timedelta(
                days=self.rng.randint(1, 30), hours=self.rng.randint(1, 8)
            )
            context["start"] = start
            return utc_text(start)
        if name == "endTime":
            start = context.get("start") or self.now()
            return utc_text(start + timedelta(minutes=self.rng.choice((15, 30, 60))))
        if name == "createdAt" or schema.get("format") == "date-time":
            return utc_text(self.now())
        if name == "name":
            return self.faker.name()
        if name == "email":
            return self.faker.email()
        if name == "phone":
            return self.faker.numerify("+1-###-555-####")
        if name == "timezone":
            return self.rng.choice(_ZONES)
        if name == "value":
            return self._location_value(context.get("location_type"))
        if name == "error":
            messages = [
                e["error"]
                for e in context["examples"].values()
                if isinstance(e, dict) and "error" in e
            ]
            return self.rng.choice(messages) if messages else self.faker.sentence()
        if name == "field":
            return self.rng.choice(("inviteeEmail", "startTime", "inviteeName"))
        if name == "message":
            return self.faker.sentence()
        text = self.faker.word()
        if pattern and not re.search(pattern, text):
            return schema.get("example", text)
        return text

    def _location_value(self, kind: str | None) -> str:
        if kind == "GoogleMeet":
            parts = ("".join(self.rng.choices(string.ascii_lowercase, k=n)) for n in (3, 4, 3))
            return "https://meet.google.com/" + "-".join(parts)
        if kind == "Zoom":
            return "https://zoom.us/j/" + "".join(self.rng.choices(string.digits, k=11))
        if kind == "Phone":
            return self.faker.numerify("+1-###-555-####")
        return self.faker.address().replace("\n", ", ")


def fake_hosts(count: int, seed: int | None = None) -> list[dict[str, Any]]:
    """``count`` hosts in the dataset file format, each with three event types."""
    faker = _faker(seed)
    rng = random.Random(seed)
    hosts = []
    for index in range(count):
        name = faker.name()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + f"-{index + 1}"
        start = rng.choice(("08:00", "09:00", "10:00"))
        end = rng.choice(("16:00", "17:00", "18:00"))
        events = []
        for minutes in (15, 30, 60):
            location = rng.choice(_LOCATIONS)
            events.append(
                {
                    "slug": f"{minutes}min",
                    "id": f"evt_fake{index + 1}_{minutes}",
                    "title": f"{minutes} Minute Meeting",
                    "durationMinutes": minutes,
                    "slotIntervalMinutes": min(minutes, 30),
                    "location": {"type": location}
                    | (
                        {"address": faker.address().replace("\n", ", ")}
                        if location == "InPerson"
                        else {}
                    ),
                }
            )
        hosts.append(
            {
                "slug": slug,
                "name": name,
                "timezone": rng.choice(_ZONES),
                "phone": faker.numerify("+1-###-555-####"),
                "availability": {
                    day: [f"{start}-{end}"]
                    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
                },
                "eventTypes": events,
            }
        )
    return hosts


def _faker(seed: int | None) -> Faker:
    from faker import Faker

    faker = Faker()
    if seed is not None:
        faker.seed_instance(seed)
    return faker
