"""A real browser: a page on another origin runs the API document's fetch example against the mock.

Headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) loads a
static page served on another port; CORS and the exposed rate-limit fields are what
make this work.
"""

from __future__ import annotations

import json

import httpx
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from mock_server import Settings, create_app
from mock_server.specs import load_spec
from tests.conftest import PINNED
from tests.mock_server.test_rules import body
from tests.servers import serve_app

PRODUCTION = "https://app.proximity.io"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Book a call</title></head>
<body>
  <p>Booking: <span id="booking-id"></span></p>
  <p>Rate limit: <span id="ratelimit"></span></p>
  <p>Retry after: <span id="retry-after"></span></p>
  <p>Error: <span id="error"></span></p>
<script type="module">
async function bookTheExample() {
%(sample)s
  return booking;
}

async function hammer(url) {
  // 16 quick requests: the limit is 15 a minute, and the example booking used one.
  for (let i = 0; i < 16; i++) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({}),
    });
    if (response.status === 429) {
      document.getElementById("ratelimit").textContent = response.headers.get("RateLimit");
      return response.headers.get("Retry-After");
    }
  }
  return "never limited";
}

try {
  const booking = await bookTheExample();
  document.getElementById("booking-id").textContent = booking.id;
  document.getElementById("retry-after").textContent = await hammer(%(url)s);
} catch (error) {
  document.getElementById("error").textContent = String(error);
}
</script>
</body></html>
"""


def fetch_sample() -> str:
    operation = load_spec()["paths"]["/api/public/scheduling/{userSlug}/{eventSlug}/book"]["post"]
    return next(s["source"] for s in operation["x-codeSamples"] if s["lang"] == "JavaScript")


def test_page_on_another_origin_books_and_reads_retry_after(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    mock = create_app(Settings(clock=PINNED, clock_frozen=True, rate_limit="15/minute"))
    with serve_app(mock) as mock_url:
        book_url = f"{mock_url}/api/public/scheduling/jane-doe/30min-call/book"
        html = PAGE % {
            "sample": fetch_sample().replace(PRODUCTION, mock_url),
            "url": json.dumps(book_url),
        }
        page = Starlette(routes=[Route("/", lambda _request: HTMLResponse(html))])
        with serve_app(page) as page_url:
            assert page_url != mock_url  # another origin: another port
            browser.get(page_url)

            def shown(element_id: str) -> str:
                return browser.find_element(By.ID, element_id).text

            WebDriverWait(browser, 30).until(lambda _d: shown("retry-after") or shown("error"))
            assert shown("error") == ""
            booking_id = shown("booking-id")
            assert booking_id.startswith("bkg_")
            retry_after = int(shown("retry-after"))
            assert 1 <= retry_after <= 60
            assert shown("ratelimit") == f'"per-ip";r=0;t={retry_after}'

        # The page's booking is the one the mock stored.
        stored = httpx.get(f"{mock_url}/__admin/bookings").json()["bookings"]
        assert [b["id"] for b in stored] == [booking_id]


SNOOP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Some other site</title></head>
<body><p id="read"></p><p id="reset"></p>
<script type="module">
const mock = %(mock)s;
try {
  const response = await fetch(mock + "/__admin/requests");
  document.getElementById("read").textContent = "read: " + (await response.text());
} catch (error) {
  document.getElementById("read").textContent = "blocked: " + error;
}
// A "simple" request needs no preflight: the browser sends it, only the answer is hidden.
await fetch(mock + "/__admin/reset", { method: "POST", mode: "no-cors" }).catch(() => {});
document.getElementById("reset").textContent = "sent";
</script></body></html>
"""


def _visit_snooping_page(browser: object, mock_url: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    html = SNOOP % {"mock": json.dumps(mock_url)}
    page = Starlette(routes=[Route("/", lambda _request: HTMLResponse(html))])
    with serve_app(page) as page_url:
        browser.get(page_url)
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "reset").text == "sent")
        return browser.find_element(By.ID, "read").text


def test_page_on_another_origin_cannot_read_or_drive_the_control_api(browser):
    mock = create_app(Settings(clock=PINNED, clock_frozen=True))
    with serve_app(mock) as mock_url:
        book_url = f"{mock_url}/api/public/scheduling/jane-doe/30min-call/book"
        assert httpx.post(book_url, json=body()).status_code == 201
        read = _visit_snooping_page(browser, mock_url)
        assert read.startswith("blocked: TypeError"), read
        # The no-cors POST reached the mock and was refused: the booking is still there.
        assert len(httpx.get(f"{mock_url}/__admin/bookings").json()["bookings"]) == 1


def test_a_listed_admin_origin_can_read_and_drive_the_control_api(browser):
    mock = create_app(Settings(clock=PINNED, clock_frozen=True, admin_cors_origins=["*"]))
    with serve_app(mock) as mock_url:
        book_url = f"{mock_url}/api/public/scheduling/jane-doe/30min-call/book"
        assert httpx.post(book_url, json=body()).status_code == 201
        read = _visit_snooping_page(browser, mock_url)
        assert read.startswith('read: {"requests"'), read
        assert httpx.get(f"{mock_url}/__admin/bookings").json()["bookings"] == []


def test_the_swagger_ui_drives_the_control_api_from_its_own_origin(browser):
    mock = create_app(Settings())
    with serve_app(mock) as mock_url:
        browser.get(f"{mock_url}/__admin/ui/")
        status = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/__admin/clock', {method: 'PUT', headers: {'Content-Type':"
            " 'application/json'}, body: JSON.stringify({advanceSeconds: 60})})"
            ".then(r => done(r.status), e => done(String(e)));"
        )
        assert status == 200
        assert "Swagger UI" in browser.title
