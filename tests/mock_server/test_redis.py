"""Shared state in a real Redis: several instances or workers act as one server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import httpx
import pytest

from tests.servers import free_port, serve_process, start_process

from .test_rules import BOOK, body

URL = BOOK.format(user="jane-doe", event="30min-call")
PINNED = ["--clock", "2026-03-13T10:30:00Z", "--freeze"]


class RedisServer:
    """A throwaway redis-server on a free port, that a test can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip(
            "redis-server is not installed (Debian package redis-server; .ci/run installs it)"
        )
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def instances(stack: ExitStack, count: int, *args: str) -> list[str]:
    return [stack.enter_context(serve_process([*PINNED, *args], free_port())) for _ in range(count)]


async def concurrent_bookings(bases: list[str], count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30) as client:
        requests = [
            client.post(
                bases[i % len(bases)] + URL, json=body(inviteeEmail=f"guest{i}@example.com")
            )
            for i in range(count)
        ]
        return [r.status_code for r in await asyncio.gather(*requests)]


def test_two_instances_book_a_slot_once(redis_server):
    with ExitStack() as stack:
        bases = instances(stack, 2, "--storage", redis_server.url, "--rate-limit", "1000/minute")
        statuses = asyncio.run(concurrent_bookings(bases, 50))
        assert statuses.count(201) == 1, statuses
        assert statuses.count(400) == 49
        # Both instances see the booking.
        for base in bases:
            assert len(httpx.get(base + "/__admin/bookings").json()["bookings"]) == 1


def test_rate_limit_holds_across_instances(redis_server):
    with ExitStack() as stack:
        bases = instances(stack, 2, "--storage", redis_server.url)
        statuses = [
            httpx.post(bases[i % 2] + URL, json=body(inviteeEmail="")).status_code
            for i in range(20)
        ]
    assert statuses[:15] == [400] * 15
    assert statuses[15:] == [429] * 5


def test_workers_share_bookings_and_the_limit(redis_server):
    port = free_port()
    args = [*PINNED, "--storage", redis_server.url, "--workers", "2"]
    with serve_process(args, port) as base:
        statuses = asyncio.run(concurrent_bookings([base], 30))
        assert statuses.count(201) == 1, statuses
        more = [httpx.post(base + URL, json=body(inviteeEmail="")).status_code for _ in range(5)]
    # 30 + 5 requests from one client: 15 counted, the rest refused, whichever worker answered.
    assert statuses.count(429) + more.count(429) == 20


def test_redis_going_away_gives_503_and_service_resumes(redis_server):
    with ExitStack() as stack:
        (base,) = instances(stack, 1, "--storage", redis_server.url, "--rate-limit", "1000/minute")
        assert httpx.post(base + URL, json=body()).status_code == 201
        redis_server.stop()
        started = time.monotonic()
        down = httpx.post(base + URL, json=body(), timeout=15)
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/json"
        assert down.json() == {"error": "The booking storage is unavailable. Try again shortly."}
        assert time.monotonic() - started < 5  # a quick answer, not a hang
        assert httpx.get(base + "/__admin/health").status_code == 503
        redis_server.start()
        deadline = time.monotonic() + 15
        while httpx.post(base + URL, json=body(inviteeEmail="")).status_code == 503:
            assert time.monotonic() < deadline, "service did not resume"
            time.sleep(0.2)
        assert httpx.get(base + "/__admin/health").json()["storage"] == "redis"
        # Redis came back empty (no persistence): the slot is free again, and books.
        assert httpx.post(base + URL, json=body()).status_code == 201


def test_control_api_works_on_redis(redis_server):
    with ExitStack() as stack:
        (base,) = instances(stack, 1, "--storage", redis_server.url, "--rate-limit", "3/minute")
        booking = httpx.post(base + URL, json=body()).json()
        listed = httpx.get(base + "/__admin/bookings").json()["bookings"]
        assert [b["id"] for b in listed] == [booking["id"]]
        assert listed[0]["customFields"] == {"company": "Acme Inc."}
        assert httpx.delete(f"{base}/__admin/bookings/{booking['id']}").status_code == 204
        assert httpx.post(base + URL, json=body()).status_code == 201  # freed
        assert httpx.post(base + URL, json=body()).status_code == 400
        assert httpx.post(base + URL, json=body()).status_code == 429
        httpx.post(base + "/__admin/reset")
        assert httpx.get(base + "/__admin/bookings").json()["bookings"] == []
        assert httpx.post(base + URL, json=body()).status_code == 201


def test_workers_with_memory_storage_are_refused():
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "--workers", "2", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers above 1 needs --storage redis://" in result.stderr


