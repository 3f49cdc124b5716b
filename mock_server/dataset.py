"""Dataset files: YAML or JSON, checked against data/dataset.schema.json, into domain objects.

The hosts are the host format shared with the contract suite's profile
(``openapi/hosts.schema.json``): ``booking_format`` checks them and names the bad entry;
this module only builds the domain's dataclasses from the checked entries.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import booking_format
from booking_format import FormatError

from .domain.dataset import CustomField, Dataset, EventType, Host, Location, Window


class DatasetError(FormatError):
    """A dataset file that cannot be served; the message names the bad entry."""


def _schema() -> dict[str, Any]:
    text = resources.files("mock_server").joinpath("data/dataset.schema.json").read_text()
    return json.loads(text)


_VALIDATOR = booking_format.document_validator(_schema())


def _event_type(raw: dict[str, Any]) -> EventType:
    return EventType(
        slug=raw["slug"],
        id=raw["id"],
        title=raw["title"],
        duration_minutes=raw["durationMinutes"],
        slot_interval_minutes=raw["slotIntervalMinutes"],
        requires_approval=raw["requiresApproval"],
        captcha=raw["captcha"],
        minimum_notice_minutes=raw["minimumNoticeMinutes"],
        booking_horizon_days=raw["bookingHorizonDays"],
        buffer_before_minutes=raw["bufferBeforeMinutes"],
        buffer_after_minutes=raw["bufferAfterMinutes"],
        location=Location(**raw["location"]),
        custom_fields=tuple(
            CustomField(f["key"], f["label"], f["required"]) for f in raw["customFields"]
        ),
    )


def parse_dataset(raw: Any, source: str | None = None) -> Dataset:
    """Build a Dataset from parsed YAML/JSON, or raise DatasetError naming the bad entry."""
    try:
        checked = booking_format.check_hosts(raw, _VALIDATOR)
    except FormatError as exc:
        raise DatasetError(exc.path, exc.message, source) from None
    hosts = {}
    for host in checked:
        entry = host.entry
        hosts[entry["slug"]] = Host(
            slug=entry["slug"],
            name=entry["name"],
            timezone=host.timezone,
            phone=entry.get("phone"),
            weekly=tuple(tuple(Window(*window) for window in day) for day in host.weekly),
            event_types={e["slug"]: _event_type(e) for e in entry["eventTypes"]},
        )
    return Dataset(hosts)


def load_dataset(path: str | Path | None = None, extra_hosts: list[Any] | None = None) -> Dataset:
    """Load a dataset file (YAML or JSON), the default one when path is None, plus extra hosts."""
    source = "default dataset" if path is None else str(path)
    try:
        if path is None:
            text = resources.files("mock_server").joinpath("data/default-dataset.yaml").read_text()
            raw = booking_format.parse_yaml(text)
        else:
            raw = booking_format.load_yaml(path)
    except FormatError as exc:
        raise DatasetError(exc.path, exc.message, source) from None
    if extra_hosts and isinstance(raw, dict) and isinstance(raw.get("hosts"), list):
        raw["hosts"] = [*raw["hosts"], *extra_hosts]
    return parse_dataset(raw, source)
