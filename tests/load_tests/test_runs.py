"""Short headless Locust runs: the reference passes, every broken limiter fails and is named.

Each run is the real command line (``python -m locust -f load_tests/locustfile.py``)
against a server on a free loopback port, with a 5-per-2-seconds limit so a few
seconds show several windows. In xff mode the run has a forging probe of each kind
(a hop ahead through the trusted proxy, and an untrusted loopback peer); in source
mode, the untrusted peer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from load_tests import locustfile_path
from tests import faults
from tests.faults import limiters
from tests.servers import serve_app

RATE_LIMIT = "5/2 seconds"
LIMIT, WINDOW = 5, 2.0
RUN_TIME = 6  # seconds: a probe cycle, burst, pace and rest, takes about 5
# The forging probes' own addresses (clients.ClientAllocator.forger): the top of the
# X-Forwarded-For range, and the first loopback address (xff mode) or the top one.
HOP_AHEAD = "198.19.255.254"
UNTRUSTED_PEER = {"xff": "127.0.0.2", "source": "127.255.255.254"}


@dataclass
class Run:
    exit_code: int
    output: str
    verdict: dict[str, Any]

    @property
    def violations(self) -> set[str]:
        return set(self.verdict["violations"])


def locust(
    host: str,
    tmp_path: Path,
    *,
    mode: str = "xff",
    users: int = 7,
    probes: int = 3,
    processes: int | None = None,
    classes: tuple[str, ...] = (),
    forging: int = 1,
    options: tuple[str, ...] = (),
) -> Run:
    verdict = tmp_path / f"verdict-{len(list(tmp_path.iterdir()))}.json"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile_path()),
        "--host",
        host,
        "--headless",
        "-u",
        str(users),
        "-r",
        "100",
        "-t",
        f"{RUN_TIME}s",
        "--rate-limit",
        RATE_LIMIT,
        "--client-mode",
        mode,
        "--probes",
        str(probes),
        "--forging-probes",
        str(forging),
        "--only-summary",
        "--verdict-json",
        str(verdict),
    ]
    if processes:
        command += ["--processes", str(processes)]
    command += options
    command += classes
    # Its own session, so a run that hangs can be stopped with every worker it forked.
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=RUN_TIME + 60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the Locust run did not stop:\n{output}")
    assert verdict.exists(), output
    return Run(process.returncode, output, json.loads(verdict.read_text()))


def assert_passes(run: Run) -> None:
    assert run.exit_code == 0, run.output
    assert run.verdict["ok"], run.output
    assert "Verdict: PASS" in run.output
    refused = sum(c["refused"] for c in run.verdict["clients"])
    assert refused > 0, "the probes never reached the limit"


def assert_fails_naming(run: Run, violation: str) -> None:
    assert run.exit_code == 1, run.output
    assert violation in run.violations, run.output
    verdict_line = next(line for line in run.output.splitlines() if line.startswith("Verdict:"))
    assert "FAIL" in verdict_line and violation in verdict_line


def client(run: Run, name: str) -> dict[str, Any]:
    return next(c for c in run.verdict["clients"] if c["client"] == name)


# The reference implementation passes, as many clients either way.


def test_the_reference_passes_with_x_forwarded_for_clients(tmp_path):
    app = faults.reference(rate_limit=RATE_LIMIT, forwarded_allow_ips=["127.0.0.1"])
    with serve_app(app) as url:
        run = locust(url, tmp_path, mode="xff")
    assert_passes(run)
    honest = {f"198.18.0.{n}" for n in range(1, 6)}
    forgers = {HOP_AHEAD, UNTRUSTED_PEER["xff"]}
    assert {c["client"] for c in run.verdict["clients"]} == honest | forgers
    # Each forger was limited as itself, whatever it forged.
    assert all(client(run, name)["refused"] > 0 for name in forgers), run.output


def test_the_reference_passes_with_clients_on_their_own_source_addresses(tmp_path):
    with serve_app(faults.reference(rate_limit=RATE_LIMIT)) as url:
        run = locust(url, tmp_path, mode="source")
    assert_passes(run)
    honest = {f"127.0.0.{n}" for n in range(2, 8)}
    assert {c["client"] for c in run.verdict["clients"]} == honest | {UNTRUSTED_PEER["source"]}
    assert client(run, UNTRUSTED_PEER["source"])["refused"] > 0, run.output


def test_clients_the_target_cannot_tell_apart_are_found_affecting_each_other(tmp_path):
    # X-Forwarded-For to a target that trusts no proxy: every client is 127.0.0.1 to it.
    with serve_app(faults.reference(rate_limit=RATE_LIMIT)) as url:
        run = locust(url, tmp_path, mode="xff")
    assert_fails_naming(run, "client-interference")


# Every broken limiter fails the run, and the verdict names what broke.

BROKEN = {
    "off by one": (limiters.OffByOne, "limit-exceeded"),
    "too strict": (limiters.TooStrict, "refused-under-limit"),
    "one global bucket": (limiters.GlobalBucket, "client-interference"),
    "fixed window": (limiters.FixedWindow, "limit-exceeded"),
    "missing Retry-After": (limiters.NoRetryAfter, "retry-after-invalid"),
    "Retry-After too short": (limiters.ShortRetryAfter, "retry-refused"),
    "429s extend the lockout": (limiters.RefusalsCounted, "refused-under-limit"),
    "only successes counted": (limiters.OnlySuccesses, "limit-exceeded"),
}


@pytest.mark.parametrize(("limiter", "violation"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_limiter_fails_the_run_and_is_named(tmp_path, limiter, violation):
    with serve_app(faults.behind_limiter(limiter(LIMIT, WINDOW))) as url:
        run = locust(url, tmp_path)
    assert_fails_naming(run, violation)
    if limiter is limiters.TooStrict:
        assert "client-interference" not in run.violations


# Each broken RateLimit field, X-Forwarded-For reading or cross-event-type race fails
# the run, named; the limit itself holds, so nothing else is found.


def test_a_broken_limiters_run_writes_the_ci_summary_naming_the_violation(tmp_path, monkeypatch):
    summary = tmp_path.parent / f"{tmp_path.name}-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with serve_app(faults.behind_limiter(limiters.OffByOne(LIMIT, WINDOW))) as url:
        run = locust(url, tmp_path)
    assert_fails_naming(run, "limit-exceeded")
    text = summary.read_text()
    assert text.startswith("### ❌ Load run, rate-limit verifier: FAIL")
    assert "| limit-exceeded |" in text


def test_the_gate_that_breaks_them_passes_with_a_correct_limiter(tmp_path):
    with serve_app(faults.behind_limiter(limiters.SlidingWindow(LIMIT, WINDOW))) as url:
        run = locust(url, tmp_path)
    assert_passes(run)


# name: (limiter model, client-IP reading, the violation, the only clients it is found on)
BROKEN_ALONE = {
    "r never counts down": (
        limiters.StuckRemaining,
        faults.trusted_client,
        "ratelimit-remaining-wrong",
        None,
    ),
    "t always the window": (
        limiters.ResetIsWindow,
        faults.trusted_client,
        "ratelimit-reset-wrong",
        None,
    ),
    "the policy states another limit": (
        limiters.WrongPolicy,
        faults.trusted_client,
        "ratelimit-policy-wrong",
        None,
    ),
    "an untrusted peer's X-Forwarded-For honoured": (
        limiters.SlidingWindow,
        faults.any_peer_trusted,
        "forged-hop-counted",
        {UNTRUSTED_PEER["xff"]},
    ),
    "the left-most hop taken behind the proxy": (
        limiters.SlidingWindow,
        faults.left_most_hop,
        "forged-hop-counted",
        {HOP_AHEAD},
    ),
}


@pytest.mark.parametrize(
    ("limiter", "client_ip", "violation", "found_on"), BROKEN_ALONE.values(), ids=BROKEN_ALONE
)
def test_a_broken_field_or_client_reading_fails_the_run_named_alone(
    tmp_path, limiter, client_ip, violation, found_on
):
    with serve_app(faults.behind_limiter(limiter(LIMIT, WINDOW), client_ip)) as url:
        run = locust(url, tmp_path)
    assert_fails_naming(run, violation)
    assert run.violations == {violation}, run.output
    if found_on is not None:
        assert {f["client"] for f in run.verdict["findings"]} == found_on, run.output


def test_a_race_across_event_types_of_one_host_fails_the_run(tmp_path):
    # Atomic per event type only: two event types of one host race.
    store = faults.BrokenStore("atomic per event type only")
    app = faults.behind_limiter(limiters.SlidingWindow(LIMIT, WINDOW), store=store)
    with serve_app(app) as url:
        # Booking users only: now and then two race for overlapping slots of one host.
        run = locust(url, tmp_path, users=10, probes=0, classes=("BookingUser",))
    assert_fails_naming(run, "double-booking")
    assert run.violations == {"double-booking"}, run.output


def test_a_double_booking_race_fails_the_run(tmp_path):
    store = faults.BrokenStore("not atomic")  # checks, pauses, then inserts
    app = faults.reference(store=store, rate_limit=RATE_LIMIT, forwarded_allow_ips=["127.0.0.1"])
    with serve_app(app) as url:
        # Booking users only: each races now and then for one slot with three requests.
        run = locust(url, tmp_path, users=10, probes=0, classes=("BookingUser",))
    assert_fails_naming(run, "double-booking")


# Distributed: master and two workers reach the single process's verdict.


def test_a_distributed_run_passes_the_reference_like_a_single_process(tmp_path):
    app = faults.reference(rate_limit=RATE_LIMIT, forwarded_allow_ips=["127.0.0.1"])
    with serve_app(app) as url:
        run = locust(url, tmp_path, processes=2)
    assert_passes(run)
    # Both workers' clients reached the master's verifier.
    assert len(run.verdict["clients"]) == 7
    assert run.output.count("reported as ready") >= 2


def test_a_distributed_run_fails_a_broken_limiter_like_a_single_process(tmp_path):
    with serve_app(faults.behind_limiter(limiters.OffByOne(LIMIT, WINDOW))) as url:
        single = locust(url, tmp_path)
    page, junit = tmp_path / "verdict.html", tmp_path / "verdict.xml"
    reports = ("--verdict-html", str(page), "--verdict-junit", str(junit))
    with serve_app(faults.behind_limiter(limiters.OffByOne(LIMIT, WINDOW))) as url:
        distributed = locust(url, tmp_path, processes=2, options=reports)
    assert_fails_naming(single, "limit-exceeded")
    assert_fails_naming(distributed, "limit-exceeded")
    assert single.violations == distributed.violations == {"limit-exceeded"}
    # The master draws the workers' clients, as a single process draws its own.
    html = page.read_text()
    clients = distributed.verdict["clients"]
    violating = [c for c in clients if c["violations"]]
    assert html.count('class="client-chart') == min(12, len(clients)) == 7
    assert html.count('class="client-chart violating"') == len(violating)
    assert html.count('"meta":"violations"') == len(violating)
    cases = {case.get("name"): case for case in ElementTree.parse(junit).getroot()}
    assert cases["limit-exceeded"].find("failure") is not None
    assert all(
        case.find("failure") is None for name, case in cases.items() if name != "limit-exceeded"
    )


def test_a_run_prints_the_verifiers_progress_once_a_window(tmp_path):
    with serve_app(faults.behind_limiter(limiters.OffByOne(LIMIT, WINDOW))) as url:
        run = locust(url, tmp_path)
    lines = [li for li in run.output.splitlines() if "rate-limit verifier: +" in li]
    assert RUN_TIME // WINDOW - 1 <= len(lines) <= RUN_TIME // WINDOW, run.output
    assert "clients judged, violations so far: " in lines[-1]
    assert "limit-exceeded" in lines[-1]  # the probes overrun the limit in the first window
