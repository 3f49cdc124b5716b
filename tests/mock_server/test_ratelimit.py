"""Rule 1 in depth: the moving-window limit per client IP and its HTTP fields."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from .test_rules import BOOK, assert_error, body

URL = BOOK.format(user="jane-doe", event="30min-call")
RATELIMIT = re.compile(r'^"per-ip";r=(\d+);t=(\d+)$')


def remaining(response: httpx.Response) -> int:
    match = RATELIMIT.match(response.headers["RateLimit"])
    assert match, response.headers["RateLimit"]
    return int(match[1])


def client_at(base: str, address: str = "127.0.0.1", **kwargs) -> httpx.Client:
    """A client whose TCP connections come from a given loopback address."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base, transport=transport, timeout=10, **kwargs)


def test_16th_request_in_the_window_is_429_and_r_counts_down(shared_server):
    base = shared_server(rate_limit="15/minute")
    with client_at(base) as client:
        responses = [client.post(URL, json=body(inviteeEmail="")) for _ in range(16)]
    assert [remaining(r) for r in responses[:15]] == list(range(14, -1, -1))
    assert all(r.headers["RateLimit-Policy"] == '"per-ip";q=15;w=60' for r in responses)
    assert all(r.status_code == 400 for r in responses[:15])
    over = responses[15]
    assert_error(over, 429)
    assert remaining(over) == 0
    retry_after = int(over.headers["Retry-After"])
    assert 55 <= retry_after <= 60
    assert RATELIMIT.match(over.headers["RateLimit"])[2] == str(retry_after)


def test_retry_after_retry_after_is_accepted_and_not_before(shared_server):
    base = shared_server(rate_limit="15/3 seconds")
    with client_at(base) as client:
        for _ in range(15):
            client.post(URL, json=body(inviteeEmail=""))
        over = client.post(URL, json=body(inviteeEmail=""))
        assert_error(over, 429)
        retry_after = int(over.headers["Retry-After"])
        assert 1 <= retry_after <= 3
        refused_at = time.monotonic()
        time.sleep(max(0, retry_after - 1 - 0.3))
        assert client.post(URL, json=body(inviteeEmail="")).status_code == 429
        time.sleep(max(0, refused_at + retry_after - time.monotonic()))
        retried = client.post(URL, json=body(inviteeEmail=""))
    assert retried.status_code == 400, retried.text


def test_a_429_does_not_extend_the_lockout(shared_server):
    base = shared_server(rate_limit="5/3 seconds")
    with client_at(base) as client:
        started = time.monotonic()
        for _ in range(5):
            client.post(URL, json=body(inviteeEmail=""))
        burst = time.monotonic() - started
        sent = time.monotonic()
        first = client.post(URL, json=body(inviteeEmail=""))
        retry_after = int(first.headers["Retry-After"])
        # Retry-After is rounded up to whole seconds, so the lockout surely lasts until a
        # second before it, counted from when the 429's request was sent.
        locked_until = sent + retry_after - 1
        # Keep hammering while locked out: none of these may count. Only an answer that came
        # back before the lockout surely ended is judged (a slow machine answers late).
        while True:
            status = client.post(URL, json=body(inviteeEmail="")).status_code
            if time.monotonic() >= locked_until:
                break
            assert status == 429
            time.sleep(0.05)
        # The last one may have come in as the lockout ended, and rightly counted.
        late = 0 if status == 429 else 1
        # The burst's last request leaves the window `burst` seconds after its first.
        time.sleep(max(0, sent + retry_after + burst - time.monotonic()))
        after = [client.post(URL, json=body(inviteeEmail="")).status_code for _ in range(5 - late)]
    assert after == [400] * (5 - late)


def test_requests_to_unknown_slugs_count_toward_the_limit(shared_server):
    base = shared_server(rate_limit="3/minute")
    with client_at(base) as client:
        for _ in range(3):
            missing = client.post(BOOK.format(user="nobody", event="x"), json=body())
            assert missing.status_code == 404
        assert_error(client.post(URL, json=body()), 429)


def test_an_encoded_slash_in_a_slug_does_not_escape_the_limit(shared_server):
    base = shared_server(rate_limit="3/minute")
    with client_at(base) as client:
        sneaky = [
            client.post("/api/public/scheduling/jane%2Fdoe/30min-call/book", json=body())
            for _ in range(3)
        ]
        assert [r.status_code for r in sneaky] == [404] * 3
        assert all(r.json()["error"] == "User not found." for r in sneaky)
        assert all("RateLimit" in r.headers for r in sneaky)
        assert_error(client.post(URL, json=body()), 429)


@pytest.mark.parametrize("status_request", ["invalid", "honeypot"])
def test_every_outcome_counts(shared_server, status_request):
    base = shared_server(rate_limit="2/minute")
    overrides = {"inviteeEmail": "x"} if status_request == "invalid" else {"honeypotValue": "x"}
    with client_at(base) as client:
        statuses = [client.post(URL, json=body(**overrides)).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_another_client_is_unaffected(shared_server):
    base = shared_server(rate_limit="3/minute")
    with client_at(base, "127.0.0.1") as first, client_at(base, "127.0.0.2") as second:
        for _ in range(3):
            first.post(URL, json=body(inviteeEmail=""))
        assert first.post(URL, json=body(inviteeEmail="")).status_code == 429
        other = second.post(URL, json=body(inviteeEmail=""))
    assert other.status_code == 400
    assert remaining(other) == 2


def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(shared_server):
    base = shared_server(rate_limit="3/minute")
    with client_at(base) as client:
        statuses = [
            client.post(
                URL, json=body(inviteeEmail=""), headers={"X-Forwarded-For": f"10.0.0.{i}"}
            ).status_code
            for i in range(4)
        ]
    assert statuses == [400, 400, 400, 429]


def test_forwarded_for_from_a_trusted_proxy_selects_the_client(shared_server):
    base = shared_server(rate_limit="3/minute", forwarded_allow_ips=["127.0.0.1"])
    with client_at(base) as proxy:

        def post(client_ip: str) -> httpx.Response:
            return proxy.post(
                URL, json=body(inviteeEmail=""), headers={"X-Forwarded-For": client_ip}
            )

        alice = [post("203.0.113.7").status_code for _ in range(4)]
        bob = post("203.0.113.8")
    assert alice == [400, 400, 400, 429]
    assert bob.status_code == 400
    assert remaining(bob) == 2


def test_ratelimit_fields_are_on_every_response_of_the_endpoint(client):
    responses = [
        client.post(URL, json=body()),  # 201
        client.post(URL, json=body()),  # 400 taken
        client.post(BOOK.format(user="nobody", event="x"), json=body()),  # 404
        client.get(URL),  # 405
        client.post(URL, content=b"x", headers={"content-type": "text/plain"}),  # 415
        client.post(URL, content=b"x" * 70_000, headers={"content-type": "application/json"}),
    ]
    assert [r.status_code for r in responses] == [201, 400, 404, 405, 415, 413]
    for response in responses:
        assert response.headers["RateLimit-Policy"] == '"per-ip";q=1000;w=60'
        assert RATELIMIT.match(response.headers["RateLimit"])
