"""The load run's HTML verdict in headless Chromium, from a real run against a broken limiter."""

from __future__ import annotations

from tests import faults
from tests.browser import console_errors
from tests.faults import limiters
from tests.servers import serve_app

from .test_runs import LIMIT, WINDOW, assert_fails_naming, locust

# How many traces of each chart hold violation markers, and how many markers in all.
VIOLATION_MARKERS = """
return Array.from(document.querySelectorAll('.client-chart')).map(chart => {
  const plot = chart.querySelector('.js-plotly-plot');
  const traces = plot && plot.data ? plot.data.filter(t => t.meta === 'violations') : [];
  return {client: chart.dataset.client, rendered: !!(plot && plot.querySelector('svg.main-svg')),
          markers: traces.reduce((n, t) => n + t.x.length, 0)};
});
"""


def test_a_broken_limiters_report_charts_each_listed_client_and_marks_its_violations(
    tmp_path, browser, artifacts
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    report = tmp_path / "verdict.html"
    with serve_app(faults.behind_limiter(limiters.OffByOne(LIMIT, WINDOW))) as url:
        run = locust(url, tmp_path, options=("--verdict-html", str(report)))
    assert_fails_naming(run, "limit-exceeded")
    violating = {c["client"] for c in run.verdict["clients"] if c["violations"]}
    listed = min(12, len(run.verdict["clients"]))

    browser.set_window_size(1400, 1500)
    browser.get(report.as_uri())  # a file: nothing to fetch from a network
    wait = WebDriverWait(browser, 30)
    wait.until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".client-chart svg.main-svg")) >= listed
    )
    assert "FAIL" in browser.find_element(By.TAG_NAME, "h1").text
    charts = browser.execute_script(VIOLATION_MARKERS)
    assert len(charts) == listed and all(chart["rendered"] for chart in charts)
    marked = {chart["client"] for chart in charts if chart["markers"]}
    assert marked == violating
    rows = browser.find_elements(By.CSS_SELECTOR, "#violations tr.violation")
    assert {row.get_attribute("data-violation") for row in rows} == run.violations
    assert browser.find_elements(By.CSS_SELECTOR, "#violation-records tr")[1:]  # its records
    browser.save_screenshot(str(artifacts / "load-report.png"))
    browser.execute_script("document.querySelector('h2.timelines').scrollIntoView()")
    browser.save_screenshot(str(artifacts / "load-report-charts.png"))
    assert console_errors(browser) == []
