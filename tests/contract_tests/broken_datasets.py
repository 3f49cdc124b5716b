"""The default dataset, read and edited: for faults that are a dataset contradicting the profile.

The suite is given the default profile; a server started on an edited copy of the
default dataset breaks a rule the profile promises (no minimum notice, nothing
required) without any code of ours in the way.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tests.faults import reference

Change = Callable[[dict[str, Any]], None]


def default_dataset() -> dict[str, Any]:
    text = resources.files("mock_server").joinpath("data/default-dataset.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def every_event(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for host in data["hosts"] for event in host["eventTypes"]]


def write_dataset(directory: Path, change: Change) -> Path:
    """The default dataset with `change` applied, as a file for Settings(dataset=...)."""
    data = default_dataset()
    change(data)
    path = directory / "dataset.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def on_dataset(change: Change) -> Callable[[Path], Any]:
    """A Fault's build: the reference on the default dataset with `change` applied."""
    return lambda tmp: reference(dataset=write_dataset(tmp, change))


def set_all(key: str, value: Any) -> Change:
    """Every event type's ``key`` set to ``value``."""

    def change(data: dict[str, Any]) -> None:
        for event in every_event(data):
            event[key] = value

    return change


def nothing_required(data: dict[str, Any]) -> None:
    for event in every_event(data):
        for custom_field in event.get("customFields", []):
            custom_field["required"] = False


def durations() -> dict[str, int]:
    """Event slug -> minutes, from the default dataset."""
    return {event["slug"]: event["durationMinutes"] for event in every_event(default_dataset())}
