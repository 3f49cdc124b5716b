"""End to end, as a frontend team's test runs: a real page's own fetch, steered by armed answers.

The page lives on another origin and sends no Prefer header; the test arms the mock
through the control API and watches what the page shows. This is the recipe of the
README's "For frontend teams".
"""

from __future__ import annotations

import json

import httpx
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from mock_server import Settings, create_app
from tests.conftest import PINNED
from tests.mock_server.test_faults import journal
from tests.mock_server.test_rules import body
from tests.servers import serve_app

BOOKING_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Book a call</title></head>
<body>
  <button id="book">Book 14:00</button>
  <p id="status" data-attempt="0"></p>
<script type="module">
const status = document.getElementById("status");
let attempt = 0;
document.getElementById("book").addEventListener("click", async () => {
  const shown = String(++attempt);
  let text;
  try {
    const response = await fetch(%(url)s, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(%(body)s),
    });
    if (response.status === 429) {
      text = `Too many attempts: try again in ${response.headers.get("Retry-After")} seconds`;
    } else if (response.ok) {
      text = `Booked ${(await response.json()).id}`;
    } else {
      text = `Refused: ${(await response.json()).error}`;
    }
  } catch (error) {
    text = `Network error: ${error.name}`;
  }
  status.textContent = text;
  status.dataset.attempt = shown;
});
</script></body></html>
"""


def test_a_page_shows_an_armed_429_and_an_armed_connection_reset(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    mock = create_app(Settings(clock=PINNED, clock_frozen=True))
    with serve_app(mock) as mock_url, httpx.Client(base_url=f"{mock_url}/__admin") as admin:
        html = BOOKING_PAGE % {
            "url": json.dumps(f"{mock_url}/api/public/scheduling/jane-doe/30min-call/book"),
            "body": json.dumps(body()),
        }
        page = Starlette(routes=[Route("/", lambda _request: HTMLResponse(html))])
        with serve_app(page) as page_url:
            assert page_url != mock_url  # another origin: another port
            browser.get(page_url)

            def click_and_read(attempt: int) -> str:
                browser.find_element(By.ID, "book").click()
                WebDriverWait(browser, 30).until(
                    lambda d: (
                        d.find_element(By.ID, "status").get_attribute("data-attempt")
                        == str(attempt)
                    )
                )
                return browser.find_element(By.ID, "status").text

            assert admin.post("/arm", json={"respond": {"code": 429}}).status_code == 201
            shown = click_and_read(1)
            sent = admin.get("/requests").json()["requests"][0]["response"]["headers"]
            assert shown == f"Too many attempts: try again in {sent['retry-after']} seconds"

            # Chromium resends a request, up to twice, when a kept-alive connection fails
            # before any byte of the answer: the page sees the reset if every resend does.
            armed = {"times": 3, "respond": {"fault": "connection-reset"}}
            assert admin.post("/arm", json=armed).status_code == 201
            assert click_and_read(2) == "Network error: TypeError"
            faulted = [e for e in journal(mock_url, at_least=2) if e.get("fault")]
            assert 1 <= len(faulted) <= 3
            assert {e["fault"] for e in faulted} == {"connection-reset"}

            admin.delete("/arm")  # what the resends did not use
            assert click_and_read(3).startswith("Booked bkg_")
        assert len(admin.get("/bookings").json()["bookings"]) == 1
