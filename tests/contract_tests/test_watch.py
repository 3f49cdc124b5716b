"""``booking-contract watch`` in front of the reference and of broken servers: what it names.

Each test serves an upstream on a free port, starts the watch (the real command, in a
process of its own) in front of it, drives clients through it from loopback source
addresses, stops it with Ctrl-C and reads its output and its JSON report.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import PINNED
from tests.contract_tests import broken_rewrites as rewrite
from tests.faults import BrokenStore, Layer, behind_limiter, booking_answer, reference
from tests.faults import limiters as model
from tests.mock_server.test_rules import body
from tests.servers import free_port, serve_app, start_process

BOOK = "/api/public/scheduling/jane-doe/30min-call/book"
LIMIT, WINDOW = 5, 2
RATE = f"{LIMIT}/{WINDOW} seconds"


@dataclass
class Watch:
    code: int
    output: str
    report: dict[str, Any]
    junit: ElementTree.Element
    seen: dict[str, Counter[int]]

    def client(self, name: str) -> dict[str, Any]:
        return next(c for c in self.report["rateLimit"]["clients"] if c["client"] == name)

    @property
    def violations(self) -> set[str]:
        shape = {rule for rule, tally in self.report["shape"].items() if tally["count"]}
        return shape | set(self.report["rateLimit"]["violations"])


@pytest.fixture
def pinned_reference() -> Iterator[str]:
    with serve_app(reference(clock=PINNED, clock_frozen=True, rate_limit=RATE)) as url:
        yield url


def drive(url: str, sources: list[str], requests: int, payload: Any) -> dict[str, Counter[int]]:
    """Each source sends ``requests`` book requests, waiting out each 429's Retry-After."""
    seen: dict[str, Counter[int]] = {}

    def client(source: str) -> None:
        counts: Counter[int] = Counter()
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=url, transport=transport, timeout=10) as http:
            for _ in range(requests):
                response = http.post(BOOK, json=payload)
                counts[response.status_code] += 1
                if response.status_code == 429:
                    wait = response.headers.get("retry-after", "")
                    time.sleep(min(float(wait), 5) + 0.05 if wait.isdigit() else 0.5)
        seen[source] = counts

    threads = [threading.Thread(target=client, args=(source,)) for source in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return seen


def watch(
    upstream: str,
    tmp_path: Path,
    *,
    sources: list[str],
    requests: int,
    payload: Any = None,
    args: tuple[str, ...] = ("--rate-limit", RATE),
) -> Watch:
    report, junit = tmp_path / "watch.json", tmp_path / "watch.xml"
    command = ["watch", "--upstream", upstream, "--report", str(report), "--junit", str(junit)]
    with start_process(
        [*command, *args], free_port(), module="contract_tests", ready_path="/openapi.json"
    ) as served:
        seen = drive(served.url, sources, requests, {} if payload is None else payload)
        time.sleep(0.2)
        served.process.send_signal(signal.SIGINT)
        code = served.process.wait(timeout=30)
        output = served.output(20000)
    return Watch(
        code, output, json.loads(report.read_text()), ElementTree.parse(junit).getroot(), seen
    )


SOURCES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_in_front_of_the_reference_the_watch_passes_and_its_table_is_what_clients_saw(
    pinned_reference, tmp_path
):
    run = watch(pinned_reference, tmp_path, sources=SOURCES, requests=16)
    assert run.code == 0, run.output
    assert "Watch verdict: PASS" in run.output
    assert run.report["ok"] is True
    assert run.report["exchanges"] == 16 * len(SOURCES)
    for source in SOURCES:
        row, saw = run.client(source), run.seen[source]
        assert saw[429] >= 2, saw  # the limit was reached, and retried after
        assert row["requests"] == sum(saw.values()) == 16
        assert row["refused"] == saw[429]
        assert row["accepted"] == sum(n for status, n in saw.items() if status < 429)
    assert run.junit.get("failures") == "0"


@pytest.mark.parametrize("retry_after", ["seconds", "http-date"])
def test_in_front_of_the_independent_server_the_watch_passes(tmp_path, retry_after):
    """The server written from PRODUCT.md alone, making the other choice where the contract
    leaves room (an HTTP-date Retry-After among them): the watch must not fail it."""
    from tests.independent import create_app as independent

    with serve_app(independent(limit=LIMIT, window=WINDOW, retry_after=retry_after)) as upstream:
        run = watch(upstream, tmp_path, sources=SOURCES[:2], requests=12)
    assert run.code == 0, run.output
    assert all(run.seen[source][429] >= 1 for source in SOURCES[:2])


BROKEN_LIMITERS = {
    "one request too many": (model.OffByOne, "limit-exceeded", SOURCES[:1]),
    "too strict": (model.TooStrict, "refused-under-limit", SOURCES[:1]),
    "429 without Retry-After": (model.NoRetryAfter, "retry-after-invalid", SOURCES[:1]),
    "Retry-After too short": (model.ShortRetryAfter, "retry-refused", SOURCES[:1]),
    "one bucket for every client": (model.GlobalBucket, "client-interference", SOURCES),
}


@pytest.mark.parametrize(
    ("limiter", "violation", "sources"), BROKEN_LIMITERS.values(), ids=BROKEN_LIMITERS
)
def test_in_front_of_a_broken_limiter_the_watch_names_it_and_exits_1(
    tmp_path, limiter, violation, sources
):
    with serve_app(behind_limiter(limiter(LIMIT, WINDOW))) as upstream:
        run = watch(upstream, tmp_path, sources=sources, requests=12)
    assert run.code == 1, run.output
    assert violation in run.report["rateLimit"]["violations"], run.output
    assert f"VIOLATION {violation}" in run.output
    assert "reproduce: curl -i -X POST" in run.output
    failed = {case.get("name") for case in run.junit if case.find("failure") is not None}
    assert f"rate_limit.{violation}" in failed


BROKEN_SHAPES = {
    "201 without createdAt": (
        lambda: Layer(
            reference(clock=PINNED, clock_frozen=True, rate_limit=RATE),
            after=booking_answer(lambda b, r: b.pop("createdAt")),
        ),
        "schema",
        body(),
    ),
    '400s say "message", not "error"': (
        lambda: Layer(
            reference(clock=PINNED, clock_frozen=True, rate_limit=RATE),
            after=rewrite.renamed_error_key,
        ),
        "error-format",
        {},
    ),
    "a slot can be booked twice": (
        lambda: reference(
            clock=PINNED, clock_frozen=True, rate_limit=RATE, store=BrokenStore("double booking")
        ),
        "double-booking",
        body(),
    ),
}


@pytest.mark.parametrize(
    ("server", "violation", "payload"), BROKEN_SHAPES.values(), ids=BROKEN_SHAPES
)
def test_in_front_of_a_server_breaking_the_document_the_watch_names_the_rule(
    tmp_path, server, violation, payload
):
    with serve_app(server()) as upstream:
        run = watch(upstream, tmp_path, sources=SOURCES[:1], requests=3, payload=payload)
    assert run.code == 1, run.output
    assert run.violations == {violation}, run.output
    assert f"VIOLATION {violation}: POST " in run.output
    example = (run.report["shape"].get(violation) or {}).get("examples") or run.report[
        "rateLimitExamples"
    ][violation]
    assert example[0]["curl"].startswith(f"curl -i -X POST {upstream}{BOOK}")


def test_an_upstream_that_does_not_answer_gets_a_502_and_a_connection_error(tmp_path):
    upstream = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    report = tmp_path / "watch.json"
    command = ["watch", "--upstream", upstream, "--report", str(report)]
    with start_process(command, free_port(), module="contract_tests", ready_path="/") as served:
        answer = httpx.post(served.url + BOOK, json={})
        served.process.send_signal(signal.SIGINT)
        code = served.process.wait(timeout=30)
    assert answer.status_code == 502
    assert upstream in answer.json()["error"]
    assert code == 1
    assert "connection-error" in json.loads(report.read_text())["rateLimit"]["violations"]


def test_a_client_that_leaves_mid_request_is_not_held_against_the_server(
    pinned_reference, tmp_path
):
    report = tmp_path / "watch.json"
    command = [
        "watch",
        "--upstream",
        pinned_reference,
        "--report",
        str(report),
        "--rate-limit",
        RATE,
    ]
    with start_process(command, free_port(), module="contract_tests") as served:
        port = int(served.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                f"POST {BOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 1000\r\n\r\n{"inviteeName": '.encode()
            )
            time.sleep(0.3)
        time.sleep(0.5)
        assert httpx.post(served.url + BOOK, json={}).status_code == 400
        served.process.send_signal(signal.SIGINT)
        code = served.process.wait(timeout=30)
        output = served.output()
    assert code == 0, output
    assert "1 of them were left by their clients" in output
    written = json.loads(report.read_text())
    assert (written["exchanges"], written["abandoned"]) == (2, 1)


def test_the_watch_writes_the_ci_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with serve_app(behind_limiter(model.OffByOne(LIMIT, WINDOW))) as upstream:
        run = watch(upstream, tmp_path, sources=SOURCES[:1], requests=8)
    assert run.code == 1
    text = summary.read_text()
    assert text.startswith("### ❌ FAIL: booking-contract watch, 8 book requests")
    assert "Every answer has the shape the API document gives it." in text
    assert "| limit-exceeded |" in text
