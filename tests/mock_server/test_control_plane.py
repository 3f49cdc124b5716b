"""The control plane is the developer's alone: PRODUCT's rule for /__admin and the docs.

No cross-origin access to /__admin unless an origin is listed; on loopback, only
loopback Host names reach /__admin and the docs (DNS rebinding); the book endpoint keeps
its CORS and answers any Host. The browser's side of this is in test_browser.py.
"""

from __future__ import annotations

import httpx
import pytest

from mock_server.cli import build_parser, settings_from_args

from .test_rules import BOOK, assert_error, body

URL = BOOK.format(user="jane-doe", event="30min-call")
EVIL = "https://evil.example"
PAGE = "http://localhost:5173"
PROTECTED = ["/__admin/health", "/__admin/ui/", "/__admin/openapi.json", "/ui/", "/openapi.json"]


def admin_preflight(client: httpx.Client, origin: str) -> httpx.Response:
    return client.options(
        "/__admin/requests",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )


def booked(client: httpx.Client) -> int:
    return len(client.get("/__admin/bookings").json()["bookings"])


def test_admin_preflight_from_another_origin_gets_no_allow_headers(client):
    response = admin_preflight(client, EVIL)
    assert_error(response, 403)
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_admin_cross_origin_read_is_refused(client):
    response = client.get("/__admin/requests", headers={"Origin": EVIL})
    assert_error(response, 403)
    assert "--admin-cors-origins" in response.json()["error"]
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Content-Type": "text/plain"},  # a form or a no-cors fetch
        {"Origin": "null"},  # a sandboxed frame, a file: page
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},  # no Origin sent
        {"Origin": "http://127.0.0.1:1"},  # loopback, but another port: another origin
        {"Origin": "http://[::1"},  # not an origin at all
    ],
    ids=["simple-post", "null-origin", "fetch-metadata", "other-port", "malformed-origin"],
)
def test_admin_cross_origin_write_is_refused_and_changes_nothing(client, headers):
    assert client.post(URL, json=body()).status_code == 201
    assert_error(client.post("/__admin/reset", headers=headers), 403)
    assert booked(client) == 1


def test_admin_same_origin_requests_are_served(client, server):
    assert client.post(URL, json=body()).status_code == 201
    port = server.rsplit(":", 1)[1]
    for origin, host in ((server, None), (f"http://localhost:{port}", f"localhost:{port}")):
        headers = {"Origin": origin, **({"Host": host} if host else {})}
        assert client.get("/__admin/health", headers=headers).status_code == 200
    assert client.post("/__admin/reset", headers={"Origin": server}).status_code == 200
    assert booked(client) == 0


def test_admin_navigation_from_another_site_is_served(client):
    # A link the developer clicks: the page that linked cannot read the answer.
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/__admin/health", headers=headers).status_code == 200


def test_admin_cors_origins_opens_a_listed_origin_only(shared_server):
    base = shared_server(admin_cors_origins=[PAGE])
    with httpx.Client(base_url=base) as client:
        allowed = admin_preflight(client, PAGE)
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == PAGE
        read = client.get("/__admin/requests", headers={"Origin": PAGE})
        assert read.status_code == 200
        assert read.headers["Access-Control-Allow-Origin"] == PAGE
        assert_error(admin_preflight(client, EVIL), 403)
        assert_error(client.get("/__admin/requests", headers={"Origin": EVIL}), 403)


def test_book_endpoint_keeps_its_cors_for_every_origin(client):
    preflight = client.options(
        URL, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    response = client.post(URL, json=body(), headers={"Origin": EVIL, "Host": "evil.example"})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example"])
def test_non_loopback_host_is_403_on_admin_and_docs(client, path, host):
    response = client.get(path, headers={"Host": host})
    assert_error(response, 403)
    assert "--allowed-hosts" in response.json()["error"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:1", "127.0.0.1:8080", "127.9.9.9", "[::1]:9", "app.localhost"]
)
def test_loopback_hosts_with_any_port_are_served(client, host):
    for path in PROTECTED:
        assert client.get(path, headers={"Host": host}).status_code == 200, path


@pytest.mark.parametrize(
    ("allowed", "served", "refused"),
    [
        (["mock.test"], "mock.test:8080", "other.test"),
        ([".dev.test"], "api.dev.test", "dev.test.evil.example"),
        (["*"], "anything.example", None),
    ],
    ids=["exact", "subdomains", "any"],
)
def test_allowed_hosts_opens_named_hosts(shared_server, allowed, served, refused):
    base = shared_server(allowed_hosts=allowed)
    with httpx.Client(base_url=base) as client:
        for path in PROTECTED:
            assert client.get(path, headers={"Host": served}).status_code == 200
            if refused:
                assert_error(client.get(path, headers={"Host": refused}), 403)


def test_docs_work_from_the_mocks_own_origin(client):
    ui = client.get("/__admin/ui/")
    assert ui.status_code == 200
    assert "swagger-ui" in ui.text
    # The served document points Swagger UI at the page's own origin.
    assert client.get("/__admin/openapi.json").json()["servers"] == [{"url": "/__admin"}]


def test_cli_options_for_the_control_plane():
    def settings(*args: str):
        return settings_from_args(build_parser().parse_args(list(args)))

    default = settings()
    assert default.check_host and default.allowed_hosts == [] and default.admin_cors_origins == []
    opened = settings("--allowed-hosts", "mock.test, .dev.test", "--admin-cors-origins", PAGE)
    assert opened.allowed_hosts == ["mock.test", ".dev.test"]
    assert opened.admin_cors_origins == [PAGE]
    # Off loopback the token is the lock: DNS rebinding cannot learn it.
    assert not settings("--host", "0.0.0.0", "--admin-token", "t").check_host
