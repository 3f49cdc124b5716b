"""Profiles: the shipped ones load, the default one is the default dataset, bad ones say why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from contract_tests.profile import (
    DEFAULT_PROFILE,
    PROFILES_DIR,
    ProfileError,
    load_profile,
    parse_profile,
    parse_rate_limit,
)

from .broken_datasets import default_dataset


def test_default_profile_describes_the_mock_default_dataset() -> None:
    profile = load_profile()
    dataset = default_dataset()
    assert [h.slug for h in profile.hosts] == [h["slug"] for h in dataset["hosts"]]
    for host, raw_host in zip(profile.hosts, dataset["hosts"], strict=True):
        assert host.timezone.key == raw_host["timezone"]
        assert host.phone == raw_host.get("phone")
        for index, day in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        ):
            windows = [
                f"{w.start:%H:%M}-{w.end:%H:%M}" if w.end else f"{w.start:%H:%M}-24:00"
                for w in host.weekly[index]
            ]
            assert windows == raw_host["availability"].get(day, []), (host.slug, day)
        for event_type, raw in zip(host.event_types, raw_host["eventTypes"], strict=True):
            assert (event_type.slug, event_type.id) == (raw["slug"], raw["id"])
            assert event_type.duration == timedelta(minutes=raw["durationMinutes"])
            assert event_type.slot_interval == timedelta(
                minutes=raw.get("slotIntervalMinutes", raw["durationMinutes"])
            )
            assert event_type.requires_approval == raw.get("requiresApproval", False)
            assert event_type.captcha == raw.get("captcha", False)
            assert event_type.minimum_notice == timedelta(
                minutes=raw.get("minimumNoticeMinutes", 60)
            )
            assert event_type.booking_horizon == timedelta(days=raw.get("bookingHorizonDays", 60))
            assert event_type.location.type == raw["location"]["type"]
            assert event_type.location.address == raw["location"].get("address")
            assert [(f.key, f.required) for f in event_type.custom_fields] == [
                (f["key"], f.get("required", False)) for f in raw.get("customFields", [])
            ]
    assert (profile.rate_limit.limit, profile.rate_limit.window) == (15, 60)
    assert profile.rate_limit.trusts_forwarded_for is False
    assert profile.captcha is not None
    assert profile.captcha.passing_token == "XXXX.DUMMY.TOKEN.XXXX"
    assert profile.captcha.failing_token == "invalid-token"


def test_staging_example_is_a_15_per_60_s_target_with_a_small_fuzzing_budget() -> None:
    profile = load_profile(PROFILES_DIR / "staging-example.yaml")
    assert (profile.rate_limit.limit, profile.rate_limit.window) == (15, 60)
    assert not profile.rate_limit.trusts_forwarded_for
    assert profile.fuzzing.max_examples < load_profile().fuzzing.max_examples
    assert not profile.fuzzing.coverage


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_PROFILE.read_text())


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (lambda raw: raw.pop("rateLimit"), "(top level)", "'rateLimit' is a required property"),
        (
            lambda raw: raw["rateLimit"].update(limit=0),
            "rateLimit.limit",
            "less than the minimum",
        ),
        (
            lambda raw: raw["hosts"][1].update(timezone="Mars/Olympus_Mons"),
            "hosts[1].timezone",
            "not an IANA time zone",
        ),
        (
            lambda raw: raw["hosts"][0]["availability"].update(monday=["17:00-09:00"]),
            "hosts[0].availability.monday[0]",
            "ends before it starts",
        ),
        (lambda raw: raw.pop("captcha"), "captcha", "passingToken and a failingToken"),
        (
            lambda raw: raw["hosts"][0]["eventTypes"][0].update(durationMinutes="30"),
            "hosts[0].eventTypes[0].durationMinutes",
            "is not of type 'integer'",
        ),
        (
            lambda raw: raw["hosts"][0]["eventTypes"][0].update(colour="red"),
            "hosts[0].eventTypes[0]",
            "Additional properties are not allowed",
        ),
    ],
    ids=["no rate limit", "zero limit", "unknown zone", "window", "no tokens", "type", "extra"],
)
def test_a_bad_profile_names_the_bad_entry(change, where: str, says: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(ProfileError) as error:
        parse_profile(raw, "my-profile.yaml")
    assert str(error.value).startswith(f"my-profile.yaml: {where}: "), str(error.value)
    assert says in str(error.value)


def test_a_profile_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rateLimit:\n  limit: [15\n")
    with pytest.raises(ProfileError, match=r"broken.yaml: line \d+, column \d+: not valid YAML"):
        load_profile(path)


def test_a_missing_profile_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_profile(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/minute", (15, 60)),
        ("15 per minute", (15, 60)),
        ("15/10 seconds", (15, 10)),
        ("30 per 4 seconds", (30, 4)),
        ("100/hour", (100, 3600)),
    ],
)
def test_rate_limits_read_as_limits_does(text: str, expected: tuple[int, int]) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize(
    "text", ["fifteen/minute", "15", "15/fortnight", "0/minute", "15/0 seconds"]
)
def test_a_bad_rate_limit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate limit|positive"):
        parse_rate_limit(text)


def test_the_command_line_overrides_the_profiles_rate_limit() -> None:
    profile = load_profile().with_rate_limit(30, 4, True)
    assert (profile.rate_limit.limit, profile.rate_limit.window) == (30, 4)
    assert profile.rate_limit.trusts_forwarded_for
    assert load_profile().with_rate_limit().rate_limit == load_profile().rate_limit
