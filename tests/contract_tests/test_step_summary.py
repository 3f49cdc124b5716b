"""The Markdown summary for CI: written where GITHUB_STEP_SUMMARY names a file, verdict first."""

from __future__ import annotations

from contract_tests.step_summary import append_step_summary, cell
from tests.contract_tests.broken import FAULTS
from tests.contract_tests.runs import run_suite
from tests.faults import UNLIMITED, reference
from tests.servers import serve_app

BROKEN = next(fault for fault in FAULTS if fault.name == "body validated before the 404")


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary("# x") is False
    assert list(tmp_path.iterdir()) == []


def test_summaries_are_appended_not_overwritten(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary("first") and append_step_summary("second")
    assert summary.read_text() == "first\n\nsecond\n\n"


def test_a_cell_is_one_line_with_its_pipes_escaped():
    assert cell("a | b\nc") == "a \\| b c"
    assert len(cell("x" * 500)) == 200


def test_a_passing_contract_run_summarises_each_rule_group(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with serve_app(reference(rate_limit="100000/minute")) as url:
        run = run_suite(
            url,
            tmp_path / "junit.xml",
            select="rule_2 or error_format",
            args=("--rate-limit", UNLIMITED),
            fuzz=False,
        )
    assert run.returncode == 0, run.output
    text = summary.read_text()
    assert text.startswith(f"### ✅ Contract suite: PASS against {url}")
    assert "| Rule 2: 404 for an unknown user or event type" in text
    assert "| Errors: every error is application/json" in text
    assert "**Failures**" not in text


def test_a_failing_contract_run_names_each_failed_rule_with_its_reason(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with serve_app(BROKEN.build(tmp_path)) as url:
        run = run_suite(
            url, tmp_path / "junit.xml", select=BROKEN.select, args=BROKEN.args, fuzz=False
        )
    assert run.returncode == 1, run.output
    text = summary.read_text()
    assert text.startswith("### ❌ Contract suite: FAIL")
    failures = text.split("**Failures**")[1]
    assert "test_rule_2_404_comes_before_validation" in failures
    assert "(Rule 2: 404 for an unknown user or event type" in failures
    line = next(li for li in failures.splitlines() if "404_comes_before_validation" in li)
    assert line.split("): ", 1)[1].strip()  # a one-line reason follows
