"""Options into settings, records over the wire to the master, the printed verdict."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import msgpack

from contract_tests.profile import DEFAULT_PROFILE
from load_tests.clients import ClientMode, Forgery
from load_tests.report import format_verdict
from load_tests.settings import settings_from
from load_tests.verifier import Record, Slot, Violation, verify


def options(**fields: object) -> Namespace:
    defaults = {
        "target_profile": "",
        "rate_limit": "",
        "client_mode": "auto",
        "clients": 0,
        "probes": 2,
        "probe_pace": 2.0,
        "verdict_json": "",
    }
    return Namespace(**{**defaults, **fields})


def test_the_default_profile_is_the_contract_suites_and_its_limit_applies():
    settings = settings_from(options())
    assert settings.profile.source == str(DEFAULT_PROFILE)
    assert (settings.limit, settings.window) == (15, 60.0)
    # booking-mock trusts no proxy by default: one client unless told otherwise.
    assert settings.mode is ClientMode.SINGLE


def test_the_rate_limit_option_overrides_the_profile(tmp_path):
    settings = settings_from(options(rate_limit="5/2 seconds", client_mode="source"))
    assert (settings.limit, settings.window) == (5, 2.0)
    assert settings.mode is ClientMode.SOURCE


def test_auto_mode_uses_x_forwarded_for_when_the_profile_says_the_target_trusts_it(tmp_path):
    text = (
        Path(DEFAULT_PROFILE)
        .read_text()
        .replace("trustsForwardedFor: false", "trustsForwardedFor: true")
    )
    profile = tmp_path / "trusting.yaml"
    profile.write_text(text)
    assert settings_from(options(target_profile=str(profile))).mode is ClientMode.XFF


def test_forging_probes_are_those_that_apply_to_the_host_and_mode():
    local = "http://127.0.0.1:8080"
    settings = settings_from(options(client_mode="xff", host=local))
    assert settings.forgeries == (Forgery.HOP_AHEAD, Forgery.UNTRUSTED_PEER)
    assert settings.forging_probes == 1
    assert settings_from(options(client_mode="single", host=local)).forgeries == ()
    assert settings_from(options(client_mode="xff", host=local, forging_probes=0)).forgeries == ()


def test_records_survive_the_trip_from_a_worker_to_the_master():
    records = [
        Record("198.18.0.1", 1.5, 1.75, 429, {"retry-after": "3"}),
        Record("198.18.0.2", 2.0, 2.25, 201, {}, Slot("jane-doe", 10.0, 20.0)),
        Record("198.18.0.2", 2.0, 2.25, 0, {}, None, "connection refused"),
        Record("127.0.0.2", 2.5, 2.75, 400, {"ratelimit": None}, None, None, "203.0.113.7"),
    ]
    # As Locust's rpc.protocol.Message packs and unpacks a custom message's data
    # (imported, Locust would patch this test process for gevent).
    wire = msgpack.dumps(("booking_load:records", {"records": records}, "worker-1"))
    _, data, _ = msgpack.loads(wire, raw=False, strict_map_key=False)
    assert [Record.from_wire(fields) for fields in data["records"]] == records


def test_the_printed_verdict_has_a_row_per_client_and_names_each_violation():
    records = [Record("a", i * 0.1, i * 0.1 + 0.01, 400) for i in range(6)]
    records.append(Record("b", 0.0, 0.1, 503))
    text = format_verdict(verify(records, 5, 2.0, ratelimit_fields=False))
    lines = text.splitlines()
    assert lines[1].split() == [
        "client",
        "requests",
        "accepted",
        "429",
        "5xx/err",
        "booked",
        "peak",
        "max",
        "RA",
        "violations",
    ]
    assert any(line.startswith("a ") and "limit-exceeded x1" in line for line in lines)
    assert any(line.startswith("b ") and "server-error x1" in line for line in lines)
    assert "Verdict: FAIL, violations: limit-exceeded (1), server-error (1)" in text
    assert Violation.LIMIT_EXCEEDED.meaning in text


def test_a_clean_verdict_says_pass():
    text = format_verdict(verify([Record("a", 0.0, 0.1, 201)], 5, 2.0, ratelimit_fields=False))
    assert text.endswith("Verdict: PASS, no violation")
