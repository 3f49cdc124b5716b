"""Faults survived, nothing lost (issue 11): two instances on one real, durable Redis.

Twenty concurrent clients book distinct and contested slots through two ``booking-mock``
subprocesses sharing one ``redis-server``. Mid-run one instance is SIGKILLed, and Redis
itself is SIGKILLed and started again on the same port, with an append-only file synced on
every write, so whatever Redis acknowledged is on disk. A module-scoped fixture runs each
scenario once; the tests below judge what it recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from mock_server.domain.store import Booking, DuplicateBookingId, Invitee
from mock_server.errors import StorageUnavailable
from mock_server.ratelimit import RateLimiter
from mock_server.redis_store import RedisBookingStore
from mock_server.storage import open_storage
from tests.servers import ServedProcess, free_port, start_process

from .test_redis import PINNED, RedisServer
from .test_rules import BOOK, SLOT_TAKEN, body

CLIENTS = 20
CLIENT_TIMEOUT = 5.0  # seconds: an answer slower than this counts as a hang
PACE = 0.08  # seconds between one client's requests
RECOVERY = 5.0  # seconds after Redis is back by which answers must be 201/400 again
LIMIT = ["--rate-limit", "100000/minute"]  # the limiter is exercised, never the refusal
UNAVAILABLE = "The booking storage is unavailable. Try again shortly."


class DurableRedis(RedisServer):
    """A redis-server that keeps what it acknowledged: an append-only file fsynced on every
    write, in a directory that outlives the process, so a SIGKILL loses nothing."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always", "--dir", self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: Redis gets no chance to flush anything it has not flushed already."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class Answer:
    """One request of the run and what came back (status None: no HTTP answer at all)."""

    client: int
    instance: str  # "a" survives, "b" is killed
    kind: str  # "distinct" or "contested"
    request: dict[str, Any]
    sent: float
    received: float
    status: int | None = None
    content_type: str | None = None
    body: Any = None
    failure: str | None = None  # the transport error's class name

    @property
    def timed_out(self) -> bool:
        return self.failure is not None and "Timeout" in self.failure


@dataclass
class Run:
    answers: list[Answer]
    stored: list[dict[str, Any]]  # /__admin/bookings of the survivor afterwards
    events: dict[str, float] = field(default_factory=dict)  # monotonic times of the faults
    admin_during_outage: list[Answer] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)

    def of(self, instance: str) -> list[Answer]:
        return [a for a in self.answers if a.instance == instance]

    def created(self) -> dict[str, dict[str, Any]]:
        return {a.body["id"]: a.body for a in self.answers if a.status == 201}

    def describe(self) -> str:
        counts: dict[str, int] = defaultdict(int)
        for a in self.answers:
            counts[f"{a.instance}:{a.status or a.failure}"] += 1
        return f"answers {dict(counts)}; stored {len(self.stored)}; events {self.events}"


def slots(base: str, user: str, event: str, first: str, last: str) -> list[tuple[str, str]]:
    response = httpx.get(f"{base}/__admin/slots/{user}/{event}?from={first}&to={last}")
    response.raise_for_status()
    return [(s["startTime"], s["endTime"]) for s in response.json()["slots"]]


Slot = tuple[str, str, str, str]  # host, event type, start, end


def plan(base: str) -> tuple[list[list[Slot]], list[Slot]]:
    """Per client, slots only it asks for; and slots every client asks for, in one order.

    Distinct: John Smith's 15-minute slots, dealt out to the clients. Contested: Jane Doe's
    30-minute calls and 60-minute consultations of two days, which overlap one another.
    """
    john = slots(base, "john-smith", "15min-intro", "2026-03-16", "2026-05-08")
    distinct = [
        [("john-smith", "15min-intro", *span) for span in john[i::CLIENTS]] for i in range(CLIENTS)
    ]
    calls = slots(base, "jane-doe", "30min-call", "2026-03-16", "2026-03-17")
    consults = slots(base, "jane-doe", "60min-consult", "2026-03-16", "2026-03-17")
    contested = [("jane-doe", "30min-call", *span) for span in calls]
    contested += [("jane-doe", "60min-consult", *span) for span in consults]
    contested.sort(key=lambda item: (item[2], item[1]))
    assert len(distinct[-1]) >= 40 and len(contested) >= 40
    return distinct, contested