def test_rule_8_taken_slot_answers_before_a_missing_required_custom_field_on_redis(redis_server):
    """The overlap read of rule 8-before-9 works on the Redis store too."""
    with ExitStack() as stack:
        (base,) = instances(stack, 1, "--storage", redis_server.url)
        taken = body(startTime="2026-03-16T15:00:00Z", endTime="2026-03-16T15:30:00Z")
        assert httpx.post(base + URL, json=taken).status_code == 201
        consult = BOOK.format(user="jane-doe", event="60min-consult")
        request = body(
            startTime="2026-03-16T15:00:00Z", endTime="2026-03-16T16:00:00Z", customFields=None
        )
        response = httpx.post(base + consult, json=request)
        assert response.status_code == 400
        assert response.json()["error"] == "The selected time slot is no longer available."
        request.update(startTime="2026-03-16T16:00:00Z", endTime="2026-03-16T17:00:00Z")
        free = httpx.post(base + consult, json=request)
        assert free.status_code == 400, free.text
        assert free.json()["error"] != "The selected time slot is no longer available."


def test_the_redis_store_reads_one_hosts_bookings_and_spans_and_counts_without_reading(
    redis_server,
):
    """The memory store's contract for list(host), busy_spans and count, on Redis."""
    import random

    from mock_server.redis_store import RedisBookingStore
    from tests.mock_server.test_store import booking

    rng = random.Random(5)

    async def run() -> None:
        store = RedisBookingStore(redis_server.url)
        try:
            for i in range(60):
                host = rng.choice(("jane", "john"))
                await store.add_if_free(booking(f"b{i}", rng.randrange(0, 900, 5), 15, host))
            stored = await store.list()
            jane = [b for b in stored if b.host_slug == "jane"]
            assert [b.id for b in await store.list("jane")] == [b.id for b in jane]
            assert await store.count() == len(stored)
            for _ in range(40):
                low = stored[0].busy_start + timedelta(minutes=rng.randrange(-30, 930))
                high = low + timedelta(minutes=rng.randrange(1, 120))
                expected = sorted((b.busy_start, b.busy_end) for b in jane if b.overlaps(low, high))
                assert await store.busy_spans("jane", low, high) == expected
        finally:
            store.close()

    asyncio.run(run())


def test_the_redis_store_accepts_exactly_the_non_overlapping_spans(redis_server):
    """Against a brute-force check, random spans in random order with cancellations: the
    sorted-set check sees the same overlaps as comparing with every stored span."""
    import random

    from mock_server.redis_store import RedisBookingStore
    from tests.mock_server.test_store import booking

    rng = random.Random(11)

    async def run() -> None:
        store = RedisBookingStore(redis_server.url)
        try:
            accepted = []
            for i in range(250):
                length = rng.choice((5, 15, 30, 60))
                candidate = booking(f"b{i}", rng.randrange(0, 1500, 5), length)
                expected = not any(
                    a.busy_start < candidate.busy_end and candidate.busy_start < a.busy_end
                    for a in accepted
                )
                assert await store.add_if_free(candidate) is expected, candidate
                assert await store.is_busy("jane", candidate.busy_start, candidate.busy_end)
                if expected:
                    accepted.append(candidate)
                if accepted and rng.random() < 0.1:
                    gone = accepted.pop(rng.randrange(len(accepted)))
                    assert await store.delete(gone.id)
            assert {b.id for b in await store.list()} == {b.id for b in accepted}
        finally:
            store.close()

    asyncio.run(run())


def test_spans_an_older_booking_mock_stored_without_the_index_still_block(redis_server):
    """A Redis filled by a booking-mock without the sorted set (the hash alone): the first
    check builds the index from the hash, so those bookings still count."""
    import redis.asyncio as aioredis

    from mock_server.redis_store import RedisBookingStore
    from tests.mock_server.test_store import booking

    async def run() -> list[bool]:
        store = RedisBookingStore(redis_server.url)
        try:
            old = booking("old", 60, 30)
            span = f"{int(old.busy_start.timestamp())}:{int(old.busy_end.timestamp())}"
            direct = aioredis.Redis.from_url(redis_server.url)
            await direct.hset("booking-mock:busy:jane", "old", span)
            await direct.aclose()
            return [
                await store.is_busy("jane", old.busy_start, old.busy_end),
                await store.add_if_free(booking("new", 75, 30)),  # overlaps the old one
                await store.add_if_free(booking("next", 90, 30)),  # right after it
            ]
        finally:
            store.close()

    assert asyncio.run(run()) == [True, False, True]


