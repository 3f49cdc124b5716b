"""The watch forwards faithfully: what passes through it is what passes without it.

The same requests go to an upstream directly and through the watch's proxy; status,
header fields (less the hop-by-hop ones, ``Date`` and the proxy's ``Via``) and body
bytes must be the same, both ways.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from contract_tests.watch import Watched, WatchingProxy
from tests.conftest import PINNED
from tests.faults import reference
from tests.mock_server.test_rules import body
from tests.servers import serve_app

BOOK = "/api/public/scheduling/jane-doe/30min-call/book"
UNCOMPARED = {"date", "via"}
# As booking-contract watch serves it: the upstream's Date and Server pass through.
AS_THE_WATCH = {"server_header": False, "date_header": False}
PAYLOAD = gzip.compress(bytes(range(256)) * 64, mtime=0)


async def thing(_request: Request) -> Response:
    response = Response(
        PAYLOAD, status_code=203, media_type="application/octet-stream", headers={"ETag": '"v1"'}
    )
    response.headers["content-encoding"] = "gzip"
    response.headers.append("set-cookie", "a=1; Path=/")
    response.headers.append("set-cookie", "b=2; Path=/")
    response.headers["x-custom"] = "kept as is"
    return response


async def echo(request: Request) -> Response:
    raw = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body": hashlib.sha256(raw).hexdigest(),
            "length": len(raw),
        }
    )


async def streamed(_request: Request) -> Response:
    async def chunks() -> Any:
        for index in range(50):
            yield f"chunk {index}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


UPSTREAM = Starlette(
    routes=[
        Route("/thing", thing),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/stream", streamed),
    ]
)


@pytest.fixture
def upstream_and_proxy() -> Iterator[tuple[str, str, list[Watched]]]:
    seen: list[Watched] = []
    with serve_app(UPSTREAM) as upstream:
        proxy = WatchingProxy(upstream, on_exchange=seen.append)
        with serve_app(proxy, **AS_THE_WATCH) as proxied:
            yield upstream, proxied, seen


def _compared(response: httpx.Response) -> list[tuple[str, str]]:
    return [
        (k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in UNCOMPARED
    ]


def _raw(method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    with httpx.Client() as client, client.stream(method, url, **kwargs) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize("path", ["/thing", "/stream", "/missing"])
def test_answers_arrive_as_the_upstream_sent_them(upstream_and_proxy, path):
    upstream, proxied, _ = upstream_and_proxy
    direct, direct_body = _raw("GET", upstream + path)
    through, through_body = _raw("GET", proxied + path)
    assert through.status_code == direct.status_code
    assert _compared(through) == _compared(direct)
    assert through_body == direct_body  # raw bytes: gzip stays gzip
    assert through.headers["via"] == "1.1 booking-contract-watch"


def test_requests_arrive_as_the_client_sent_them_less_the_hop_by_hop_fields(upstream_and_proxy):
    upstream, proxied, _ = upstream_and_proxy
    headers = {
        "X-Custom": "kept",
        "Authorization": "Bearer t",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "named by Connection: dropped",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Content-Type": "application/json",
    }
    sent = {
        "content": b'{"a": "\xc3\xa9"}' * 1000,
        "headers": headers,
        "params": {"q": "a b", "r": "é"},
    }
    direct = httpx.request("PATCH", upstream + "/echo/a%2Fb/c", **sent).json()
    through = httpx.request("PATCH", proxied + "/echo/a%2Fb/c", **sent).json()
    names = [name for name, _ in through["headers"]]
    for hop in ("connection", "x-hop", "keep-alive", "te"):
        assert hop not in names
    assert ["via", "1.1 booking-contract-watch"] in through["headers"]
    end_to_end = [
        h for h in direct["headers"] if h[0] not in ("connection", "x-hop", "keep-alive", "te")
    ]
    assert [h for h in through["headers"] if h[0] != "via"] == end_to_end
    for key in ("method", "path", "query", "body", "length"):
        assert through[key] == direct[key], key


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_a_request_without_a_body_arrives_without_one(upstream_and_proxy, method):
    upstream, proxied, _ = upstream_and_proxy
    direct = httpx.request(method, upstream + "/echo/x?y=1").json()
    through = httpx.request(method, proxied + "/echo/x?y=1").json()
    hops = ("connection", "keep-alive")  # httpx sends Connection: keep-alive
    assert [h for h in through["headers"] if h[0] != "via"] == [
        h for h in direct["headers"] if h[0] not in hops
    ]
    assert through["length"] == direct["length"] == 0


def test_book_answers_are_byte_for_byte_those_of_the_reference():
    def pinned() -> Any:
        return reference(clock=PINNED, clock_frozen=True, seed=7, rate_limit="15/minute")

    seen: list[Watched] = []
    with serve_app(pinned()) as direct_url, serve_app(pinned()) as upstream:
        proxy = WatchingProxy(upstream, on_exchange=seen.append)
        with serve_app(proxy, **AS_THE_WATCH) as proxied:
            for payload in (body(), body(), {}):
                direct, direct_body = _raw("POST", direct_url + BOOK, json=payload)
                through, through_body = _raw("POST", proxied + BOOK, json=payload)
                assert (through.status_code, through_body) == (direct.status_code, direct_body)
                assert _compared(through) == _compared(direct)
    assert [w.exchange.status for w in seen] == [201, 400, 400]
    assert seen[0].exchange.response_body == direct_body or seen[0].exchange.json()["id"]
