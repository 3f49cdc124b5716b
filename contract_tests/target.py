"""The target as the suite talks to it: paced HTTP, every exchange kept for the failure report."""

from __future__ import annotations

import contextlib
import json
import shlex
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from . import spec
from .clients import Client, ClientPool
from .profile import EventType, Profile
from .ratelimit import parse_retry_after
from .slots import SLOT_TAKEN, Slot, SlotLedger, occupied, parse_instant

# How many refusals of a free-looking slot as taken before the suite gives up on a test.
MAX_TAKEN = 8
# Bodies longer than this are elided from the report and the curl line.
SHOWN_BODY = 4096
# Exchanges kept per test for its failure report; the report shows the last few.
KEPT = 20


class ContractViolation(AssertionError):
    """The target broke the contract in a way the suite noticed outside a test's own asserts."""


@dataclass
class Exchange:
    """One request and its response, as sent and received."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int
    response_headers: httpx.Headers
    response_body: bytes
    client: str
    elapsed: float
    received_at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        # Assertion messages show this; the full exchange is in the report's own section.
        return f"<{self.method} {self.url} -> {self.status}>"

    @property
    def headers(self) -> httpx.Headers:
        return self.response_headers

    def json(self) -> Any:
        """The response body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @property
    def error(self) -> str | None:
        """The `error` message of an error body, when there is one."""
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"]
        return None

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_slot_taken(self) -> bool:
        return self.status == 400 and self.error == SLOT_TAKEN

    @property
    def retry_after(self) -> float | None:
        # An HTTP-date without a Date header is measured against the moment it arrived.
        arrived = time.time() - (time.monotonic() - self.received_at)
        return parse_retry_after(self.headers, received=arrived)

    def curl(self) -> str:
        """A curl command line that sends the same request again."""
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body is not None:
            if len(self.request_body) <= SHOWN_BODY:
                text = self.request_body.decode("utf-8", "replace")
                parts += ["--data-raw", shlex.quote(text)]
            else:
                parts += ["--data-binary", "@body.json"]
                parts.insert(0, f"# body.json: the {len(self.request_body)}-byte body above;")
        return " ".join(parts)

    def describe(self) -> str:
        """Request and response in full (long bodies elided), then the curl line."""
        lines = [f"> {self.method} {self.url}   (as client {self.client})"]
        lines += [f"> {name}: {value}" for name, value in self.request_headers.items()]
        if self.request_body is not None:
            lines.append(f"> {shown_body(self.request_body)}")
        lines.append(f"< {self.status}   ({self.elapsed * 1000:.0f} ms)")
        lines += [f"< {name}: {value}" for name, value in self.response_headers.multi_items()]
        lines.append(f"< {shown_body(self.response_body)}")
        lines.append(f"reproduce: {self.curl()}")
        return "\n".join(lines)


def shown_body(body: bytes) -> str:
    """A body as text for a report, elided past SHOWN_BODY characters."""
    text = body.decode("utf-8", "replace")
    if len(text) > SHOWN_BODY:
        return f"{text[:SHOWN_BODY]}... ({len(body)} bytes in all)"
    return text