def test_workers_with_one_seed_book_distinct_slots_without_id_collisions(redis_server):
    """Two workers started with one --seed draw booking ids of their own: every booking of
    distinct free slots is a 201, none a 500 from ids the other worker already used."""
    port = free_port()
    args = [*PINNED, "--seed", "7", "--forwarded-allow-ips", "127.0.0.1"]
    args += ["--storage", redis_server.url, "--workers", "2"]
    with serve_process(args, port) as base:
        slots = httpx.get(
            f"{base}/__admin/slots/jane-doe/30min-call",
            params={"from": "2026-03-16", "to": "2026-04-30"},
            headers={"host": "localhost"},
        ).json()["slots"][:200]

        async def book_all() -> list[int]:
            # A new connection per request, so both workers take their share.
            fresh = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=fresh) as client:

                async def one(index: int, slot: dict[str, str]) -> int:
                    answer = await client.post(
                        URL,
                        json=body(startTime=slot["startTime"], endTime=slot["endTime"]),
                        headers={"x-forwarded-for": f"10.7.{index // 250}.{index % 250}"},
                    )
                    return answer.status_code

                return await asyncio.gather(*(one(i, s) for i, s in enumerate(slots)))

        statuses = asyncio.run(book_all())
        ids = {b["id"] for b in httpx.get(f"{base}/__admin/bookings").json()["bookings"]}
    assert len(slots) == 200
    assert statuses == [201] * 200
    assert len(ids) == 200


def test_the_redis_limiter_gives_limits_own_verdicts_in_one_round_trip(redis_server):
    """The one-script hit against limits' own MovingWindowRateLimiter (acquire, then read)
    on the same Redis, request for request, windows sliding between some of them."""
    import random

    from limits.aio.strategies import MovingWindowRateLimiter

    from mock_server.ratelimit import RateLimiter, redis_storage
    from mock_server.redis_pipe import RedisPipe

    async def run() -> None:
        ours = RateLimiter(
            "4/1 second", redis_storage(redis_server.url), RedisPipe(redis_server.url)
        )
        theirs = MovingWindowRateLimiter(redis_storage(redis_server.url))
        rng = random.Random(9)
        for step in range(200):
            n = rng.randrange(5)
            quota = await ours.hit(f"ours-{n}")
            allowed = await theirs.hit(ours.item, f"theirs-{n}")
            stats = await theirs.get_window_stats(ours.item, f"theirs-{n}")
            assert (quota.allowed, quota.remaining) == (allowed, max(0, stats.remaining)), step
            peeked = await ours.peek(f"ours-{n}")
            assert peeked.remaining == quota.remaining, step  # limits' read agrees with ours
            if step % 40 == 39:
                await asyncio.sleep(0.4)

    asyncio.run(run())


def test_a_busy_pool_makes_requests_wait_for_a_connection_not_fail(redis_server):
    """More concurrent commands than pooled connections: each waits its turn and succeeds,
    and Redis never sees more connections from the pool than its size."""
    import redis.asyncio as aioredis

    from mock_server.redis_store import WaitingPool

    async def scenario() -> tuple[list[int], int]:
        pool = WaitingPool.from_url(
            redis_server.url, max_connections=3, timeout=5, client_name="pooled"
        )
        client = aioredis.Redis(connection_pool=pool)
        watcher = aioredis.Redis.from_url(redis_server.url)
        most = 0

        async def one(n: int) -> int:
            nonlocal most
            # A script that holds its connection a moment, so the pool runs dry.
            value = await client.eval("local t = redis.call('TIME') return ARGV[1]", 0, n)
            clients = await watcher.execute_command("CLIENT", "LIST")
            most = max(most, clients.count(b" name=pooled "))
            return int(value)

        try:
            answers = await asyncio.gather(*(one(n) for n in range(60)))
        finally:
            await client.aclose()
            await watcher.aclose()
        return answers, most

    answers, most = asyncio.run(scenario())
    assert answers == list(range(60))
    assert 1 <= most <= 3


def test_a_restart_with_the_same_seed_on_the_same_redis_books_without_500s(redis_server):
    """The restarted instance draws the ids its first run drew, which Redis still holds:
    its bookings are 201s with ids of their own, not 500s from a collision each."""
    args = [*PINNED, "--seed", "7", "--storage", redis_server.url, "--rate-limit", "1000/minute"]
    args += ["--forwarded-allow-ips", "127.0.0.1"]

    def book_slots(base: str, slots: list[dict[str, str]]) -> list[int]:
        return [
            httpx.post(
                base + URL, json=body(startTime=slot["startTime"], endTime=slot["endTime"])
            ).status_code
            for slot in slots
        ]

    with serve_process(args, free_port()) as base:
        slots = httpx.get(
            f"{base}/__admin/slots/jane-doe/30min-call",
            params={"from": "2026-03-16", "to": "2026-04-30"},
            headers={"host": "localhost"},
        ).json()["slots"][:40]
        assert book_slots(base, slots[:20]) == [201] * 20
    with serve_process(args, free_port()) as base:
        assert book_slots(base, slots[20:]) == [201] * 20
        ids = {b["id"] for b in httpx.get(f"{base}/__admin/bookings").json()["bookings"]}
    assert len(ids) == 40


