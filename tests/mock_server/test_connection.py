"""The outermost layer's last resort (mock_server.http.connection): an exception that no
layer below answered is a 500 in the documented {"error"} format, never a traceback or
uvicorn's plain-text page, and never a second response after one has started."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mock_server.http.connection import Connection
from tests.servers import serve_app


async def _lifespan(receive, send) -> None:
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


class Raised:
    """Outside the layer: what it raised on to the server."""

    def __init__(self, app) -> None:
        self.app = app
        self.exceptions: list[BaseException] = []

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.exceptions.append(exc)
            raise


def crashing(after_start: bool) -> Raised:
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await receive()
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise RuntimeError("exploded: secret internals")

    return Raised(Connection(app))


def raised_on(app: Raised) -> list[str]:
    return [str(exc) for exc in app.exceptions]


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_an_unanswered_exception_under_uvicorn_is_the_documented_500(http):
    app = crashing(after_start=False)
    with serve_app(app, http=http) as base:
        response = httpx.get(base + "/anything")
    assert raised_on(app) == ["exploded: secret internals"]  # for the server to log
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Internal server error."}


def in_process(app) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/anything")

    return asyncio.run(get())


def test_an_unanswered_exception_in_process_is_the_documented_500():
    """No uvicorn request cycle to ask whether the response started: send is watched."""
    response = in_process(crashing(after_start=False))
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error."}


def test_an_exception_in_process_after_the_start_sends_no_second_response():
    app = crashing(after_start=True)
    response = in_process(app)
    assert (response.status_code, response.content) == (200, b"half")
    # A second response would have been refused by the server, in place of this one.
    assert raised_on(app) == ["exploded: secret internals"]


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_an_exception_under_uvicorn_after_the_start_sends_no_second_response(http):
    """The head is out: the connection is cut (uvicorn's answer), no 500 is appended."""
    app = crashing(after_start=True)
    with serve_app(app, http=http) as base, pytest.raises(httpx.HTTPError):
        httpx.get(base + "/anything")
    # A second response would have been refused by uvicorn, in place of this one.
    assert raised_on(app) == ["exploded: secret internals"]
