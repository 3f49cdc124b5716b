"""The contract run's progress lines: each rule group as it finishes, each long wait as it starts.

A run against a slow staging (15 requests a minute) spends most of its time waiting
for the rate limit; without ``-v`` pytest shows a dot per test and nothing while the
suite waits. ``Progress`` writes one line when the last test of a rule group ends
(its outcomes and the time its tests took) and one line before a wait of at least
``MIN_WAIT`` seconds (what for, and for how long); shorter waits stay quiet.

Waits are announced from the thread that waits, a background probe's too, but only
the main thread writes: pytest captures a test's output at the file-descriptor level,
and only the thread that runs the test may lift that capture for a line (as pytest's
own live logging does) without racing pytest's switching of it between phases. So a
probe's line waits in a queue until the main thread next writes: at the end of each
test, before a wait of its own, and every half second while a test waits for that
probe's result (``probe_runner.Probes``'s ``on_idle``). Lines never interleave, and a
probe's "waiting 60 s" shows within a second of when it matters.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest

from .step_summary import ContractSummary

# Waits shorter than this are not worth a line.
MIN_WAIT = 3.0
# The waits a run keeps for its HTML report; a staging run has a few dozen.
KEPT_WAITS = 500


@dataclass(frozen=True)
class Wait:
    """One announced wait: when it began (seconds into the run), who waits, how long, why."""

    at: float
    who: str
    seconds: float
    why: str


def clock(seconds: float) -> str:
    """Seconds into the run as m:ss."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


class Progress:
    """Writes the progress lines of one run through ``write`` (the terminal's write_line)."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        min_wait: float = MIN_WAIT,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self.min_wait = min_wait
        self._now = now
        self.started = now()
        self.closed = False
        self.waits: list[Wait] = []
        self._queued: deque[str] = deque()  # lines of other threads, for the main thread
        self._lock = threading.Lock()
        self._group_of: dict[str, str] = {}
        self._left: Counter[str] = Counter()
        self._spent: defaultdict[str, float] = defaultdict(float)

    def write(self, line: str) -> None:
        """Write a line now (the main thread) or queue it for the main thread (any other)."""
        line = f"contract [{clock(self._now() - self.started)}] {line}"
        if threading.current_thread() is not threading.main_thread():
            with self._lock:
                if not self.closed:
                    self._queued.append(line)
            return
        self.flush()
        if not self.closed:
            self._write(line)

    def flush(self) -> None:
        """Write the lines other threads queued; only the main thread writes."""
        if threading.current_thread() is not threading.main_thread():
            return
        while True:
            with self._lock:
                if not self._queued or self.closed:
                    return
                line = self._queued.popleft()
            self._write(line)

    def close(self) -> None:
        """No more lines: the run's summary is being written (a probe may still be waiting)."""
        self.flush()
        with self._lock:
            self.closed = True

    def expect(self, tests: Mapping[str, str]) -> None:
        """The tests the run will run (node ids), each with its rule group."""
        self._group_of.update(tests)
        self._left.update(tests.values())

    def test_time(self, nodeid: str, seconds: float) -> None:
        """A phase of a test took seconds."""
        group = self._group_of.get(nodeid)
        if group is not None:
            self._spent[group] += seconds

    def test_finished(self, nodeid: str, outcomes: ContractSummary) -> None:
        """A test ended; the last of its rule group writes the group's line."""
        group = self._group_of.pop(nodeid, None)
        if group is None:
            return
        self._left[group] -= 1
        counts = outcomes.groups.get(group)
        if self._left[group] == 0 and counts is not None:
            self.write(
                f"{group}: {counts.passed} passed, {counts.failed} failed,"
                f" {counts.skipped} skipped in {self._spent[group]:.1f} s"
            )

    def waiting(self, who: str, seconds: float, why: str) -> None:
        """ClientPool's on_wait: a line for a long wait, from whichever thread waits."""
        if seconds < self.min_wait:
            return
        with self._lock:
            if len(self.waits) < KEPT_WAITS:
                self.waits.append(Wait(self._now() - self.started, who, seconds, why))
        self.write(f"waiting {seconds:.0f} s for {why} ({who})")


class ProgressHooks:
    """Progress in a pytest run: queued lines and the group's line after each test.

    The plugin registers one for a run of the suite.
    """

    def __init__(self, progress: Progress, outcomes: Callable[[], ContractSummary | None]) -> None:
        self.progress = progress
        self.outcomes = outcomes

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.progress.test_time(report.nodeid, report.duration)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        # After the terminal's own end of the test (-q: a percentage may end its line).
        self.progress.flush()
        outcomes = self.outcomes()
        if outcomes is not None:
            self.progress.test_finished(nodeid, outcomes)


def terminal_progress(
    config: pytest.Config, outcomes: Callable[[], ContractSummary | None]
) -> Progress | None:
    """A run's Progress, written by pytest's terminal reporter (None without a terminal).

    ``outcomes`` gives the run's outcomes by rule group so far, for the group lines.
    """
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None:
        return None
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        # A wait inside a test: lift the capture for the line, as pytest's live logging does.
        lifted = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        with lifted:
            # -q's dots leave the line open without the reporter knowing; start a new one.
            if getattr(getattr(terminal, "_tw", None), "width_of_current_line", 0):
                terminal.write("\n")
            terminal.write_line(line)
            terminal.flush()  # a CI log is a pipe: the line must not wait in a buffer

    progress = Progress(write)
    config.pluginmanager.register(ProgressHooks(progress, outcomes), "contract_tests.progress")
    return progress
