"""Dataset files: YAML or JSON, checked against data/dataset.schema.json, into domain objects."""

from __future__ import annotations

import itertools
import json
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from .domain.dataset import (
    WEEKDAYS,
    CustomField,
    Dataset,
    EventType,
    Host,
    Location,
    Window,
)


class DatasetError(ValueError):
    """A dataset file that cannot be served; the message names the bad entry."""

    def __init__(self, path: str, message: str, source: str | None = None) -> None:
        self.path = path
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}")


def _schema() -> dict[str, Any]:
    text = resources.files("mock_server").joinpath("data/dataset.schema.json").read_text()
    return json.loads(text)


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


def parse_dataset(raw: Any, source: str | None = None) -> Dataset:
    """Build a Dataset from parsed YAML/JSON, or raise DatasetError naming the bad entry."""
    errors = sorted(_VALIDATOR.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise DatasetError(_json_path(error.absolute_path), error.message, source)

    hosts: dict[str, Host] = {}
    event_ids: dict[str, str] = {}
    for h_index, raw_host in enumerate(raw["hosts"]):
        where = f"hosts[{h_index}]"
        slug = raw_host["slug"]
        if slug in hosts:
            raise DatasetError(f"{where}.slug", f"duplicate host slug {slug!r}", source)
        try:
            zone = ZoneInfo(raw_host["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise DatasetError(
                f"{where}.timezone",
                f"{raw_host['timezone']!r} is not an IANA time zone",
                source,
            ) from None
        weekly = []
        for day in WEEKDAYS:
            windows = []
            for w_index, text in enumerate(raw_host["availability"].get(day, [])):
                start_text, end_text = text.split("-")
                start, end = _parse_time(start_text), _parse_time(end_text)
                if end is not None and end <= start:
                    raise DatasetError(
                        f"{where}.availability.{day}[{w_index}]",
                        f"the window {text!r} ends before it starts",
                        source,
                    )
                windows.append(Window(start, end))
            windows.sort(key=lambda w: w.start)
            for before, after in itertools.pairwise(windows):
                if before.end is None or before.end > after.start:
                    raise DatasetError(
                        f"{where}.availability.{day}",
                        "the windows overlap",
                        source,
                    )
            weekly.append(tuple(windows))

        event_types: dict[str, EventType] = {}
        for e_index, raw_event in enumerate(raw_host["eventTypes"]):
            e_where = f"{where}.eventTypes[{e_index}]"
            if raw_event["slug"] in event_types:
                raise DatasetError(
                    f"{e_where}.slug", f"duplicate event type slug {raw_event['slug']!r}", source
                )
            if raw_event["id"] in event_ids:
                raise DatasetError(
                    f"{e_where}.id",
                    f"duplicate event type id {raw_event['id']!r}"
                    f" (also in {event_ids[raw_event['id']]})",
                    source,
                )
            location = Location(**raw_event["location"])
            if location.type == "InPerson" and not location.address:
                raise DatasetError(
                    f"{e_where}.location.address", "an InPerson location needs an address", source
                )
            if location.type == "Phone" and not raw_host.get("phone"):
                raise DatasetError(
                    f"{where}.phone", "a host with a Phone event type needs a phone", source
                )
            keys = [f["key"] for f in raw_event.get("customFields", [])]
            if len(keys) != len(set(keys)):
                raise DatasetError(f"{e_where}.customFields", "duplicate custom field key", source)
            duration = raw_event["durationMinutes"]
            event_types[raw_event["slug"]] = EventType(
                slug=raw_event["slug"],
                id=raw_event["id"],
                title=raw_event.get("title", raw_event["slug"]),
                duration_minutes=duration,
                slot_interval_minutes=raw_event.get("slotIntervalMinutes", duration),
                requires_approval=raw_event.get("requiresApproval", False),
                captcha=raw_event.get("captcha", False),
                minimum_notice_minutes=raw_event.get("minimumNoticeMinutes", 60),
                booking_horizon_days=raw_event.get("bookingHorizonDays", 60),
                buffer_before_minutes=raw_event.get("bufferBeforeMinutes", 0),
                buffer_after_minutes=raw_event.get("bufferAfterMinutes", 0),
                location=location,
                custom_fields=tuple(
                    CustomField(f["key"], f.get("label", f["key"]), f.get("required", False))
                    for f in raw_event.get("customFields", [])
                ),
            )
            event_ids[raw_event["id"]] = e_where
        hosts[slug] = Host(
            slug=slug,
            name=raw_host["name"],
            timezone=zone,
            phone=raw_host.get("phone"),
            weekly=tuple(weekly),
            event_types=event_types,
        )
    return Dataset(hosts)


def load_dataset(path: str | Path | None = None, extra_hosts: list[Any] | None = None) -> Dataset:
    """Load a dataset file (YAML or JSON), the default one when path is None, plus extra hosts."""
    if path is None:
        text = resources.files("mock_server").joinpath("data/default-dataset.yaml").read_text()
        source = "default dataset"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DatasetError("(file)", f"cannot read the file: {exc.strerror}", source) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise DatasetError(
            where, f"not valid YAML: {getattr(exc, 'problem', exc)}", source
        ) from None
    if extra_hosts and isinstance(raw, dict) and isinstance(raw.get("hosts"), list):
        raw["hosts"] = [*raw["hosts"], *extra_hosts]
    return parse_dataset(raw, source)
