"""The process's pipelined connection to Redis (mock_server.redis_pipe), on a real Redis."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis as redis_py
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from mock_server.redis_pipe import RedisPipe, Script
from tests.servers import free_port

from .test_redis import RedisServer


@pytest.fixture
def server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    redis = RedisServer()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def test_concurrent_callers_each_get_their_own_reply(server):
    """500 commands in flight at once on the one connection: every caller gets the reply
    to its own command, not a neighbour's."""

    async def run() -> list[bytes | None]:
        pipe = RedisPipe(server.url)
        try:
            await asyncio.gather(*(pipe.call("SET", f"k{i}", f"v{i}") for i in range(500)))
            return await asyncio.gather(*(pipe.call("GET", f"k{i}") for i in range(500)))
        finally:
            pipe.close()

    assert asyncio.run(run()) == [f"v{i}".encode() for i in range(500)]


def test_an_error_reply_fails_only_its_own_command(server):
    async def run() -> list[object]:
        pipe = RedisPipe(server.url)
        try:
            await pipe.call("SET", "text", "not a number")
            return await asyncio.gather(
                pipe.call("INCR", "counter"),
                pipe.call("INCR", "text"),
                pipe.call("INCR", "counter"),
                return_exceptions=True,
            )
        finally:
            pipe.close()

    first, failed, second = asyncio.run(run())
    assert (first, second) == (1, 2)
    assert isinstance(failed, ResponseError) and "not an integer" in str(failed)


def test_calls_answers_each_command_or_its_error_in_order(server):
    async def run() -> list[object]:
        pipe = RedisPipe(server.url)
        try:
            await pipe.call("SET", "text", "x")
            return await pipe.calls(("INCR", "n"), ("INCR", "text"), ("GET", "n"))
        finally:
            pipe.close()

    one, error, read = asyncio.run(run())
    assert (one, read) == (1, b"1")
    assert isinstance(error, ResponseError)


def test_a_script_redis_does_not_hold_is_loaded_and_run(server):
    """EVALSHA first; on NOSCRIPT (a Redis restarted or flushed) the script is loaded."""
    script = Script("return tonumber(ARGV[1]) + #KEYS")

    async def run() -> list[int]:
        pipe = RedisPipe(server.url)
        try:
            first = await pipe.evalsha(script, ["a", "b"], [40])
            await pipe.call("SCRIPT", "FLUSH")
            again = await pipe.evalsha(script, ["a"], [41])
            return [first, again]
        finally:
            pipe.close()

    assert asyncio.run(run()) == [42, 42]


def test_the_urls_database_and_password_are_used(server):
    """``redis://:password@host:port/db``: authenticated, and on that database."""
    admin = redis_py.Redis.from_url(server.url)
    admin.config_set("requirepass", "s3cret")
    try:
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"

        async def run() -> None:
            pipe = RedisPipe(url)
            try:
                await pipe.call("SET", "where", "db3")
            finally:
                pipe.close()

        asyncio.run(run())
        on_3 = redis_py.Redis.from_url(url)
        assert on_3.get("where") == b"db3"
        assert (
            redis_py.Redis.from_url(f"redis://:s3cret@127.0.0.1:{server.port}/0").get("where")
            is None
        )
        on_3.close()
        with pytest.raises(ResponseError):
            asyncio.run(RedisPipe(f"redis://:wrong@127.0.0.1:{server.port}/0").call("PING"))
    finally:
        redis_py.Redis.from_url(f"redis://:s3cret@127.0.0.1:{server.port}/0").config_set(
            "requirepass", ""
        )


def test_a_connection_redis_closed_is_replaced_by_the_next_command(server):
    """Redis dropping the connection (CLIENT KILL, a restart) costs no command: the next
    one opens a new connection."""

    async def run() -> bytes:
        pipe = RedisPipe(server.url)
        try:
            await pipe.call("SET", "k", "before")
            await pipe.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
            await asyncio.sleep(0.1)  # the connection is seen closed
            return await pipe.call("GET", "k")
        finally:
            pipe.close()

    assert asyncio.run(run()) == b"before"


def test_no_redis_is_a_connection_error_not_a_hang(server):
    server.stop()

    async def run() -> None:
        pipe = RedisPipe(server.url)
        await asyncio.wait_for(pipe.call("PING"), 5)

    with pytest.raises(RedisConnectionError):
        asyncio.run(run())