async def timed(
    client: httpx.AsyncClient, method: str, url: str, answer: Answer, **kwargs: Any
) -> Answer:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        answer.failure = type(exc).__name__
    else:
        answer.status = response.status_code
        answer.content_type = response.headers.get("content-type")
        try:
            answer.body = response.json()
        except ValueError:
            answer.body = response.text
    answer.received = time.monotonic()
    return answer


@contextlib.asynccontextmanager
async def http_clients(count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client (and so its own connections) per simulated client, made up front:
    each costs tens of milliseconds of set-up that would otherwise stall the run."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(timeout=CLIENT_TIMEOUT))
            for _ in range(count)
        ]


class Clients:
    """CLIENTS paced clients booking through the instances until stopped; while instance b
    lives they alternate between a and b, afterwards they all go to a."""

    def __init__(self, bases: dict[str, str]) -> None:
        self.bases = bases
        self.distinct, self.contested = plan(bases["a"])
        self.answers: list[Answer] = []
        self.stop = asyncio.Event()
        self.b_dead = asyncio.Event()

    def next_request(self, index: int, step: int) -> tuple[str, str, dict[str, Any]]:
        mine = self.distinct[index]
        if step % 2 == 0 and step // 2 < len(mine):
            kind, (host, event, start, end) = "distinct", mine[step // 2]
        else:
            # Every client asks for the same contested slot at about the same time.
            kind = "contested"
            host, event, start, end = self.contested[(step // 2) % len(self.contested)]
        email = f"c{index}-{step}@example.com"
        request = body(startTime=start, endTime=end, inviteeEmail=email)
        return kind, BOOK.format(user=host, event=event), request

    async def client(self, index: int, http: httpx.AsyncClient) -> None:
        step = 0
        while not self.stop.is_set():
            kind, path, request = self.next_request(index, step)
            instance = "a" if self.b_dead.is_set() or (index + step) % 2 == 0 else "b"
            answer = Answer(index, instance, kind, request, time.monotonic(), 0.0)
            await timed(http, "POST", self.bases[instance] + path, answer, json=request)
            self.answers.append(answer)
            step += 1
            await asyncio.sleep(PACE)

    async def run(self, https: list[httpx.AsyncClient]) -> list[Answer]:
        await asyncio.gather(*(self.client(i, http) for i, http in enumerate(https)))
        return self.answers


async def with_faults(processes: dict[str, ServedProcess], server: DurableRedis) -> Run:
    """Kill instance b after 1 s; kill Redis 1 s later and start it again after 2 s of
    outage, probing the control API meanwhile; then 3 s more of bookings."""
    clients = Clients({name: p.url for name, p in processes.items()})
    survivor = processes["a"].url
    events: dict[str, float] = {}
    admin: list[Answer] = []
    async with http_clients(CLIENTS + 1) as https:
        probe = https.pop()
        task = asyncio.create_task(clients.run(https))
        await asyncio.sleep(1.0)
        processes["b"].kill()
        events["b_killed"] = time.monotonic()
        clients.b_dead.set()
        await asyncio.sleep(1.0)
        server.kill()
        events["redis_down"] = time.monotonic()
        while time.monotonic() < events["redis_down"] + 2.0:
            for path in ADMIN_PROBES:
                answer = Answer(-1, "a", "admin", {"path": path}, time.monotonic(), 0.0)
                admin.append(await timed(probe, "GET", survivor + path, answer))
            await asyncio.sleep(0.2)
        events["redis_restarting"] = time.monotonic()
        await asyncio.to_thread(server.start)
        events["redis_up"] = time.monotonic()
        await asyncio.sleep(3.0)
        clients.stop.set()
        answers = await task
    return Run(answers, [], events, admin)


async def without_faults(processes: dict[str, ServedProcess]) -> Run:
    clients = Clients({name: p.url for name, p in processes.items()})
    async with http_clients(CLIENTS) as https:
        task = asyncio.create_task(clients.run(https))
        await asyncio.sleep(3.0)
        clients.stop.set()
        return Run(await task, [])


ADMIN_PROBES = [
    "/__admin/health",
    "/__admin/bookings",
    "/__admin/slots/jane-doe/30min-call?from=2026-03-16",
]


def stored_bookings(base: str, deadline: float = 10) -> list[dict[str, Any]]:
    """The survivor's bookings, once it answers (it must, within the deadline)."""
    until = time.monotonic() + deadline
    while True:
        response = httpx.get(base + "/__admin/bookings", timeout=CLIENT_TIMEOUT)
        if response.status_code == 200:
            return response.json()["bookings"]
        assert time.monotonic() < until, f"/__admin/bookings kept answering {response.text}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def redis_directory() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip(
            "redis-server is not installed (Debian package redis-server; .ci/run installs it)"
        )
    with tempfile.TemporaryDirectory(prefix="booking-mock-redis-") as directory:
        yield directory


@contextlib.contextmanager
def two_instances_on_redis(
    directory: str,
) -> Iterator[tuple[dict[str, ServedProcess], DurableRedis]]:
    """A durable Redis in directory, and instances a and b sharing it; all stopped after."""
    os.makedirs(directory)
    server = DurableRedis(directory)
    with ExitStack() as stack:
        stack.callback(server.stop)
        server.start()
        args = [*PINNED, "--storage", server.url, *LIMIT, "--log-level", "warning"]
        processes = {n: stack.enter_context(start_process(args, free_port())) for n in "ab"}
        yield processes, server


@pytest.fixture(scope="module")
def fault_run(redis_directory: str) -> Run:
    with two_instances_on_redis(os.path.join(redis_directory, "faults")) as (processes, server):
        run = asyncio.run(with_faults(processes, server))
        run.stored = stored_bookings(processes["a"].url)
        run.logs = {name: p.output() for name, p in processes.items()}
    return run


@pytest.fixture(scope="module")
def clean_run(redis_directory: str) -> Run:
    with two_instances_on_redis(os.path.join(redis_directory, "clean")) as (processes, _):
        run = asyncio.run(without_faults(processes))
        run.stored = stored_bookings(processes["a"].url)
        run.logs = {name: p.output() for name, p in processes.items()}
    return run


def assert_error_body(answer: Answer, status: int) -> None:
    assert answer.status == status, answer
    assert answer.content_type == "application/json", answer
    assert isinstance(answer.body, dict) and set(answer.body) <= {"error", "details"}, answer
    assert isinstance(answer.body["error"], str) and answer.body["error"], answer


def assert_no_overlap(stored: list[dict[str, Any]]) -> None:
    """Per host, stored spans sorted by start never reach into the next one (no buffers in
    the default dataset, so a booking's busy span is its slot)."""
    assert len({b["id"] for b in stored}) == len(stored), "a booking id is stored twice"
    spans: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for b in stored:
        start = datetime.fromisoformat(b["startTime"])
        spans[b["host"]].append((start, datetime.fromisoformat(b["endTime"]), b["id"]))
    for host, items in spans.items():
        items.sort()
        for before, after in itertools.pairwise(items):
            assert before[1] <= after[0], f"{host}: {before[2]} overlaps {after[2]}"


def test_bookings_acknowledged_survive_kill_and_redis_restart(fault_run: Run) -> None:
    """Every 201, from either instance and from before or after Redis restarted, is listed
    by the survivor afterwards, as it was answered."""
    created = fault_run.created()
    events = fault_run.events
    # The run really booked through both instances, and on both sides of the restart.
    assert any(a.status == 201 and a.instance == "b" for a in fault_run.answers)
    assert any(a.status == 201 and a.received < events["redis_down"] for a in fault_run.answers)
    assert any(a.status == 201 and a.sent > events["redis_up"] for a in fault_run.answers)
    stored = {b["id"]: b for b in fault_run.stored}
    missing = sorted(set(created) - set(stored))
    assert not missing, f"acknowledged but lost: {missing}; {fault_run.describe()}"
    for booking_id, answered in created.items():
        listed = stored[booking_id]
        for name in ("eventTypeId", "status", "startTime", "endTime", "location", "createdAt"):
            assert listed[name] == answered[name], (booking_id, name)
        # The control API adds what the public answer leaves out (the locale).
        assert listed["invitee"].items() >= answered["invitee"].items(), booking_id


def test_no_overlap_after_faults(fault_run: Run) -> None:
    assert_no_overlap(fault_run.stored)
    # Contested slots were fought over: some lost to another booking, with rule 8's message.
    taken = [a for a in fault_run.answers if a.status == 400]
    assert taken and all(a.body == {"error": SLOT_TAKEN} for a in taken), fault_run.describe()


def test_redis_outage_answers_503_quickly(fault_run: Run) -> None:
    """With Redis gone, the survivor answers every request, booking or control API, with a
    503 in the error format, well inside the client's timeout; never a 500, never a hang."""
    events = fault_run.events
    survivor = fault_run.of("a")
    assert not [a for a in survivor if a.status is None], fault_run.describe()
    assert not [a for a in fault_run.answers if a.timed_out], fault_run.describe()
    assert all(a.received - a.sent < CLIENT_TIMEOUT for a in survivor)
    outage = [
        a
        for a in [*survivor, *fault_run.admin_during_outage]
        if a.sent >= events["redis_down"] and a.received <= events["redis_restarting"]
    ]
    assert len(outage) >= CLIENTS, fault_run.describe()  # the outage was really exercised
    for answer in outage:
        assert_error_body(answer, 503)
        assert answer.body == {"error": UNAVAILABLE}
    assert {a.request.get("path") for a in fault_run.admin_during_outage} >= {
        "/__admin/health",
        "/__admin/bookings",
    }
    # Whenever it was sent, a request got 201, 400 or 503: nothing else, no 500.
    for answer in survivor:
        assert answer.status in (201, 400, 503), answer
        if answer.status != 201:
            assert_error_body(answer, answer.status)


def test_answers_recover_after_redis_restart(fault_run: Run) -> None:
    """Once Redis is back, bookings are answered 201 or 400 again within RECOVERY seconds,
    and no 503 comes after that."""
    up = fault_run.events["redis_up"]
    after = [a for a in fault_run.of("a") if a.sent >= up]
    recovered = [a for a in after if a.status in (201, 400)]
    assert recovered, fault_run.describe()
    assert recovered[0].received - up < RECOVERY
    late = [a for a in after if a.status == 503 and a.sent > up + RECOVERY]
    assert not late, late[:3]
    assert any(a.status == 201 for a in recovered)


def test_killed_instance_answered_nothing_after_its_death(fault_run: Run) -> None:
    """The SIGKILLed instance drops what it had in flight (the clients see a transport
    error, never a 5xx) and the clients move to the survivor."""
    killed = fault_run.events["b_killed"]
    for answer in fault_run.of("b"):
        assert answer.status in (None, 201, 400), answer
        assert answer.sent < killed, answer
    assert fault_run.logs["a"].count("Traceback") == 0, fault_run.logs["a"]


def test_no_faults_201s_equal_stored(clean_run: Run) -> None:
    """Without faults, every request is answered 201 or the slot-taken 400, and what was
    stored is exactly what was acknowledged."""
    assert not [a for a in clean_run.answers if a.status not in (201, 400)], clean_run.describe()
    created = clean_run.created()
    assert len(created) == sum(1 for a in clean_run.answers if a.status == 201)
    assert len(clean_run.stored) == len(created), clean_run.describe()
    assert {b["id"] for b in clean_run.stored} == set(created)
    assert any(a.status == 400 and a.kind == "contested" for a in clean_run.answers)
    assert {a.instance for a in clean_run.answers if a.status == 201} == {"a", "b"}


def test_no_overlap_without_faults(clean_run: Run) -> None:
    assert_no_overlap(clean_run.stored)


# The fixes these runs led to, each on its own.


@pytest.fixture
def durable_redis(redis_directory: str, tmp_path: Any) -> Iterator[DurableRedis]:
    """A durable Redis of the test's own (redis_directory for its skip)."""
    server = DurableRedis(str(tmp_path))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_first_booking_after_redis_restart_is_not_refused(durable_redis: DurableRedis) -> None:
    """A quiet instance whose Redis restarted answers its next request as usual: the pooled
    connections, dead since the restart, are replaced on the spot rather than each
    costing a client a 503 (the rate limiter's and the booking store's alike)."""
    url = BOOK.format(user="john-smith", event="15min-intro")
    args = [*PINNED, "--storage", durable_redis.url, *LIMIT, "--log-level", "warning"]
    with start_process(args, free_port()) as served, httpx.Client(timeout=CLIENT_TIMEOUT) as http:
        first = http.post(
            served.url + url,
            json=body(startTime="2026-03-16T09:00:00Z", endTime="2026-03-16T09:15:00Z"),
        )
        assert first.status_code == 201, first.text
        durable_redis.kill()
        durable_redis.start()
        health = http.get(served.url + "/__admin/health")
        assert health.status_code == 200, health.text
        after = http.post(
            served.url + url,
            json=body(startTime="2026-03-16T09:15:00Z", endTime="2026-03-16T09:30:00Z"),
        )
        assert after.status_code == 201, after.text
        again = http.post(
            served.url + url,
            json=body(startTime="2026-03-16T09:00:00Z", endTime="2026-03-16T09:15:00Z"),
        )
        assert again.status_code == 400 and again.json() == {"error": SLOT_TAKEN}
        listed = {b["id"] for b in http.get(served.url + "/__admin/bookings").json()["bookings"]}
        assert listed == {first.json()["id"], after.json()["id"]}


def a_booking(booking_id: str, start: str, minutes: int = 15) -> Booking:
    begin = datetime.fromisoformat(start)
    finish = begin + timedelta(minutes=minutes)
    return Booking(
        id=booking_id,
        host_slug="john-smith",
        event_slug="15min-intro",
        event_type_id="evt_jkl012",
        status="Confirmed",
        start=begin,
        end=finish,
        busy_start=begin,
        busy_end=finish,
        invitee=Invitee(name="Alex", email="alex@example.com", timezone="Europe/Berlin"),
        location_type="InPerson",
        location_value="Alexanderplatz 1, 10178 Berlin",
        created_at=datetime.fromisoformat("2026-03-13T10:30:00+00:00"),
    )


class ReplyDropper:
    """A TCP proxy in front of Redis that, once, lets an EVALSHA through and then closes the
    client's connection instead of passing the reply on: a write Redis made whose
    acknowledgement never arrived."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.dropped = False
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        # Closing every connection ends each handler's reads (cancelling them would not
        # end them quietly).
        for writer in self.writers:
            writer.close()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=5)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.redis_port
        )
        self.writers += [writer, upstream_writer]
        script_sent = asyncio.Event()

        async def to_redis() -> None:
            while data := await reader.read(65536):
                if b"EVALSHA" in data.upper():
                    script_sent.set()
                upstream_writer.write(data)
                await upstream_writer.drain()
            upstream_writer.close()

        async def to_client() -> None:
            while data := await upstream_reader.read(65536):
                if script_sent.is_set() and not self.dropped:
                    self.dropped = True
                    writer.close()
                    upstream_writer.close()
                    return
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(to_redis(), to_client(), return_exceptions=True)


def test_booking_whose_acknowledgement_was_lost_is_acknowledged_on_retry(
    durable_redis: DurableRedis,
) -> None:
    """A dropped connection is retried once on a fresh one, and the booking script is
    idempotent for its own attempt: replayed after Redis stored the booking but the reply
    was lost, it answers stored (so a 201), not a clash with itself (a 400 for a booking
    that is in fact made)."""

    async def scenario() -> None:
        direct = RedisBookingStore(durable_redis.url)
        # Loads the script into Redis, so the proxied call is one EVALSHA.
        assert await direct.add_if_free(a_booking("bkg_warmup000001", "2026-03-16T12:00:00+00:00"))
        dropper = ReplyDropper(durable_redis.port)
        async with dropper as proxied_url:
            proxied = RedisBookingStore(proxied_url)
            booking = a_booking("bkg_lostreply0001", "2026-03-16T09:00:00+00:00")
            assert await proxied.add_if_free(booking) is True
            assert dropper.dropped
            proxied.close()
        assert [b.id for b in await direct.list()] == ["bkg_lostreply0001", "bkg_warmup000001"]
        # Another booking under a stored id is still a clash of ids, not a replay.
        clash = a_booking("bkg_lostreply0001", "2026-03-17T09:00:00+00:00")
        with pytest.raises(DuplicateBookingId):
            await direct.add_if_free(clash)
        direct.close()

    asyncio.run(scenario())


def test_limiter_and_store_reconnect_after_redis_restart(durable_redis: DurableRedis) -> None:
    """In process: a Redis restart nobody saw leaves dead pooled connections; the next
    limiter hit, store read and ping replace them and succeed. During an outage each
    fails fast with StorageUnavailable, and succeeds again once Redis is back."""

    async def scenario() -> None:
        storage = open_storage(durable_redis.url)  # as the app: one pipe for both
        limiter = RateLimiter("100/minute", storage.rate_limits, storage.pipe)
        store = storage.bookings
        first = a_booking("bkg_beforerestart1", "2026-03-16T09:00:00+00:00")
        assert (await limiter.hit("127.0.0.9")).remaining == 99
        assert await store.add_if_free(first)
        await asyncio.to_thread(durable_redis.kill)
        await asyncio.to_thread(durable_redis.start)
        assert (await limiter.hit("127.0.0.9")).remaining == 98  # the AOF kept the first hit
        assert [b.id for b in await store.list()] == [first.id]
        assert await store.ping() is True
        await asyncio.to_thread(durable_redis.kill)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await limiter.hit("127.0.0.9")
        with pytest.raises(StorageUnavailable):
            await store.add_if_free(a_booking("bkg_duringoutage1", "2026-03-16T10:00:00+00:00"))
        assert await store.ping() is False
        assert time.monotonic() - started < 2
        await asyncio.to_thread(durable_redis.start)
        assert (await limiter.hit("127.0.0.9")).remaining == 97
        assert [b.id for b in await store.list()] == [first.id]
        storage.pipe.close()

    asyncio.run(scenario())


def test_a_hung_redis_is_a_503_within_the_storage_deadline(durable_redis: DurableRedis) -> None:
    """A Redis that stops answering (SIGSTOP: the connections stay open, nothing comes back)
    turns each limiter hit, store call and health check into StorageUnavailable within the
    storage deadline, not a hang; once it answers again, so do they."""
    import signal

    from mock_server.errors import STORAGE_DEADLINE

    async def scenario() -> None:
        storage = open_storage(durable_redis.url)  # as the app: one pipe for both
        limiter = RateLimiter("100/minute", storage.rate_limits, storage.pipe)
        store = storage.bookings
        assert (await limiter.hit("127.0.0.9")).remaining == 99
        assert await store.add_if_free(a_booking("bkg_beforehang001", "2026-03-16T09:00:00+00:00"))
        assert durable_redis.process is not None
        os.kill(durable_redis.process.pid, signal.SIGSTOP)
        try:
            calls = [
                lambda: limiter.hit("127.0.0.9"),
                lambda: limiter.peek("127.0.0.9"),
                lambda: store.add_if_free(
                    a_booking("bkg_duringhang01", "2026-03-16T10:00:00+00:00")
                ),
                store.list,
                store.count,
            ]
            for call in calls:
                started = time.monotonic()
                with pytest.raises(StorageUnavailable):
                    await call()
                assert time.monotonic() - started < STORAGE_DEADLINE + 1
            assert await store.ping() is False
        finally:
            os.kill(durable_redis.process.pid, signal.SIGCONT)
        # The commands sent during the hang may have run once Redis woke: at most one hit.
        assert (await limiter.hit("127.0.0.9")).remaining in (97, 98)
        assert "bkg_beforehang001" in [b.id for b in await store.list()]
        assert await store.ping() is True
        storage.pipe.close()

    asyncio.run(scenario())


def test_a_rate_limit_hit_whose_reply_was_lost_is_counted_once(durable_redis: DurableRedis) -> None:
    """The limiter's scripts are written, Redis counts the request, and the connection
    drops before the reply: the request is a 503, and is not sent again (it would count
    twice: one request using two of the client's 15)."""

    async def scenario() -> int:
        direct = open_storage(durable_redis.url)
        limiter = RateLimiter("15/minute", direct.rate_limits, direct.pipe)
        await limiter.hit("10.0.0.1")  # loads the scripts, so the proxied hit runs them
        dropper = ReplyDropper(durable_redis.port)
        async with dropper as proxied_url:
            proxied = open_storage(proxied_url)
            through = RateLimiter("15/minute", proxied.rate_limits, proxied.pipe)
            with pytest.raises(StorageUnavailable):
                await through.hit("10.0.0.2")
            assert dropper.dropped
            assert proxied.pipe is not None
            proxied.pipe.close()
        remaining = (await limiter.peek("10.0.0.2")).remaining
        assert direct.pipe is not None
        direct.pipe.close()
        return remaining

    assert asyncio.run(scenario()) == 14
