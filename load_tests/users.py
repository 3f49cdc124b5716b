"""The simulated users: people booking slots, and probes that push one client past its limit.

Each user is one client (see ``clients``): with ``X-Forwarded-For`` its own header,
in source-address mode its own bound loopback address. Requests carry the client
and the slot (and, from a forging probe, what it forged) in Locust's request
context, which is where the verifier reads them.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any

import gevent
from gevent.pool import Group
from locust import HttpUser, constant, task
from locust.env import Environment
from urllib3 import PoolManager

from contract_tests import SLOT_TAKEN

from .bookings import BookingRequest
from .clients import Forgery, Identity
from .run import LoadRun, run_of
from .settings import Settings

TIMEOUT = 10.0  # seconds; a slower response is a connection error
RACERS = 3  # simultaneous requests for one slot in a race


class BookingClientUser(HttpUser):
    """An HttpUser that is one simulated client and knows what a correct answer is."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        self.load_run: LoadRun = run_of(environment)
        self.identity: Identity = self.allocate()
        if self.identity.source_address is not None:
            # HttpUser hands pool_manager to its session: every connection binds this address.
            self.pool_manager = PoolManager(
                num_pools=4, maxsize=RACERS + 1, source_address=(self.identity.source_address, 0)
            )
        super().__init__(environment)
        self.client.headers.update(self.identity.headers)

    def allocate(self) -> Identity:
        return self.load_run.next_identity()

    def context(self) -> dict[str, Any]:
        return {"client": self.identity.name}

    def extra(self) -> tuple[dict[str, str], dict[str, Any]]:
        """Headers and request context of the next request, beyond the client's own."""
        return {}, {}

    @property
    def limit(self) -> int:
        return self.load_run.require_settings().limit

    @property
    def window(self) -> float:
        return self.load_run.require_settings().window

    def send(self, request: BookingRequest) -> int:
        """POST one booking request; a wrong answer is a failure in Locust's statistics."""
        headers, context = self.extra()
        with self.client.post(
            request.path,
            data=request.content,
            headers={"Content-Type": "application/json", **headers},
            name=request.name,
            catch_response=True,
            context={"slot": request.slot, **context},
            timeout=TIMEOUT,
            allow_redirects=False,
        ) as response:
            status = response.status_code or 0
            if status == 429 or status in request.expected:
                if status == 400 and request.only_slot_taken and _error(response) != SLOT_TAKEN:
                    response.failure(f"400 for a valid booking: {_error(response)}")
                else:
                    response.success()
            elif status:
                response.failure(f"unexpected status {status}: {response.text[:200]}")
            return status


class BookingUser(BookingClientUser):
    """A person on a booking page: mostly good bookings, some mistakes, now and then a race.

    Thinks for 1.5 to 3 times the limit's interval between requests, so on its own it
    stays well under the limit.
    """

    weight = 1

    def wait_time(self) -> float:
        return random.uniform(1.5, 3.0) * self.window / self.limit

    @task(6)
    def book(self) -> None:
        self.send(self.load_run.factory.good())

    @task(3)
    def make_a_mistake(self) -> None:
        self.send(self.load_run.factory.bad())

    @task(1)
    def race_for_a_slot(self) -> None:
        """Several requests for one slot at once (a double click, two tabs): one 201 at most."""
        request = replace(self.load_run.factory.good(), name="book: race")
        self.race([request] * RACERS)

    @task(1)
    def race_across_event_types(self) -> None:
        """Overlapping slots on two event types of one host at once: one 201 at most."""
        self.race(self.load_run.factory.across_event_types())

    def race(self, requests: list[BookingRequest]) -> None:
        group = Group()
        for request in requests:
            group.spawn(self.send, request)
        group.join()


class RateLimitProbe(BookingClientUser):
    """One client pushing past its limit at a controlled pace, over and over.

    A cycle: a burst of limit + 1 requests back to back, then ``--probe-pace`` times
    the limit's rate for two windows, then a rest of one to two windows so the next
    cycle starts afresh at a random moment. The burst makes a short Retry-After show;
    the steady pace asks again right after each Retry-After runs out and, from a
    random start, straddles a fixed window's boundary right after a burst. Most
    requests are deliberately invalid (cheap for the target, and every request
    counts); a few book.
    """

    fixed_count = 2  # set from --probes by size_probes (not 0 here: see ForgingProbe)
    weight = 0  # only ever the fixed count: --probes 0 means none
    wait_time = constant(0)

    def on_start(self) -> None:
        # Probes spawned together would share one phase against a fixed window's
        # boundaries; each starts at its own random moment instead.
        gevent.sleep(random.uniform(0, self.window))

    @task
    def cycle(self) -> None:
        limit, window = self.limit, self.window
        for _ in range(limit + 1):
            self.probe()
        interval = window / (self.load_run.require_settings().probe_pace * limit)
        next_at = time.monotonic()
        until = next_at + 2 * window
        while next_at < until:
            gevent.sleep(max(0.0, next_at - time.monotonic()))
            self.probe()
            next_at += interval
        gevent.sleep(window * random.uniform(1.0, 2.0))

    def probe(self) -> None:
        factory = self.load_run.factory
        self.send(factory.good() if random.random() < 0.2 else factory.bad())


class ForgingProbe(RateLimitProbe):
    """A rate-limit probe whose every request forges a fresh X-Forwarded-For address.

    The target must count it as its own address all the same (PRODUCT.md, "Rate-limit
    headers"), so it is limited like any probe; a target that believes the forgery
    lets it through, and the verifier names the forgery (``forged-hop-counted``).
    """

    abstract = True
    forgery: Forgery
    # Set from --forging-probes, for the forgeries that apply; not 0 here, or Locust
    # would drop the class (weight 0) before the options are read.
    fixed_count = 1

    def allocate(self) -> Identity:
        self.forged = random.randrange(1_000_000)  # where this probe's forged addresses start
        return self.load_run.next_forger(self.forgery)

    def extra(self) -> tuple[dict[str, str], dict[str, Any]]:
        self.forged += 1
        forwarded_for = self.identity.forge(self.forged)
        return {"X-Forwarded-For": forwarded_for}, {"forged": forwarded_for}


class UntrustedPeerProbe(ForgingProbe):
    """From a loopback address the target does not trust: any X-Forwarded-For is ignored."""

    forgery = Forgery.UNTRUSTED_PEER


class ForgedHopProbe(ForgingProbe):
    """Through the trusted proxy, a hop forged ahead of its own address never counts."""

    forgery = Forgery.HOP_AHEAD


def size_probes(settings: Settings) -> None:
    """Give the probe users their counts (--probes, --forging-probes) for Locust to dispatch."""
    RateLimitProbe.fixed_count = settings.probes
    for probe in ForgingProbe.__subclasses__():
        applies = probe.forgery in settings.forgeries
        probe.fixed_count = settings.forging_probes if applies else 0


def _error(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
