"""The ways to run the suite: booking-contract, pytest contract_tests (here and from elsewhere)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

from contract_tests import cli
from contract_tests.plugin import PACKAGE_DIR, _resolve, _translate
from contract_tests.target import Exchange
from tests.servers import serve_app

from . import broken
from .runs import FUZZ_MODULE, NO_FUZZING, QUIET_PLUGINS, REPO, read_junit

QUICK = "rule_2_unknown_user or rule_10_phone"


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    with serve_app(broken.reference()) as url:
        yield url


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *args,
            *QUIET_PLUGINS,
            "-p",
            "no:cacheprovider",
            *NO_FUZZING,
            str(FUZZ_MODULE),
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_contract_tests_argument_names_the_package_when_no_such_folder_is_here(
    tmp_path: Path,
) -> None:
    assert _resolve("contract_tests", tmp_path) == str(PACKAGE_DIR)
    assert _resolve("contract_tests/test_rules.py::test_x", tmp_path) == (
        str(PACKAGE_DIR / "test_rules.py") + "::test_x"
    )
    assert _resolve("contract_tests::test_x", tmp_path) == str(PACKAGE_DIR) + "::test_x"
    assert _resolve("tests/contract_tests", tmp_path) == "tests/contract_tests"
    (tmp_path / "contract_tests").mkdir()
    assert _resolve("contract_tests", tmp_path) == "contract_tests"


def test_pytest_contract_tests_runs_in_the_repository(reference_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = _pytest(
        REPO,
        "contract_tests",
        "--base-url",
        reference_url,
        "--rate-limit",
        broken.UNLIMITED,
        "-k",
        QUICK,
        "--junitxml",
        str(junit),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(read_junit(junit)[0].values()) == {"passed"}
    assert len(read_junit(junit)[0]) == 2


def test_pytest_contract_tests_runs_from_any_directory(reference_url: str, tmp_path: Path) -> None:
    if not any(ep.name == "contract_tests.plugin" for ep in entry_points(group="pytest11")):
        pytest.skip("the toolkit is not installed (pip install -e .): no pytest11 entry point")
    result = _pytest(
        tmp_path,
        "contract_tests",
        "--base-url",
        reference_url,
        "--rate-limit",
        broken.UNLIMITED,
        "-k",
        QUICK,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_suite_without_a_base_url_says_what_it_needs(tmp_path: Path) -> None:
    result = _pytest(REPO, "contract_tests", "-k", QUICK)
    assert result.returncode == 4
    assert "--base-url URL" in result.stderr


def test_booking_contract_exits_1_on_a_bad_profile_or_limit(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: []\nrateLimit: {limit: 15, windowSeconds: 60}\n")
    assert cli.main(["--base-url", "http://127.0.0.1:9", "--profile", str(bad)]) == 1
    assert "hosts: [] should be non-empty" in capsys.readouterr().err
    assert cli.main(["--base-url", "http://127.0.0.1:9", "--rate-limit", "lots"]) == 1
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 1


def test_booking_contract_passes_its_options_to_pytest() -> None:
    args = cli.build_parser().parse_args(
        [
            "--base-url",
            "http://staging:8080",
            "--profile",
            "p.yaml",
            "--junit",
            "out.xml",
            "--html",
            "report.html",
            "-k",
            "rule_8",
            "--rate-limit",
            "15/10 seconds",
            "--trusts-forwarded-for",
            "--",
            "-x",
        ]
    )
    line = cli.pytest_args(args)
    assert line[0] == str(PACKAGE_DIR)
    joined = " ".join(line)
    for part in (
        "--contract-base-url http://staging:8080",
        "--contract-profile p.yaml",
        "--junitxml out.xml",
        "--contract-html report.html",
        "-k rule_8",
        "--contract-rate-limit 15/10 seconds",
        "--trusts-forwarded-for",
    ):
        assert part in joined
    assert line[-1] == "-x"


def test_the_curl_line_sends_the_same_request() -> None:
    exchange = Exchange(
        method="POST",
        url="http://127.0.0.1:8080/api/public/scheduling/jane-doe/30min-call/book",
        request_headers={"Content-Type": "application/json", "X-Forwarded-For": "198.18.0.1"},
        request_body=b'{"inviteeName": "O\'Brien"}',
        status=400,
        response_headers=httpx.Headers({"content-type": "application/json"}),
        response_body=b'{"error": "x"}',
        client="198.18.0.1",
        elapsed=0.01,
    )
    words = shlex.split(exchange.curl())
    assert words[:5] == ["curl", "-i", "-X", "POST", exchange.url]
    assert words[words.index("--data-raw") + 1] == '{"inviteeName": "O\'Brien"}'
    assert "X-Forwarded-For: 198.18.0.1" in words
    assert "< 400" in exchange.describe()


def test_short_option_names_become_the_plugins_own_only_for_a_run_of_the_suite() -> None:
    args, values = _translate(
        ["contract_tests", "--base-url", "http://x:1", "--profile=p.yaml", "--rate-limit", "5/s"]
    )
    assert args == [
        "contract_tests",
        "--contract-base-url",
        "http://x:1",
        "--contract-profile=p.yaml",
        "--contract-rate-limit",
        "5/s",
    ]
    assert values == {"http://x:1", "5/s"}
