"""The host format: one schema, one set of rules, the same error path from both loaders."""

from __future__ import annotations

import ast
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import booking_format
from booking_format import FormatError
from contract_tests.profile import PROFILES_DIR, ProfileError, load_profile, parse_profile
from mock_server.dataset import DatasetError, load_dataset, parse_dataset

from ..mock_server.test_dataset import host

REPO = Path(__file__).resolve().parents[2]
PROFILE_SCHEMA = PROFILES_DIR / "profile.schema.json"
DATASET_SCHEMA = REPO / "mock_server" / "data" / "dataset.schema.json"


def as_dataset(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"hosts": copy.deepcopy(hosts)}


def as_profile(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rateLimit": {"limit": 15, "windowSeconds": 60}, "hosts": copy.deepcopy(hosts)}


LOADERS: dict[str, tuple[Callable[..., Any], Callable[..., Any], type[FormatError]]] = {
    "dataset": (as_dataset, parse_dataset, DatasetError),
    "profile": (as_profile, parse_profile, ProfileError),
}


def refusal(loader: str, hosts: list[dict[str, Any]]) -> FormatError:
    wrap, parse, error = LOADERS[loader]
    with pytest.raises(error) as caught:
        parse(wrap(hosts), "mine.yaml")
    return caught.value


def event(**overrides: Any) -> dict[str, Any]:
    base = {"slug": "x", "id": "evt_x", "durationMinutes": 15, "location": {"type": "Zoom"}}
    return base | overrides


def second_host(*, without: str | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """A good first host and a second one with one bad entry: the path must say hosts[1]."""
    other = host(slug="bob", eventTypes=[event()]) | overrides
    if without:
        del other[without]
    return [host(), other]


BAD_ENTRIES = {
    "unknown zone": (
        second_host(timezone="Mars/Olympus_Mons"),
        "hosts[1].timezone",
        "'Mars/Olympus_Mons' is not an IANA time zone",
    ),
    "bad window shape": (
        second_host(availability={"monday": ["9-17"]}),
        "hosts[1].availability.monday[0]",
        "does not match",
    ),
    "window backwards": (
        second_host(availability={"tuesday": ["09:00-10:00", "17:00-09:00"]}),
        "hosts[1].availability.tuesday[1]",
        "the window '17:00-09:00' ends before it starts",
    ),
    "windows overlap": (
        second_host(availability={"friday": ["09:00-12:00", "11:00-24:00"]}),
        "hosts[1].availability.friday",
        "the windows overlap",
    ),
    "duplicate host slug": (second_host(slug="ann"), "hosts[1].slug", "duplicate host slug 'ann'"),
    "duplicate event type id across hosts": (
        second_host(eventTypes=[event(id="evt_1")]),
        "hosts[1].eventTypes[0].id",
        "duplicate event type id 'evt_1' (also in hosts[0].eventTypes[0])",
    ),
    "duplicate event type slug": (
        second_host(eventTypes=[event(), event(id="evt_y")]),
        "hosts[1].eventTypes[1].slug",
        "duplicate event type slug 'x'",
    ),
    "InPerson without address": (
        second_host(eventTypes=[event(location={"type": "InPerson"})]),
        "hosts[1].eventTypes[0].location.address",
        "an InPerson location needs an address",
    ),
    "Phone without a host phone": (
        second_host(without="phone", eventTypes=[event(location={"type": "Phone"})]),
        "hosts[1].phone",
        "a host with a Phone event type needs a phone",
    ),
    "duplicate custom field key": (
        second_host(eventTypes=[event(customFields=[{"key": "company"}, {"key": "company"}])]),
        "hosts[1].eventTypes[0].customFields[1].key",
        "duplicate custom field key 'company'",
    ),
    "empty name": (second_host(name=""), "hosts[1].name", "should be non-empty"),
    "unknown field": (
        second_host(colour="red"),
        "hosts[1]",
        "Additional properties are not allowed ('colour' was unexpected)",
    ),
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize(
    ("hosts", "path", "says"), list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES)
)
def test_one_bad_entry_is_named_by_its_path_from_either_loader(
    loader: str, hosts: list[dict[str, Any]], path: str, says: str
) -> None:
    error = refusal(loader, hosts)
    assert isinstance(error, FormatError)
    assert error.path == path
    assert str(error) == f"mine.yaml: {path}: {error.message}"
    assert says in error.message


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_both_loaders_say_the_same_words_for_the_same_entry(loader: str) -> None:
    other = "profile" if loader == "dataset" else "dataset"
    for hosts, _, _ in BAD_ENTRIES.values():
        mine, theirs = refusal(loader, hosts), refusal(other, hosts)
        assert (mine.path, mine.message) == (theirs.path, theirs.message)


def test_the_file_errors_are_the_same_from_both_loaders(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("hosts:\n  - slug: [unclosed\n")
    for load, error in ((load_dataset, DatasetError), (load_profile, ProfileError)):
        with pytest.raises(error, match=r"broken.yaml: line 3, column 1: not valid YAML"):
            load(broken)
        with pytest.raises(error, match=r"nope.yaml: \(file\): cannot read the file"):
            load(tmp_path / "nope.yaml")


def test_a_host_without_a_name_is_named_by_its_slug_in_both() -> None:
    nameless = [{k: v for k, v in host().items() if k != "name"}]
    assert parse_dataset(as_dataset(nameless)).hosts["ann"].name == "ann"
    assert parse_profile(as_profile(nameless)).hosts[0].name == "ann"


def test_what_only_the_suite_needs_is_refused_only_in_a_profile() -> None:
    """The mock may serve a host with no event types or no availability (a page's empty
    states); the suite books at every host it is told of, so a profile needs both."""
    idle = host(eventTypes=[])
    closed = host(availability={"sunday": []})
    assert parse_dataset(as_dataset([idle])).hosts["ann"].event_types == {}
    assert not any(parse_dataset(as_dataset([closed])).hosts["ann"].weekly)
    assert refusal("profile", [idle]).path == "hosts[0].eventTypes"
    assert "should be non-empty" in refusal("profile", [idle]).message
    assert refusal("profile", [closed]).path == "hosts[0].availability"
    assert "never available" in refusal("profile", [closed]).message


def test_the_defaults_are_the_schemas_in_both_loaders() -> None:
    """An event type with only what is required reads the same in both: the defaults come
    from the schema's ``default`` keywords, plus the interval (the duration) and the title."""
    event = {"slug": "call", "id": "evt_1", "durationMinutes": 45, "location": {"type": "Zoom"}}
    fields = [{"key": "company"}]
    raw = [host(eventTypes=[{**event, "customFields": fields}])]
    mock = parse_dataset(as_dataset(raw)).hosts["ann"].event_types["call"]
    suite = parse_profile(as_profile(raw)).hosts[0].event_types[0]
    defaults = booking_format.hosts_schema()["$defs"]["eventType"]["properties"]
    assert mock.minimum_notice_minutes * 60 == suite.minimum_notice.total_seconds()
    assert mock.minimum_notice_minutes == defaults["minimumNoticeMinutes"]["default"] == 60
    assert mock.booking_horizon_days == suite.booking_horizon.days == 60
    assert mock.slot_interval_minutes == suite.slot_interval.total_seconds() / 60 == 45
    assert (mock.buffer_before_minutes, mock.buffer_after_minutes) == (0, 0)
    assert suite.buffer_before == suite.buffer_after
    assert not (mock.requires_approval or mock.captcha or suite.requires_approval or suite.captcha)
    assert mock.title == "call"
    assert [(f.key, f.label, f.required) for f in mock.custom_fields] == [
        ("company", "company", False)
    ]
    assert [(f.key, f.required) for f in suite.custom_fields] == [("company", False)]


def test_every_shipped_dataset_and_profile_is_the_format() -> None:
    assert load_dataset().hosts
    for path in sorted(PROFILES_DIR.glob("*.yaml")):
        assert load_profile(path).hosts, path


def test_the_document_schemas_ref_the_one_hosts_schema() -> None:
    hosts = booking_format.hosts_schema()
    jsonschema.Draft202012Validator.check_schema(hosts)
    assert hosts["$id"] == "https://booking-toolkit.example/hosts.schema.json"
    for path in (DATASET_SCHEMA, PROFILE_SCHEMA):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["hosts"]["$ref"] == "hosts.schema.json", path
        assert "$defs" not in schema, f"{path} defines hosts of its own"
        # The $ref resolves, by the $id, to the hosts schema: its rules answer.
        validator = booking_format.document_validator(schema)
        errors = list(validator.iter_errors({"hosts": [host(timezone=3)]}))
        assert any(list(e.absolute_path) == ["hosts", 0, "timezone"] for e in errors), path


def test_the_format_imports_neither_the_reference_nor_its_judge() -> None:
    package = Path(booking_format.__file__).resolve().parent
    allowed = {"jsonschema", "referencing", "yaml", *sys.stdlib_module_names}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