def test_a_redis_holding_only_the_acquire_script_counts_a_request_once(redis_server):
    """Another process loading limits' scripts one at a time leaves a moment where Redis has
    the acquire script and not the window's: a request then is counted once, not twice."""
    import redis.asyncio as aioredis

    from mock_server.ratelimit import RateLimiter, redis_storage
    from mock_server.redis_pipe import RedisPipe

    async def scenario() -> list[int]:
        storage = redis_storage(redis_server.url)
        limiter = RateLimiter("15/minute", storage, RedisPipe(redis_server.url))
        direct = aioredis.Redis.from_url(redis_server.url)
        try:
            await direct.script_flush()
            await direct.script_load(storage.bridge.lua_acquire_moving_window.script)
            return [(await limiter.hit("10.9.9.9")).remaining for _ in range(3)]
        finally:
            await direct.aclose()

    assert asyncio.run(scenario()) == [14, 13, 12]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found.extend(int(child) for child in children.read().split())
    return found


ESTABLISHED, LISTEN = "01", "0A"  # states in /proc/net/tcp


def _sockets_held(pid: int, port: int, state: str) -> int:
    """How many TCP sockets on local ``port`` in ``state`` process ``pid`` holds open."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def _workers(pid: int, port: int) -> list[int]:
    """The children of ``pid`` listening on ``port``."""
    return [child for child in _children(pid) if _sockets_held(child, port, LISTEN)]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_workers_each_take_a_share_of_a_burst_of_connections(redis_server):
    """40 connections opened at once are spread over both workers, not all taken by the one
    that woke first (each worker accepts on a socket of its own)."""
    port = free_port()
    args = [*PINNED, "--storage", redis_server.url, "--workers", "2"]
    with start_process(args, port) as served:
        burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        try:
            for conn in burst:
                conn.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            for conn in burst:
                assert conn.recv(64).startswith(b"HTTP/1.1 200"), "every connection is served"
            held = [_sockets_held(pid, port, ESTABLISHED) for pid in _children(served.process.pid)]
        finally:
            for conn in burst:
                conn.close()
    shares = sorted(n for n in held if n)
    assert sum(shares) == 40, held
    assert len(shares) == 2 and shares[0] >= 8, f"connections per worker: {held}"


def test_workers_refuse_a_port_already_in_use(redis_server):
    """As one worker would: the port is not shared, even with another booking-mock's workers."""
    port = free_port()
    args = [*PINNED, "--storage", redis_server.url, "--workers", "2"]
    with serve_process(args, port):
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "mock_server",
                *args,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert second.returncode != 0
    assert "address already in use" in second.stderr.lower(), second.stderr


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_a_dead_worker_is_replaced_on_its_socket(redis_server):
    """Connections the kernel queues on a crashed worker's socket are served by its
    replacement, not left unanswered."""
    port = free_port()
    args = [*PINNED, "--storage", redis_server.url, "--workers", "2"]
    with start_process(args, port) as served:
        workers = _workers(served.process.pid, port)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        with httpx.Client(timeout=30) as client:  # a new connection each request
            for _ in range(20):
                response = client.get(
                    f"{served.url}/__admin/health", headers={"Connection": "close"}
                )
                assert response.status_code == 200
        replaced = _workers(served.process.pid, port)
        assert len(replaced) == 2 and workers[0] not in replaced, (workers, replaced)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_sigttin_and_sigttou_leave_the_workers_as_they_are(redis_server):
    """uvicorn adds or removes a worker on SIGTTIN or SIGTTOU; with a socket per worker
    that would leave a socket nobody accepts on, so both are ignored."""
    port = free_port()
    args = [*PINNED, "--storage", redis_server.url, "--workers", "2"]
    with start_process(args, port) as served:
        before = _workers(served.process.pid, port)
        for sig in (signal.SIGTTIN, signal.SIGTTOU):
            os.kill(served.process.pid, sig)
        time.sleep(1.5)  # the supervisor reads its signals every half second
        assert sorted(_workers(served.process.pid, port)) == sorted(before)
        with httpx.Client(timeout=10) as client:
            for _ in range(10):
                headers = {"Connection": "close"}
                assert (
                    client.get(f"{served.url}/__admin/health", headers=headers).status_code == 200
                )
        assert "SIGTTIN ignored" in served.output() and "SIGTTOU ignored" in served.output()
