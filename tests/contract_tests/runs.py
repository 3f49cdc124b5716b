"""Running the contract suite as CI would, in a subprocess, and reading its JUnit report."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import contract_tests

REPO = Path(__file__).resolve().parents[2]
FUZZ_MODULE = Path(contract_tests.__file__).resolve().parent / "test_fuzz.py"
# Plugins of the environment the suite never uses; they only cost start-up time.
QUIET_PLUGINS = ["-p", "no:faker", "-p", "no:locust", "-p", "no:anyio"]
# Without the fuzzing module, Schemathesis and Hypothesis are not needed at all.
NO_FUZZING = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "--ignore"]


@dataclass
class Run:
    """One run of booking-contract: its exit code, output, and each test's outcome."""

    command: list[str]
    returncode: int
    output: str
    outcomes: dict[str, str] = field(default_factory=dict)  # test name -> passed/failed/skipped
    messages: dict[str, str] = field(default_factory=dict)  # test name -> failure text
    seconds: float = 0.0

    def named(self, outcome: str) -> list[str]:
        return sorted(name for name, value in self.outcomes.items() if value == outcome)

    def describe(self) -> str:
        return f"$ {' '.join(self.command)}\nexit {self.returncode}\n{self.output[-6000:]}"


def read_junit(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    if not path.exists():
        return outcomes, messages
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                messages[name] = (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
                messages[name] = child.get("message") or ""
        outcomes[name] = outcome
    return outcomes, messages


def run_suite(
    base_url: str,
    junit: Path,
    *,
    select: str | None = None,
    args: tuple[str, ...] = (),
    fuzz: bool = True,
    timeout: float = 400,
) -> Run:
    """Run `python -m contract_tests` (booking-contract) against base_url, from junit's folder."""
    command = [
        sys.executable,
        "-m",
        "contract_tests",
        "--base-url",
        base_url,
        "--junit",
        str(junit),
        *args,
    ]
    if select:
        command += ["-k", select]
    command += ["-q", "--", *QUIET_PLUGINS]
    if not fuzz:
        command += [*NO_FUZZING, str(FUZZ_MODULE)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=junit.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcomes, messages = read_junit(junit)
    return Run(
        command,
        completed.returncode,
        completed.stdout + completed.stderr,
        outcomes,
        messages,
        time.monotonic() - started,
    )