def test_a_unix_socket_url_is_served(server, tmp_path):
    """``unix:///path?db=N``, as --storage accepts it."""
    path = tmp_path / "redis.sock"
    command = [shutil.which("redis-server") or "redis-server", "--port", "0"]
    unix = subprocess.Popen(
        [*command, "--unixsocket", str(path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            assert time.monotonic() < deadline, "redis-server made no socket"
            time.sleep(0.05)

        async def run() -> bytes:
            pipe = RedisPipe(f"unix://{path}?db=2")
            try:
                await pipe.call("SET", "k", "over a unix socket")
                return await pipe.call("GET", "k")
            finally:
                pipe.close()

        assert asyncio.run(run()) == b"over a unix socket"
        on_2 = redis_py.Redis(unix_socket_path=str(path), db=2)
        assert on_2.get("k") == b"over a unix socket"
        on_2.close()
    finally:
        unix.terminate()
        unix.wait(timeout=10)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="makes its certificate with openssl")
def test_a_rediss_url_speaks_tls_and_checks_the_certificate_when_asked(server, tmp_path):
    """``rediss://``: TLS, with redis-py's ``ssl_*`` URL options (here the CA to trust)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*request, "-keyout", str(key), "-out", str(cert), *subject],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = {
        "--port": "0",
        "--tls-port": str(port),
        "--tls-cert-file": str(cert),
        "--tls-key-file": str(key),
        "--tls-ca-cert-file": str(cert),
        "--tls-auth-clients": "no",
        "--save": "",
        "--appendonly": "no",
    }
    tls = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", *itertools.chain(*options.items())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def ping(url: str) -> bytes:
        pipe = RedisPipe(url)
        try:
            return await asyncio.wait_for(pipe.call("PING"), 5)
        finally:
            pipe.close()

    try:
        trusted = f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={cert}"
        deadline = time.monotonic() + 10
        while True:
            try:
                assert asyncio.run(ping(trusted)) == b"PONG"
                break
            except RedisConnectionError:
                if tls.poll() is not None:
                    pytest.skip("this redis-server has no TLS")
                assert time.monotonic() < deadline, "redis-server did not start on TLS"
                time.sleep(0.1)
        # The defaults, as redis-py's: the certificate is checked, against the system's CAs.
        with pytest.raises(RedisConnectionError, match="certificate"):
            asyncio.run(ping(f"rediss://127.0.0.1:{port}/0"))
    finally:
        tls.terminate()
        tls.wait(timeout=10)


def test_a_redis_that_stops_answering_fails_every_waiting_command_within_the_deadline(server):
    """SIGSTOP: the connection stays open and nothing comes back. Each command waiting
    then fails with redis-py's TimeoutError once the oldest has waited the storage
    deadline, none later; after SIGCONT the next command is answered on a new connection."""
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from mock_server.errors import STORAGE_DEADLINE

    async def run() -> tuple[list[object], float, bytes]:
        pipe = RedisPipe(server.url)
        try:
            await pipe.call("SET", "k", "v")
            os.kill(server.process.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                first = asyncio.ensure_future(pipe.call("GET", "k"))
                await asyncio.sleep(0.5)
                outcomes = await asyncio.gather(
                    first, pipe.call("GET", "k"), return_exceptions=True
                )
                waited = time.monotonic() - started
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            return outcomes, waited, await pipe.call("GET", "k")
        finally:
            pipe.close()

    outcomes, waited, after = asyncio.run(run())
    assert all(isinstance(o, RedisTimeoutError) for o in outcomes), outcomes
    assert STORAGE_DEADLINE <= waited < STORAGE_DEADLINE + 0.5
    assert after == b"v"


def test_one_pipe_serves_one_event_loop_after_another(server):
    """An app driven by several loops in turn (a test client may start one per request):
    each loop gets a connection of its own, not a future of a loop that is gone."""
    pipe = RedisPipe(server.url)
    try:
        assert asyncio.run(pipe.call("SET", "k", "first")) == b"OK"
        assert asyncio.run(pipe.call("GET", "k")) == b"first"
        assert asyncio.run(pipe.calls(("GET", "k"), ("PING",))) == [b"first", b"PONG"]
    finally:
        pipe.close()
