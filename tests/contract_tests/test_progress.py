"""The contract run's progress without -v: a line per rule group, a line per long wait."""

from __future__ import annotations

import re
import threading

from contract_tests.plugin import rule_of
from contract_tests.progress import Progress
from contract_tests.step_summary import ContractSummary
from tests.contract_tests.broken import FAULTS
from tests.contract_tests.runs import run_suite
from tests.faults import reference
from tests.servers import serve_app

BROKEN = next(fault for fault in FAULTS if fault.name == "body validated before the 404")
LINE = re.compile(r"^contract \[\d+:\d\d\] (.*)$", re.M)


def _group_line(group: str, run_output: str) -> list[str]:
    return [line for line in LINE.findall(run_output) if line.startswith(f"{group}: ")]


def test_a_quiet_run_prints_each_rule_group_as_it_finishes_with_its_outcomes(tmp_path):
    with serve_app(BROKEN.build(tmp_path)) as url:
        run = run_suite(
            url, tmp_path / "junit.xml", select="rule_2 or rule_4", args=BROKEN.args, fuzz=False
        )
    assert run.returncode == 1, run.describe()
    groups: dict[str, dict[str, int]] = {}
    for name, outcome in run.outcomes.items():
        counts = groups.setdefault(rule_of(re.sub(r"\[.*", "", name)), {})
        counts[outcome] = counts.get(outcome, 0) + 1
    assert len(groups) == 2 and any(c.get("failed") for c in groups.values())
    for group, counts in groups.items():
        (line,) = _group_line(group, run.output)
        expected = (
            f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed,"
            f" {counts.get('skipped', 0)} skipped in "
        )
        assert line.removeprefix(f"{group}: ").startswith(expected), line


def test_a_long_wait_for_the_rate_limit_gets_a_line_saying_what_for_and_how_long(tmp_path):
    limit = "3/4 seconds"
    with serve_app(reference(rate_limit=limit)) as url:
        run = run_suite(
            url,
            tmp_path / "junit.xml",
            select="rule_2 and not before",
            args=("--rate-limit", limit),
            fuzz=False,
        )
    assert run.returncode == 0, run.describe()
    waits = [line for line in LINE.findall(run.output) if line.startswith("waiting ")]
    assert waits, run.output
    match = re.fullmatch(
        r"waiting (\d+) s for a request to leave the 4 s window \(client this machine\)", waits[0]
    )
    assert match, waits
    assert 3 <= int(match[1]) <= 4


def test_short_waits_stay_quiet():
    lines: list[str] = []
    progress = Progress(lines.append, min_wait=3)
    progress.waiting("client this machine", 2.9, "a request to leave the 60 s window")
    assert lines == []
    progress.waiting("client this machine", 59.5, "a request to leave the 60 s window")
    assert len(lines) == 1 and lines[0].endswith(
        "waiting 60 s for a request to leave the 60 s window (client this machine)"
    )


def test_a_background_probes_line_is_written_by_the_main_thread_only():
    written: list[tuple[str, str]] = []
    progress = Progress(lambda line: written.append((threading.current_thread().name, line)))
    probe = threading.Thread(
        target=progress.waiting,
        args=("the exhaust probe, client 127.9.0.1", 58, "a request to leave the 60 s window"),
        name="probe",
    )
    probe.start()
    probe.join()
    assert written == []  # queued: pytest's capture is the main thread's to lift
    progress.flush()
    assert [name for name, _ in written] == [threading.main_thread().name]
    assert "(the exhaust probe, client 127.9.0.1)" in written[0][1]


def test_the_group_line_comes_with_the_groups_last_test():
    lines: list[str] = []
    progress = Progress(lines.append)
    progress.expect({"a::test_rule_2_x": "Rule 2", "a::test_rule_2_y": "Rule 2"})
    outcomes = ContractSummary(lambda name: "Rule 2")
    for nodeid in ("a::test_rule_2_x", "a::test_rule_2_y"):
        outcomes.add(_PassedCall(nodeid))
        progress.test_time(nodeid, 1.25)
        progress.test_finished(nodeid, outcomes)
        if nodeid.endswith("_x"):
            assert lines == []
    assert [line.split("] ", 1)[1] for line in lines] == [
        "Rule 2: 2 passed, 0 failed, 0 skipped in 2.5 s"
    ]


class _PassedCall:
    """A passed call, as ContractSummary reads pytest's report."""

    when = "call"
    passed, failed, skipped = True, False, False
    longrepr = None

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
