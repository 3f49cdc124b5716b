"""The README's CI jobs are valid YAML, and each of our commands in them is one its parser takes."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract_tests.cli import build_parser as contract_parser
from load_tests import locustfile_path
from mock_server.cli import build_parser as mock_parser

README = Path(__file__).resolve().parents[1] / "README.md"
JOBS = ("### A CI job: GitHub Actions", "### A CI job: GitLab CI")
# Locust's parser with the load tests' options, in a process of its own: importing
# Locust patches the standard library for gevent.
LOCUST_PARSER = """
import sys
from locust.argument_parser import get_parser
import load_tests.plugin  # noqa: F401 (adds the load tests' options)
get_parser().parse_args(sys.argv[1:])
"""


def job(heading: str) -> object:
    section = README.read_text().split(heading, 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, f"no YAML block after {heading!r}"
    return yaml.safe_load(block[1])


def shell_lines(node: object) -> list[str]:
    """Every shell line of a job: its GitHub `run:` steps and its GitLab `script:` items."""
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                out += value.splitlines()
            elif key == "script" and isinstance(value, list):
                out += [str(item) for item in value]
            else:
                out += shell_lines(value)
        return out
    if isinstance(node, list):
        return [line for item in node for line in shell_lines(item)]
    return []


def commands(heading: str, program: str) -> list[list[str]]:
    found = []
    for line in shell_lines(job(heading)):
        line = line.replace('"$(python -m load_tests)"', shlex.quote(str(locustfile_path())))
        line = re.sub(r"\s*(\|\| status=1|> \S+ 2>&1 &)\s*$", "", line.strip())
        words = shlex.split(line)
        if words and words[0] == program:
            found.append(words[1:])
    return found


@pytest.mark.parametrize("heading", JOBS)
def test_the_job_runs_the_mock_the_contract_suite_and_a_load_run_and_keeps_the_reports(heading):
    text = "\n".join(shell_lines(job(heading)))
    for program in ("booking-mock", "booking-contract", "locust"):
        assert program in text, program
    for report in ("--junit", "--html", "--verdict-html", "--verdict-junit"):
        assert report in text, report
    assert "reports/" in README.read_text().split(heading, 1)[1].split("```", 3)[1]


@pytest.mark.parametrize("heading", JOBS)
def test_each_booking_command_of_the_job_parses(heading):
    mocks = commands(heading, "booking-mock")
    contracts = commands(heading, "booking-contract")
    assert mocks and contracts
    for args in mocks:
        mock_parser().parse_args(args)
    for args in contracts:
        contract_parser().parse_args(args)


@pytest.mark.parametrize("heading", JOBS)
def test_each_locust_command_of_the_job_parses(heading):
    [args] = commands(heading, "locust")
    run = subprocess.run(
        [sys.executable, "-c", LOCUST_PARSER, *args], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
