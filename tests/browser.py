"""Headless Chromium from Debian's packages, for the tests that open a page: the mock's
dashboard and the HTML reports. The fixtures are registered in ``tests/conftest.py``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def console_errors(browser: object) -> list[dict]:
    """The page's console entries of level SEVERE (uncaught errors, failed loads)."""
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where a test leaves what a person may want to see (screenshots): $TEST_ARTIFACTS, or
    the test's temporary directory. ``TEST_ARTIFACTS=docs`` refreshes the README's pictures."""
    folder = Path(os.environ.get("TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[object]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip(
            "Chromium cannot run here: Debian's chromium and chromium-driver packages are not"
            " installed (.ci/run installs them)"
        )
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    with tempfile.TemporaryDirectory() as profile:
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        # The console, for tests that assert a page logs no error.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(
            options=options, service=webdriver.ChromeService(executable_path=chromedriver)
        )
        try:
            yield driver
        finally:
            driver.quit()