class Target:
    """The server under test: sends paced requests and keeps the exchanges of the current test."""

    def __init__(
        self,
        base_url: str,
        profile: Profile,
        pool: ClientPool,
        ledger: SlotLedger,
        *,
        timeout: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.pool = pool
        self.ledger = ledger
        self._timeout = timeout
        self.http = self._new_http()
        # One connection pool per loopback source address the suite sends from.
        self._by_source: dict[str, httpx.Client] = {}
        self.book_template = spec.book_path()
        self._recent: list[Exchange] = []
        self._noted = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _new_http(self, source_address: str | None = None) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source_address) if source_address else None
        return httpx.Client(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=64),
            follow_redirects=False,
            transport=transport,
        )

    def _http_for(self, client: Client) -> httpx.Client:
        if client.source_address is None:
            return self.http
        with self._lock:
            http = self._by_source.get(client.source_address)
            if http is None:
                http = self._by_source[client.source_address] = self._new_http(
                    client.source_address
                )
            return http

    def close(self) -> None:
        self.http.close()
        with self._lock:
            sources, self._by_source = list(self._by_source.values()), {}
        for http in sources:
            http.close()

    @contextlib.contextmanager
    def as_client(self, client: Client) -> Iterator[list[Exchange]]:
        """This thread's requests go as client; yields the list of every one sent, in order.

        A rate-limit probe judges a client's whole history, the requests of helpers
        such as book_free_slot included.
        """
        previous = getattr(self._local, "client", None), getattr(self._local, "sent", None)
        sent: list[Exchange] = []
        self._local.client, self._local.sent = client, sent
        try:
            yield sent
        finally:
            self._local.client, self._local.sent = previous

    # What the failure report shows: the exchanges of the test that failed.

    def start_test(self) -> None:
        with self._lock:
            self._recent = []
            self._noted = 0

    def note(self, *exchanges: Exchange) -> None:
        """Put exchanges made elsewhere (a background probe) into the current test's report."""
        with self._lock:
            self._recent = [*self._recent, *exchanges][-KEPT:]
            self._noted += len(exchanges)

    @contextlib.contextmanager
    def unreported(self) -> Iterator[None]:
        """Requests of this thread stay out of the current test's report (a probe's own)."""
        self._local.unreported = True
        try:
            yield
        finally:
            self._local.unreported = False

    @property
    def recent(self) -> list[Exchange]:
        with self._lock:
            return list(self._recent)

    @property
    def noted(self) -> int:
        """How many exchanges the current test made: ``recent`` keeps only the last KEPT."""
        with self._lock:
            return self._noted

    # Requests.

    def book_url(self, host_slug: str, event_slug: str) -> str:
        path = self.book_template.replace("{userSlug}", quote(host_slug, safe=""))
        return self.base_url + path.replace("{eventSlug}", quote(event_slug, safe=""))

    def send(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        client: Client | None = None,
        retry_429: bool = True,
        chunked: bool = False,
    ) -> Exchange:
        """Send one request as a paced client; a 429 the suite did not plan for is waited out.

        With ``chunked`` the body goes out in chunks with no Content-Length, as a browser
        stream or a proxy may send it.
        """
        request_headers = dict(headers or {})
        if body is not None:
            content = json.dumps(body, ensure_ascii=False).encode()
            request_headers.setdefault("Content-Type", "application/json")
        # A client the caller chose (or as_client's) is waited for; otherwise the pool picks.
        chosen = client or getattr(self._local, "client", None)
        attempts = 0
        while True:
            sender = chosen or self.pool.acquire()
            sent_headers = {**request_headers, **sender.headers()}
            payload: Any = content
            if chunked and content is not None:
                payload = iter([content[i : i + 4096] for i in range(0, len(content), 4096)])
            started = time.monotonic()
            response = self._http_for(sender).request(
                method, url, content=payload, headers=sent_headers
            )
            shown = {**sent_headers, "Transfer-Encoding": "chunked"} if chunked else sent_headers
            exchange = Exchange(
                method=method,
                url=url,
                request_headers=shown,
                request_body=content,
                status=response.status_code,
                response_headers=response.headers,
                response_body=response.content,
                client=sender.name,
                elapsed=time.monotonic() - started,
            )
            self.pool.record(sender, exchange.status, exchange.headers)
            sent = getattr(self._local, "sent", None)
            if sent is not None:
                sent.append(exchange)
            if not getattr(self._local, "unreported", False):
                self.note(exchange)
            if exchange.status != 429 or not retry_429:
                return exchange
            # The suite stayed inside the profile's limit, so this 429 is the target's
            # (or another client's) doing: check it is well formed, then wait it out.
            check_429(exchange)
            self.pool.unplanned_429s += 1
            attempts += 1
            if attempts > 3:
                raise ContractViolation(
                    f"Rule 1: the target kept answering 429 although the suite stayed inside"
                    f" the profile's limit of {self.profile.rate_limit}; is the profile's"
                    f" rate limit the target's?"
                )
            if chosen is not None:
                self.pool.wait_until_quiet(chosen)

    def post_booking(
        self,
        event_type: EventType,
        body: Any = None,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        host_slug: str | None = None,
        event_slug: str | None = None,
        client: Client | None = None,
        retry_429: bool = True,
        chunked: bool = False,
    ) -> Exchange:
        url = self.book_url(host_slug or event_type.host_slug, event_slug or event_type.slug)
        exchange = self.send(
            "POST",
            url,
            body=body,
            content=content,
            headers=headers,
            client=client,
            retry_429=retry_429,
            chunked=chunked,
        )
        if exchange.status == 201:
            self._note_booking(exchange, host_slug or event_type.host_slug, event_type)
        return exchange

    def _note_booking(self, exchange: Exchange, host_slug: str, event_type: EventType) -> None:
        """Whatever a test expected, a 201 made the host busy: the ledger must know it."""
        booking = exchange.json()
        if not isinstance(booking, dict):
            return
        try:
            start = parse_instant(str(booking["startTime"]))
            end = parse_instant(str(booking["endTime"]))
        except (KeyError, ValueError):
            return
        busy = occupied(event_type, Slot(start, end))
        self.ledger.mark_span_busy(host_slug, *busy)

    def book_free_slot(
        self,
        event_type: EventType,
        make_body: Any,
        *,
        slots: Iterator[Slot] | None = None,
    ) -> tuple[Slot, Exchange]:
        """Book the nearest free slot with make_body(slot); a slot found taken is skipped.

        Returns the first answer that is not "slot taken", whatever it is: the test
        judges it. Runs of taken slots (an earlier run's bookings) are jumped over.
        """
        host = self.profile.host_of(event_type)
        candidates = slots if slots is not None else self.ledger.free_slots(host, event_type)
        taken = 0
        for slot in candidates:
            if not self.ledger.is_free(event_type, slot):
                continue
            exchange = self.post_booking(event_type, make_body(slot))
            if exchange.status == 201:
                self.ledger.mark_busy(event_type, slot)
                booking = exchange.json()
                if isinstance(booking, dict) and isinstance(booking.get("id"), str):
                    self.ledger.record_booking(booking["id"])
                return slot, exchange
            if not exchange.is_slot_taken:
                return slot, exchange
            self.ledger.found_taken(event_type, slot)
            taken += 1
            if taken >= MAX_TAKEN:
                raise ContractViolation(
                    f"{taken} slots of {event_type.label} that the profile says are bookable"
                    f" were refused as taken in a row, the last {slot}; either the target is"
                    f" full, or it refuses free slots"
                )
            # Skip further ahead after each refusal: taken slots come in runs.
            for _ in range(2 ** min(taken - 1, 4) - 1):
                next(candidates, None)
        raise ContractViolation(f"no bookable slot of {event_type.label} is left in the horizon")


def check_429(exchange: Exchange) -> None:
    """Rule 1's shape of a 429: a Retry-After (delay-seconds or an HTTP-date) and a JSON error."""
    problems = []
    if exchange.retry_after is None:
        problems.append("no valid Retry-After (delay-seconds or an HTTP-date)")
    if exchange.media_type != "application/json" or not exchange.error:
        problems.append('no application/json {"error": ...} body')
    if problems:
        raise ContractViolation(
            "Rule 1: a 429 came with " + " and ".join(problems) + "\n" + exchange.describe()
        )
