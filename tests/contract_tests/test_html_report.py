"""The contract run's HTML page (``booking-contract --html FILE``): verdict, rule groups, failures.

The failing runs' pages are opened in headless Chromium; the passing run's page is read
with the standard library's HTML parser, so that test runs where Chromium does not.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from contract_tests.plugin import rule_groups, rule_of
from tests.browser import console_errors
from tests.contract_tests.broken import FAULTS, Fault
from tests.contract_tests.runs import Run, run_suite
from tests.faults import UNLIMITED, reference
from tests.servers import serve_app

# Two rules broken, one server each: one exchange per failed test, and several.
BROKEN = [
    next(fault for fault in FAULTS if fault.name == name)
    for name in ("body validated before the 404", "every booking gets the same id")
]


def _run(tmp_path: Path, fault: Fault) -> tuple[Run, Path]:
    folder = tmp_path / fault.name.replace(" ", "-")
    folder.mkdir()
    page = folder / "report.html"
    with serve_app(fault.build(folder)) as url:
        run = run_suite(
            url,
            folder / "junit.xml",
            select=fault.select,
            args=(*fault.args, "--html", str(page)),
            fuzz=False,
        )
    return run, page


def _contract_section(message: str) -> dict[str, object]:
    """What the JUnit failure text's contract section says: the rule, expectation, curl lines."""
    rule = re.search(r"^Broken: (.*)$", message, re.M)
    expected = re.search(r"^Expected: (.*)$", message, re.M)
    return {
        "rule": rule[1] if rule else None,
        "expected": expected[1] if expected else None,
        "curl": re.findall(r"^reproduce: (.*)$", message, re.M),
    }


def test_the_page_of_a_failing_run_shows_each_failed_rule_with_its_curl_lines(
    tmp_path, browser, artifacts
):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 1800)
    for index, fault in enumerate(BROKEN):
        run, page = _run(tmp_path, fault)
        assert run.returncode == 1, run.describe()
        failed = run.named("failed")
        assert failed, run.describe()
        browser.get(page.as_uri())

        assert browser.find_element(By.ID, "verdict").text == "FAIL"
        assert browser.find_element(By.ID, "base-url").text.startswith("http://127.0.0.1:")
        # Self-contained: nothing for the page to fetch.
        assert not browser.find_elements(By.CSS_SELECTOR, "link[href], script[src], img[src]")
        sections = browser.find_elements(By.CSS_SELECTOR, "section.failure")
        assert sorted(s.get_attribute("data-test") for s in sections) == failed
        for section in sections:
            name = section.get_attribute("data-test")
            junit = _contract_section(run.messages[name])
            assert section.find_element(By.CSS_SELECTOR, ".rule").text == junit["rule"]
            assert section.find_element(By.CSS_SELECTOR, ".expected").text == junit["expected"]
            message = section.find_element(By.CSS_SELECTOR, "pre.message").text
            assert message.splitlines()[0] in run.messages[name]
            curls = [
                pre.get_attribute("textContent")
                for pre in section.find_elements(By.CSS_SELECTOR, "pre.curl")
            ]
            exchanges = section.find_elements(By.CSS_SELECTOR, ".exchange")
            assert len(curls) == len(exchanges) >= 1
            for exchange in exchanges:
                assert exchange.find_element(By.CSS_SELECTOR, "pre.request").text
                assert exchange.find_element(By.CSS_SELECTOR, "pre.response").text
            # The JUnit text holds the last three exchanges; the page holds every one.
            assert junit["curl"] and curls[-len(junit["curl"]) :] == junit["curl"]
        row = browser.find_element(By.CSS_SELECTOR, f'tr.rule-group[data-group="{junit["rule"]}"]')
        assert "failed" in row.get_attribute("class").split()
        assert row.find_element(By.CSS_SELECTOR, ".failed-count").text == str(len(failed))
        assert console_errors(browser) == []
        if index == 0:
            assert browser.save_screenshot(str(artifacts / "contract-report.png"))


class _Page(HTMLParser):
    """The text of the page's leaf elements by id (a skip's by "skip <test>"), each rule
    group's row class."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        self._current: tuple[str, str] | None = None  # (id, tag) being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-group"):
            self.groups[str(found["data-group"])] = str(found.get("class"))
        key = found.get("id") or (found.get("class") == "skip" and f"skip {found['data-test']}")
        if key:
            self._current = (str(key), tag)
            self.text[str(key)] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and self._current[1] == tag:
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.text[self._current[0]] += data


def test_the_page_of_a_passing_run_lists_every_rule_group_each_skip_and_the_request_count(
    tmp_path,
):
    page_file = tmp_path / "report.html"
    with serve_app(reference(rate_limit="100000/minute")) as url:
        run = run_suite(
            url,
            tmp_path / "junit.xml",
            # Without a control API to pin the clock, the exact time bounds are skipped.
            select="rule_2 or error_format or rule_7_minimum_notice_is_exact",
            args=("--rate-limit", UNLIMITED, "--no-control-api", "--html", str(page_file)),
            fuzz=False,
        )
    assert run.returncode == 0, run.describe()
    page = _Page()
    page.feed(page_file.read_text(encoding="utf-8"))

    assert page.text["verdict"] == "PASS"
    assert set(page.groups) == set(rule_groups())
    ran = {name for name, kind in page.groups.items() if "not-run" not in kind.split()}
    assert ran == {rule_of(re.sub(r"\[.*", "", name)) for name in run.outcomes}
    assert all("passed" in page.groups[name].split() for name in ran)
    skipped = run.named("skipped")
    assert skipped, run.describe()
    for name in skipped:
        reason = run.messages[name].removeprefix("Skipped: ")
        assert page.text[f"skip {name}"] == f"{name}: {reason}"
    requests = re.search(r"contract suite: (\d+) requests to", run.output)
    assert requests, run.output
    assert page.text["requests"].startswith(f"{requests[1]} requests to {url}")
    assert page.text["clients"].startswith("as one client")
    assert "s waited for the rate limit" in page.text["waited"]
