"""The host rules a schema cannot state, and the format's defaults filled in.

The schema (``openapi/hosts.schema.json``) holds the shape; here are the rules across
entries or against the world: a time zone the IANA database knows, windows that end after
they start and do not overlap, slugs and ids that are unique, a location with what it
needs, custom field keys that are unique. Each failure names its entry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from ._errors import FormatError
from ._schema import check_schema, hosts_schema

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# A local window [start, end); end None is midnight at the end of the day (24:00).
LocalWindow = tuple[time, time | None]


@dataclass(frozen=True)
class CheckedHost:
    """A host entry that passed the format: its zone and weekly windows read, defaults filled.

    ``entry`` is the entry as written, with every optional field of the host, its event
    types and their custom fields present (the schema's ``default``, or the slug, the
    duration, the key where the format says so); ``phone`` stays absent when not given.
    """

    entry: dict[str, Any]
    timezone: ZoneInfo
    # Index 0 is Monday, as in date.weekday(); each day's windows sorted by start.
    weekly: tuple[tuple[LocalWindow, ...], ...]


def check_hosts(
    document: Any, validator: jsonschema.Draft202012Validator
) -> tuple[CheckedHost, ...]:
    """Check a dataset or profile against its schema, then its ``hosts`` against the rules.

    Raises FormatError naming the first bad entry (``hosts[1].timezone: ...``), without a
    source: the loader adds its file name.
    """
    check_schema(document, validator)
    checked = []
    host_slugs: set[str] = set()
    event_ids: dict[str, str] = {}
    for index, raw in enumerate(document["hosts"]):
        where = f"hosts[{index}]"
        if raw["slug"] in host_slugs:
            raise FormatError(f"{where}.slug", f"duplicate host slug {raw['slug']!r}")
        host_slugs.add(raw["slug"])
        zone = _zone(raw["timezone"], f"{where}.timezone")
        weekly = tuple(
            _day(raw["availability"].get(day, []), f"{where}.availability.{day}")
            for day in WEEKDAYS
        )
        _check_event_types(raw, where, event_ids)
        checked.append(CheckedHost(_with_defaults(raw), zone, weekly))
    return tuple(checked)


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(where, f"{name!r} is not an IANA time zone") from None


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _day(texts: list[str], where: str) -> tuple[LocalWindow, ...]:
    windows = []
    for index, text in enumerate(texts):
        start_text, end_text = text.split("-")
        start = _clock(start_text)
        end = None if end_text == "24:00" else _clock(end_text)
        if end is not None and end <= start:
            raise FormatError(f"{where}[{index}]", f"the window {text!r} ends before it starts")
        windows.append((start, end))
    windows.sort(key=lambda window: window[0])
    for (_, before_end), (after_start, _) in itertools.pairwise(windows):
        if before_end is None or before_end > after_start:
            raise FormatError(where, "the windows overlap")
    return tuple(windows)


def _check_event_types(raw: dict[str, Any], where: str, event_ids: dict[str, str]) -> None:
    slugs: set[str] = set()
    for index, event in enumerate(raw["eventTypes"]):
        e_where = f"{where}.eventTypes[{index}]"
        if event["slug"] in slugs:
            raise FormatError(f"{e_where}.slug", f"duplicate event type slug {event['slug']!r}")
        slugs.add(event["slug"])
        if event["id"] in event_ids:
            raise FormatError(
                f"{e_where}.id",
                f"duplicate event type id {event['id']!r} (also in {event_ids[event['id']]})",
            )
        event_ids[event["id"]] = e_where
        location = event["location"]
        if location["type"] == "InPerson" and not location.get("address"):
            raise FormatError(
                f"{e_where}.location.address", "an InPerson location needs an address"
            )
        if location["type"] == "Phone" and not raw.get("phone"):
            raise FormatError(f"{where}.phone", "a host with a Phone event type needs a phone")
        keys: set[str] = set()
        for f_index, custom_field in enumerate(event.get("customFields", [])):
            if custom_field["key"] in keys:
                raise FormatError(
                    f"{e_where}.customFields[{f_index}].key",
                    f"duplicate custom field key {custom_field['key']!r}",
                )
            keys.add(custom_field["key"])


@cache
def _schema_defaults(definition: str) -> dict[str, Any]:
    properties = hosts_schema()["$defs"][definition]["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def _with_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    # The schema's defaults are the format's; the few that depend on another field are here.
    event_types = [
        {
            **_schema_defaults("eventType"),
            "title": event["slug"],
            "slotIntervalMinutes": event["durationMinutes"],
            **event,
            "customFields": [
                {**_schema_defaults("customField"), "label": custom_field["key"], **custom_field}
                for custom_field in event.get("customFields", [])
            ],
        }
        for event in raw["eventTypes"]
    ]
    return {"name": raw["slug"], **raw, "eventTypes": event_types}
