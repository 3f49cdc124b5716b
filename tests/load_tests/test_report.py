"""The verdict as people read it: the terminal table, the Markdown a CI job shows, JUnit."""

from __future__ import annotations

from xml.etree import ElementTree

from load_tests.report import verdict_junit, verdict_markdown
from load_tests.verifier import Record, Verifier, Violation, verify

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


def test_the_junit_verdict_has_a_case_per_violation_class_failing_those_found():
    records = [Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT + 1)]
    root = ElementTree.fromstring(
        verdict_junit(verify(records, LIMIT, WINDOW, ratelimit_fields=False))
    )
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {str(v) for v in Violation}
    failure = cases["limit-exceeded"].find("failure")
    assert (
        failure.get("message") == "1 violations: more than the limit accepted in a rolling window"
    )
    assert "client a" in failure.text
    assert [name for name, case in cases.items() if case.find("failure") is not None] == [
        "limit-exceeded"
    ]
    assert root.get("failures") == "1" and root.get("tests") == str(len(Violation))


def test_progress_counts_what_is_judged_so_far():
    verifier = Verifier(LIMIT, WINDOW, ratelimit_fields=False)
    verifier.feed_many(Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT + 1))
    verifier.feed(Record("b", 1.0, 1.01, 400))
    assert verifier.progress() == (LIMIT + 2, 2, {Violation.LIMIT_EXCEEDED: 1})
