"""The contract suite judges the target, not itself: it passes against the reference and fails,
on the broken rule's own test, against each deliberately broken server.

Every run is a real `booking-contract` subprocess against a server on a free
loopback port. They are slow (a rate limit is a matter of waiting), so the runs
the selected tests need all start together, once, and each test reads its run.
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import free_port, serve_app, serve_process

from . import broken, broken_inputs, broken_limits
from .runs import Run, run_suite

# Short enough for a quick run, long enough that on a loaded CI machine the rate-limit
# probes' bursts still fit inside one window (with 4 s, Retry-After was sometimes
# too close to the whole window to judge, and the probe skipped).
SHORT_WINDOW = "30/6 seconds"


@dataclass(frozen=True)
class Job:
    name: str
    serve: Callable[[Path], contextlib.AbstractContextManager[str]]
    select: str | None
    args: tuple[str, ...]
    fuzz: bool


def _app(build: Callable[[Path], Any]) -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    return lambda tmp: serve_app(build(tmp))


def _process(*args: str) -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    return lambda tmp: serve_process(list(args), free_port())


def _independent(*args: str) -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """The correct server written from PRODUCT.md alone (tests/independent), as a process."""
    return lambda tmp: serve_process(
        list(args), free_port(), module="tests.independent", ready_path="/health"
    )


# A host with a DST change inside its booking horizon: the default dataset's
# horizon of 60 days holds none for most of the year.
DST_HOST = {
    "slug": "dst-host",
    "name": "Dee Ess Tee",
    "timezone": "America/New_York",
    "availability": {day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday")},
    "eventTypes": [
        {
            "slug": "30min-dst",
            "id": "evt_dst001",
            "durationMinutes": 30,
            "slotIntervalMinutes": 30,
            "bookingHorizonDays": 240,
            "location": {"type": "GoogleMeet"},
        }
    ],
}


def _dst_files(tmp: Path, server_zone: str) -> tuple[Path, Path]:
    dataset = tmp / "dst-dataset.yaml"
    dataset.write_text(
        yaml.safe_dump({"hosts": [{**DST_HOST, "timezone": server_zone}]}), encoding="utf-8"
    )
    profile = tmp / "dst-profile.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "DST host",
                "rateLimit": {"limit": 100000, "windowSeconds": 60},
                "target": {"controlApi": True},
                "hosts": [DST_HOST],
            }
        ),
        encoding="utf-8",
    )
    return dataset, profile


def _dst_job(name: str, server_zone: str) -> Job:
    def serve(tmp: Path) -> contextlib.AbstractContextManager[str]:
        dataset, _ = _dst_files(tmp, server_zone)
        return serve_app(broken.reference(dataset=dataset))

    return Job(name, serve, "rule_8_dst", ("--profile", "dst-profile.yaml"), False)


REFERENCE_JOBS = {
    # The control API pins the clock: every time rule is checked exactly, in any season.
    "short window, control-API clock": Job(
        "short window, control-API clock",
        _process("--rate-limit", SHORT_WINDOW),
        None,
        ("--rate-limit", SHORT_WINDOW, "--control-api"),
        True,
    ),
    "15 per minute, simulated clients, real clock": Job(
        "15 per minute, simulated clients, real clock",
        _process("--forwarded-allow-ips", "127.0.0.1"),
        None,
        ("--trusts-forwarded-for", "--no-control-api"),
        True,
    ),
}
# The other choice wherever PRODUCT leaves room (tests/independent/README.md).
INDEPENDENT_JOBS = {
    "independent, short window": Job(
        "independent, short window",
        _independent("--rate-limit", "30/6"),
        None,
        ("--rate-limit", SHORT_WINDOW, "--no-control-api"),
        True,
    ),
    "independent, simulated clients, HTTP-date Retry-After": Job(
        "independent, simulated clients, HTTP-date Retry-After",
        _independent(
            "--rate-limit",
            "15/10",
            "--forwarded-allow-ips",
            "127.0.0.1",
            "--retry-after",
            "http-date",
        ),
        None,
        ("--rate-limit", "15/10 seconds", "--trusts-forwarded-for", "--no-control-api"),
        True,
    ),
}
# Checks a run on the real clock may skip when now does not reach them; with the control
# API none of them may be skipped.
SEASONAL = ("dst_change", "minimum_notice_is_exact", "booking_horizon_is_exact")
DST_JOBS = {
    "reference": _dst_job("dst reference", "America/New_York"),
    "fixed offset": _dst_job("dst fixed offset", "Etc/GMT+5"),
}
ALL_FAULTS = [*broken.FAULTS, *broken_limits.FAULTS, *broken_inputs.FAULTS]
FAULT_JOBS = {
    fault.name: Job(fault.name, _app(fault.build), fault.select, fault.args, False)
    for fault in ALL_FAULTS
}


class Runner:
    """Runs jobs concurrently, each in a directory of its own; results by job name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Most of a run is waiting (for a rate-limit window, a subprocess to start), so
        # more runs than cores overlap well.
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.futures: dict[str, Future[Run]] = {}
        self.lock = threading.Lock()

    def start(self, job: Job) -> None:
        with self.lock:
            if job.name not in self.futures:
                self.futures[job.name] = self.pool.submit(self._run, job)

    def _run(self, job: Job) -> Run:
        tmp = self.root / "".join(c if c.isalnum() else "-" for c in job.name)
        tmp.mkdir(parents=True, exist_ok=True)
        with job.serve(tmp) as base_url:
            return run_suite(
                base_url, tmp / "junit.xml", select=job.select, args=job.args, fuzz=job.fuzz
            )

    def result(self, job: Job) -> Run:
        self.start(job)
        return self.futures[job.name].result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        timings = sorted(
            ((f.result().seconds, name) for name, f in self.futures.items() if f.done()),
            reverse=True,
        )
        (self.root / "timings.txt").write_text(
            "".join(f"{seconds:6.1f} s  {name}\n" for seconds, name in timings)
        )


