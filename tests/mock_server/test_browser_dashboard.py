"""The dashboard in headless Chromium: it follows the journal live and drives the control API."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta

import httpx
import pytest

from mock_server import Settings, create_app
from mock_server.domain.instants import utc_text
from tests.browser import console_errors
from tests.conftest import PINNED
from tests.mock_server.test_rules import body
from tests.servers import serve_app

BOOK = "/api/public/scheduling/jane-doe/30min-call/book"


def test_the_dashboard_shows_a_curl_booking_live_and_moves_the_clock(browser, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    mock = create_app(Settings(clock=PINNED, clock_frozen=True))
    with serve_app(mock) as mock_url, httpx.Client(base_url=f"{mock_url}/__admin") as admin:
        browser.set_window_size(1400, 1000)
        browser.get(f"{mock_url}/__admin/")
        wait = WebDriverWait(browser, 30)

        def text(element_id: str) -> str:
            return browser.find_element(By.ID, element_id).text

        wait.until(lambda _d: text("journal-live") == "live")
        assert text("clock-now") == "2026-03-13T10:30:00Z"
        browser.execute_script("window.notReloaded = true;")

        booked = subprocess.run(
            [
                curl,
                "-s",
                "-X",
                "POST",
                mock_url + BOOK,
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps(body()),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        booking_id = json.loads(booked.stdout)["id"]

        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#journal .journal-entry"))
        row = browser.find_element(By.CSS_SELECTOR, "#journal .journal-entry")
        assert "POST" in row.text and BOOK in row.text and "201" in row.text
        wait.until(
            lambda d: d.find_elements(
                By.CSS_SELECTOR, f'#bookings .booking[data-id="{booking_id}"]'
            )
        )
        assert browser.execute_script("return window.notReloaded === true;")

        row.click()  # the exchange's headers and bodies
        wait.until(lambda _d: booking_id in browser.find_element(By.ID, "journal").text)
        assert "curl/" in browser.find_element(By.ID, "journal").text  # the request's User-Agent

        advance = browser.find_element(By.ID, "clock-advance-seconds")
        advance.clear()
        advance.send_keys("3600")
        browser.find_element(By.ID, "clock-advance").click()
        later = utc_text(PINNED + timedelta(hours=1))
        wait.until(lambda _d: admin.get("/clock").json()["now"] == later)
        wait.until(lambda _d: text("clock-now") == later)

        browser.find_element(By.ID, "arm-code").send_keys("429")
        browser.find_element(By.ID, "arm-submit").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#armed .armed"))
        assert [a["respond"] for a in admin.get("/arm").json()["armed"]] == [{"code": 429}]

        # The armed 429 answers the next booking, and a fault shows as such.
        assert httpx.post(mock_url + BOOK, json=body()).status_code == 429
        with pytest.raises(httpx.ReadError):
            httpx.post(mock_url + BOOK, json=body(), headers={"Prefer": "fault=connection-reset"})
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#journal .journal-entry")) == 3)
        newest = browser.find_element(By.CSS_SELECTOR, "#journal .journal-entry").text
        assert "connection-reset" in newest
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#armed .armed"))

        browser.save_screenshot(str(artifacts / "dashboard.png"))
        assert console_errors(browser) == []
