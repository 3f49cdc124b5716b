"""The verdict as people read it: the terminal table, and the Markdown a CI job shows."""

from __future__ import annotations

from load_tests.report import verdict_markdown
from load_tests.verifier import Record, verify

from .test_verifier import LIMIT, WINDOW


def test_a_passing_verdict_in_markdown_has_its_table():
    records = [Record("127.0.0.2", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT)]
    text = verdict_markdown(verify(records, LIMIT, WINDOW, ratelimit_fields=False))
    assert text.startswith("### ✅ Rate-limit verifier: PASS")
    assert "| client | requests | accepted | 429 |" in text
    assert f"| 127.0.0.2 | {LIMIT} | {LIMIT} | 0 |" in text


def test_a_failing_verdict_in_markdown_lists_each_violation_first():
    records = [Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT + 1)]
    text = verdict_markdown(verify(records, LIMIT, WINDOW, ratelimit_fields=False), "Load run")
    assert text.startswith("### ❌ Load run: FAIL")
    violations = text.split("| violation | count | first |")[1]
    assert violations.splitlines()[2].startswith("| limit-exceeded | 1 | limit-exceeded: client a")