def _wanted_jobs(items: list[pytest.Item]) -> list[Job]:
    jobs = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        if "fault" in params:
            jobs.append(FAULT_JOBS[params["fault"].name])
        elif "reference_run" in params:
            jobs.append(REFERENCE_JOBS[params["reference_run"]])
        elif "independent_run" in params:
            jobs.append(INDEPENDENT_JOBS[params["independent_run"]])
        elif item.name.startswith("test_dst_"):
            jobs += DST_JOBS.values()
    return jobs


@pytest.fixture(scope="module")
def runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runner]:
    runner = Runner(tmp_path_factory.mktemp("contract-runs"))
    # The slow runs first, so the short ones fill the time they wait.
    jobs = _wanted_jobs(request.session.items)
    slow = {*REFERENCE_JOBS, *INDEPENDENT_JOBS}
    for job in sorted(jobs, key=lambda j: j.name not in slow):
        runner.start(job)
    yield runner
    runner.close()


def _assert_passes(run: Run, *, control_api: bool) -> None:
    assert run.returncode == 0, run.describe()
    assert run.named("failed") == [], run.describe()
    assert len(run.named("passed")) > 100, run.describe()
    # What the configuration allows to skip, and nothing else.
    allowed = ("another_client", "spoofed_forwarded_for") + (() if control_api else SEASONAL)
    for name in run.named("skipped"):
        assert any(key in name for key in allowed), f"{name} was skipped: {run.messages[name]}"
    if control_api:
        assert "not checked:" not in run.output, run.describe()
    # Pacing gone wrong (whole windows waited for nothing) shows as minutes more.
    assert run.seconds < 240, f"the suite took {run.seconds:.0f} s"


@pytest.mark.parametrize("reference_run", list(REFERENCE_JOBS))
def test_suite_passes_against_the_reference(runner: Runner, reference_run: str) -> None:
    job = REFERENCE_JOBS[reference_run]
    _assert_passes(runner.result(job), control_api="--control-api" in job.args)


@pytest.mark.parametrize("independent_run", list(INDEPENDENT_JOBS))
def test_suite_passes_against_an_independent_correct_server(
    runner: Runner, independent_run: str
) -> None:
    """A server written from PRODUCT.md alone, making the other choice wherever it leaves room."""
    _assert_passes(runner.result(INDEPENDENT_JOBS[independent_run]), control_api=False)


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_dst_rule_passes_against_the_reference_and_fails_against_a_fixed_offset(
    runner: Runner, direction: str
) -> None:
    """Both DST changes are checked whatever the season: the suite pins the clock."""
    name = f"test_rule_8_dst_change_is_handled[{direction}]"
    good = runner.result(DST_JOBS["reference"])
    assert good.outcomes.get(name) == "passed", good.describe()
    bad = runner.result(DST_JOBS["fixed offset"])
    assert bad.outcomes.get(name) == "failed", bad.describe()
    assert bad.returncode == 1


def _rule_prefix(name: str) -> str:
    """The rule a test is named after: test_rule_8_, test_field_limits, test_error_format."""
    parts = name.split("_")
    return "_".join(parts[:3]) + "_" if parts[1] == "rule" else "_".join(parts[:3])


@pytest.mark.parametrize("fault", ALL_FAULTS, ids=[f.name for f in ALL_FAULTS])
def test_suite_fails_on_the_broken_rule(runner: Runner, fault: broken.Fault) -> None:
    run = runner.result(FAULT_JOBS[fault.name])
    failed = run.named("failed")
    assert run.returncode == 1, run.describe()
    for pattern in fault.fails:
        assert any(fnmatch.fnmatchcase(name, pattern) for name in failed), (
            f"{pattern} did not fail; failed: {failed}\n{run.describe()}"
        )
    rules = {_rule_prefix(pattern) for pattern in fault.fails}
    stray = [name for name in failed if _rule_prefix(name) not in rules]
    assert not stray, f"tests of other rules failed too: {stray}\n{run.describe()}"
    assert run.named("passed"), f"no neighbouring test passed\n{run.describe()}"
    # The failure report names the rule and shows how to reproduce the request.
    text = "\n".join(run.messages[name] for name in failed)
    assert "Broken: " in text and "curl " in text, text[:3000]
