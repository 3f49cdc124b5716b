"""Dataset files: the default loads, and every bad entry is named by its path."""

from __future__ import annotations

import pytest
import yaml

from mock_server.dataset import DatasetError, load_dataset, parse_dataset


def host(**overrides):
    base = {
        "slug": "ann",
        "name": "Ann",
        "timezone": "Europe/Paris",
        "phone": "+33 1 23 45 67 89",
        "availability": {"monday": ["09:00-12:00", "13:00-17:00"]},
        "eventTypes": [
            {"slug": "call", "id": "evt_1", "durationMinutes": 30, "location": {"type": "Zoom"}}
        ],
    }
    base.update(overrides)
    return base


def event(**overrides):
    base = {"slug": "call", "id": "evt_1", "durationMinutes": 30, "location": {"type": "Zoom"}}
    base.update(overrides)
    return base


def test_default_dataset_matches_product_md():
    dataset = load_dataset()
    jane, john = dataset.hosts["jane-doe"], dataset.hosts["john-smith"]
    assert str(jane.timezone) == "America/New_York" and str(john.timezone) == "Europe/Berlin"
    assert {
        e.slug: (e.id, e.duration_minutes, e.slot_interval_minutes)
        for e in jane.event_types.values()
    } == {
        "30min-call": ("evt_abc123", 30, 30),
        "60min-consult": ("evt_def456", 60, 30),
        "15min-captcha": ("evt_ghi789", 15, 15),
    }
    assert jane.event_types["60min-consult"].requires_approval
    assert jane.event_types["15min-captcha"].captcha
    assert john.event_types["15min-intro"].location.address == "Alexanderplatz 1, 10178 Berlin"
    assert all(
        e.minimum_notice_minutes == 60 and e.booking_horizon_days == 60
        for h in dataset.hosts.values()
        for e in h.event_types.values()
    )


def test_a_valid_custom_dataset_loads(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"hosts": [host()]}))
    dataset = load_dataset(path)
    assert list(dataset.hosts) == ["ann"]
    assert dataset.hosts["ann"].event_types["call"].slot_interval_minutes == 30


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({}, "(top level)", "'hosts' is a required property"),
        ({"hosts": [host(timezone="Mars/Base")]}, "hosts[0].timezone", "not an IANA time zone"),
        (
            {"hosts": [host(availability={"monday": ["9-17"]})]},
            "hosts[0].availability.monday[0]",
            "does not match",
        ),
        (
            {"hosts": [host(availability={"monday": ["17:00-09:00"]})]},
            "hosts[0].availability.monday[0]",
            "ends before it starts",
        ),
        (
            {"hosts": [host(availability={"monday": ["09:00-12:00", "11:00-13:00"]})]},
            "hosts[0].availability.monday",
            "overlap",
        ),
        ({"hosts": [host(availability={"funday": []})]}, "hosts[0].availability", "funday"),
        ({"hosts": [host(), host()]}, "hosts[1].slug", "duplicate host slug"),
        (
            {"hosts": [host(eventTypes=[event(), event()])]},
            "hosts[0].eventTypes[1].slug",
            "duplicate event type slug",
        ),
        (
            {"hosts": [host(eventTypes=[event(), event(slug="b")])]},
            "hosts[0].eventTypes[1].id",
            "duplicate event type id",
        ),
        (
            {"hosts": [host(eventTypes=[event(durationMinutes=0)])]},
            "hosts[0].eventTypes[0].durationMinutes",
            "less than the minimum",
        ),
        (
            {"hosts": [host(eventTypes=[event(location={"type": "InPerson"})])]},
            "hosts[0].eventTypes[0].location.address",
            "needs an address",
        ),
        (
            {"hosts": [host(phone=None, eventTypes=[event(location={"type": "Phone"})])]},
            "hosts[0].phone",
            "needs a phone",
        ),
        (
            {"hosts": [host(eventTypes=[event(location={"type": "Skype"})])]},
            "hosts[0].eventTypes[0].location.type",
            "Skype",
        ),
    ],
)
def test_bad_dataset_names_the_entry(raw, path, words):
    if raw.get("hosts") and raw["hosts"][0].get("phone", "") is None:
        del raw["hosts"][0]["phone"]
    with pytest.raises(DatasetError) as caught:
        parse_dataset(raw, "mine.yaml")
    assert caught.value.path == path
    assert words in str(caught.value)
    assert str(caught.value).startswith("mine.yaml: ")


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("hosts:\n  - slug: [unclosed\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert "line" in caught.value.path
    assert "not valid YAML" in str(caught.value)
