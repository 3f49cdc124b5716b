"""The JUnit report (``booking-contract --junit FILE``): a test case per test, a class per rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.contract_tests.broken import FAULTS
from tests.contract_tests.runs import run_suite
from tests.servers import serve_app

BROKEN = next(fault for fault in FAULTS if fault.name == "body validated before the 404")
RULE_2 = "Rule 2: 404 for an unknown user or event type, before any validation"


def test_each_test_case_is_classed_under_its_rule_group_and_keeps_its_failure_text(tmp_path):
    junit = tmp_path / "junit.xml"
    with serve_app(BROKEN.build(tmp_path)) as url:
        run = run_suite(url, junit, select="rule_2 or error_format", args=BROKEN.args, fuzz=False)
    assert run.returncode == 1, run.describe()
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    classes = {case.get("name"): case.get("classname") for case in cases}
    # One test case per test, still named as pytest names it.
    assert len(cases) == len(classes) == len(run.outcomes)
    rule_2 = {name for name in classes if name.startswith("test_rule_2_")}
    errors = {name for name in classes if name.startswith("test_error_format_")}
    assert rule_2 and errors
    assert {classes[name] for name in rule_2} == {RULE_2}
    (error_class,) = {classes[name] for name in errors}
    assert error_class.startswith("Errors: every error is application/json")
    # A viewer reads a dot in a classname as a package: the group's "..." must not split it.
    assert "." not in error_class
    # The failure text a reviewer needs is still there: the plugin's contract section.
    assert rule_2 & set(run.named("failed"))
    for name in rule_2 & set(run.named("failed")):
        assert f"Broken: {RULE_2}" in run.messages[name]
        assert "reproduce: curl -i -X POST" in run.messages[name]
