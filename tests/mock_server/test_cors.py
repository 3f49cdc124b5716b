"""CORS: a booking page on another origin can call the mock and read the rate-limit fields."""

from __future__ import annotations

import httpx

from .test_rules import BOOK, body

URL = BOOK.format(user="jane-doe", event="30min-call")
PAGE = "http://localhost:5173"


def preflight(client: httpx.Client, url: str = URL) -> httpx.Response:
    return client.options(
        url,
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, prefer",
        },
    )


def test_preflight_is_answered_not_rate_limited_nor_405(shared_server):
    base = shared_server(rate_limit="2/minute")
    with httpx.Client(base_url=base) as client:
        answers = [preflight(client) for _ in range(5)]
        assert all(a.status_code == 200 for a in answers)
        assert answers[0].headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in answers[0].headers["Access-Control-Allow-Methods"]
        assert "prefer" in answers[0].headers["Access-Control-Allow-Headers"].lower()
        # The preflights did not use up the quota.
        first = client.post(URL, json=body(), headers={"Origin": PAGE})
        assert first.status_code == 201
        assert first.headers["RateLimit"].startswith('"per-ip";r=1;')


def test_responses_expose_the_rate_limit_fields(client):
    response = client.post(URL, json=body(), headers={"Origin": PAGE})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {
        h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed


def test_error_responses_carry_cors_headers_too(client):
    response = client.post(URL, json=body(inviteeEmail="x"), headers={"Origin": PAGE})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_origins_can_be_restricted(shared_server):
    base = shared_server(cors_origins=[PAGE])
    with httpx.Client(base_url=base) as client:
        allowed = client.post(URL, json=body(), headers={"Origin": PAGE})
        assert allowed.headers["Access-Control-Allow-Origin"] == PAGE
        other = client.post(URL, json=body(), headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        assert preflight(client).headers["Access-Control-Allow-Origin"] == PAGE


def test_responses_without_origin_vary_on_origin(client):
    """A cache must not serve an answer made for no Origin to a page that sends one."""
    for response in (
        client.post(URL, json=body()),
        client.post(URL, json=body(inviteeEmail="x")),
        client.get(URL),
        client.get("/api/public/nowhere"),
    ):
        assert response.headers.get_list("vary") == ["Origin"]
        assert "access-control-allow-origin" not in response.headers


def test_a_vary_of_the_app_is_joined_as_corsmiddleware_joins_it():
    import asyncio

    from starlette.middleware.cors import CORSMiddleware

    from mock_server.http.cors import SplitCORS

    async def app(scope, receive, send):
        headers = [(b"vary", b"Accept"), (b"content-length", b"0"), (b"vary", b"Prefer")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def vary_of(middleware) -> list[bytes]:
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
        asyncio.run(middleware(scope, receive, send))
        return [v for k, v in sent[0]["headers"] if k.lower() == b"vary"]

    split = SplitCORS(
        app, admin_prefix="/__admin", origins=["*"], admin_origins=[], expose_headers=[]
    )
    assert vary_of(split) == vary_of(CORSMiddleware(app, allow_origins=["*"]))
    assert vary_of(split) == [b"Accept, Prefer, Origin"]
