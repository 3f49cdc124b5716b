"""A load run's state in one Locust process: its settings, the users' clients and
bookings, the request records, and the verdict.

Each request record of the book endpoint goes to a ``Verifier``. In a distributed
run the workers batch their records to the master with ``runner.send_message``;
when the test stops, the master asks every worker for its last batch, waits for
them all, and decides. The master (or the single process) prints the per-client
table and sets ``environment.process_exit_code`` to 1 on any violation. With
``--verdict-html``, the process that judges also feeds each batch to a ``Timeline``
for the page's charts; once a window it logs how far the verifier has judged. The
wiring into Locust's events is ``plugin``; the users find their run with ``run_of``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

import gevent
from gevent.lock import Semaphore
from locust.env import Environment
from locust.runners import (
    STATE_RUNNING,
    STATE_SPAWNING,
    MasterRunner,
    Runner,
    WorkerRunner,
)

from contract_tests import append_step_summary

from .bookings import BookingFactory
from .clients import ClientAllocator, Forgery, Identity
from .report import format_verdict, verdict_junit, verdict_markdown
from .settings import Settings, settings_from
from .timeline import Timeline
from .verifier import CONNECTION_ERROR, Record, Verdict, Verifier

logger = logging.getLogger("load_tests")

RECORDS_MESSAGE = "booking_load:records"
FINISH_MESSAGE = "booking_load:finish"
FLUSH_INTERVAL = 0.5  # seconds between batches of records
FINAL_WAIT = 20.0  # how long the master waits for the workers' last batches
MIN_PROGRESS_INTERVAL = 2.0  # seconds between the verifier's progress lines, at least
EXIT_VIOLATION = 1
_NO_HEADERS: dict[str, str] = {}
_record = Record._make


class LoadRun:
    """The load tests' state in one Locust process; ``run_of(environment)`` finds it."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.settings: Settings | None = None
        self.verifier: Verifier | None = None
        self.verdict: Verdict | None = None
        # The HTML report's records, kept only when it is asked for (--verdict-html).
        self.timeline: Timeline | None = None
        self._progress: gevent.Greenlet | None = None
        self._allocator: ClientAllocator | None = None
        self._factory: BookingFactory | None = None
        self._batch: list[tuple[Any, ...]] = []  # Record fields, as sent to a master
        self._flusher: gevent.Greenlet | None = None
        # A batch half sent when the flusher is stopped would be lost: one flush at a time.
        self._flushing = Semaphore()
        self._finals: set[str] = set()
        self._senders: set[str] = set()

    @property
    def runner(self) -> Runner | None:
        return self.environment.runner

    def configure(self) -> Settings:
        """(Re)read the options: on workers they arrive with the master's spawn message."""
        self.settings = settings_from(self.environment.parsed_options)
        self._allocator = None
        self._factory = None
        return self.settings

    def require_settings(self) -> Settings:
        return self.settings or self.configure()

    # For the users

    def next_identity(self) -> Identity:
        return self.allocator.next()

    def next_forger(self, forgery: Forgery) -> Identity:
        return self.allocator.forger(forgery)

    @property
    def allocator(self) -> ClientAllocator:
        if self._allocator is None:
            settings = self.require_settings()
            runner = self.runner
            worker, workers = 0, 1
            if isinstance(runner, WorkerRunner):
                worker = max(0, runner.worker_index)
                workers = int(getattr(self.environment.parsed_options, "expect_workers", 1) or 1)
            self._allocator = ClientAllocator(
                settings.mode, clients=settings.clients, worker=worker, workers=workers
            )
        return self._allocator

    @property
    def factory(self) -> BookingFactory:
        if self._factory is None:
            self._factory = BookingFactory(self.require_settings().profile, rng=random.Random())
        return self._factory

    # Records

    def on_request(
        self,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: Any = None,
        start_time: float | None = None,
        response_time: float | None = None,
        **_: Any,
    ) -> None:
        # Runs once per request in the load generator: kept to a few lookups and one
        # tuple (benchmarks/verifier.py measures what it costs).
        client = context.get("client") if context else None
        if client is None or start_time is None:
            return  # not a request to the book endpoint from our users
        status = getattr(response, "status_code", None) or CONNECTION_ERROR
        headers = _NO_HEADERS
        slot = error = None
        if status == CONNECTION_ERROR:
            error = str(exception)[:200]
        else:
            fields = response.headers
            # A dict of strings (and None for a missing field) is not tracked by the
            # cyclic garbage collector, so it costs it nothing while batched.
            headers = {
                "ratelimit-policy": fields.get("ratelimit-policy"),
                "ratelimit": fields.get("ratelimit"),
            }
            if status == 429:
                retry_after = fields.get("retry-after")
                if retry_after is not None:
                    headers["retry-after"] = retry_after
                    # Not delay-seconds: maybe an HTTP-date, which counts from the Date.
                    if not retry_after.isdigit() and (date := fields.get("date")) is not None:
                        headers["date"] = date
            elif status == 201:
                slot = context.get("slot")
        received = start_time + (response_time or 0.0) / 1000
        # Judged in batches (see _flush): the verifier runs several times faster with
        # its code and data still in the CPU's caches than interleaved with requests.
        # A plain tuple of atoms is one object the garbage collector soon stops
        # walking; a Record (a tuple subclass) would stay on its lists until judged.
        self._batch.append(
            (client, start_time, received, status, headers, slot, error, context.get("forged"))
        )

    # The run's life

    def on_test_start(self) -> None:
        settings = self.configure()
        self.verdict = None
        self._finals.clear()
        self._senders.clear()
        self._batch = []
        if isinstance(self.runner, WorkerRunner):
            self.verifier = None
        else:
            # Records from workers come in batches: allow for their delay.
            slack = 1.0 + 2 * FLUSH_INTERVAL if isinstance(self.runner, MasterRunner) else 0.25
            timeline = Timeline(settings.window) if settings.verdict_html else None
            self.timeline = timeline
            self.verifier = Verifier(
                settings.limit,
                settings.window,
                slack=slack,
                on_finding=timeline.on_finding if timeline else None,
            )
            self._progress = gevent.spawn(self._progress_forever, settings.window)
        if not isinstance(self.runner, MasterRunner):  # a master has no users of its own
            self._flusher = gevent.spawn(self._flush_forever)
        logger.info(
            "load tests: profile %s, limit %d per %g s, client mode %s, forging probes: %s",
            settings.profile.source or settings.profile.name,
            settings.limit,
            settings.window,
            settings.mode,
            ", ".join(f"{settings.forging_probes} {f}" for f in settings.forgeries) or "none",
        )

    def on_test_stop(self) -> None:
        runner = self.runner
        with self._flushing:
            if self._flusher is not None:
                self._flusher.kill(block=True)
                self._flusher = None
        self._flush(final=True)
        if self._progress is not None:
            self._progress.kill(block=False)
            self._progress = None
        if isinstance(runner, WorkerRunner):
            return
        if isinstance(runner, MasterRunner):
            self._collect_finals(runner)
        self.decide()

    def on_quitting(self) -> None:
        """Quitting mid-test (Ctrl-C, SIGTERM): stop first, so the verdict sets the exit code.

        Locust picks its exit code before it stops a test still running at quit.
        """
        runner = self.runner
        if self.verifier is not None and runner is not None:
            runner.stop()

    def decide(self) -> Verdict | None:
        if self.verifier is None:
            return None
        # A stopped run cuts requests off in flight: say so to the verifier.
        verdict = self.verifier.finish(complete=False)
        self.verifier = None
        self.verdict = verdict
        print(format_verdict(verdict), flush=True)
        append_step_summary(verdict_markdown(verdict, "Load run, rate-limit verifier"))
        settings = self.require_settings()
        if settings.verdict_json:
            with open(settings.verdict_json, "w", encoding="utf-8") as file:
                json.dump(verdict.to_dict(), file, indent=2)
        if settings.verdict_junit:
            with open(settings.verdict_junit, "wb") as file:
                file.write(verdict_junit(verdict))
        if settings.verdict_html and self.timeline is not None:
            # Plotly is imported only for the page, after the run: not in the generator's way.
            from .html_report import verdict_html

            page = verdict_html(verdict, self.timeline, target=self.environment.host or "")
            with open(settings.verdict_html, "w", encoding="utf-8") as file:
                file.write(page)
            logger.info("rate-limit verifier: HTML report written to %s", settings.verdict_html)
        self.timeline = None
        if verdict.ok:
            logger.info("rate-limit verifier: no violation")
        else:
            names = ", ".join(str(v) for v in verdict.violations)
            logger.error("rate-limit verifier: violations: %s", names)
            self.environment.process_exit_code = EXIT_VIOLATION
        return verdict

    # Batches: to this process's verifier, or from a worker to the master's

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL)
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        runner = self.runner
        with self._flushing:
            batch, self._batch = self._batch, []
            if isinstance(runner, WorkerRunner):
                if batch or final:
                    runner.send_message(RECORDS_MESSAGE, {"records": batch, "final": final})
            elif self.verifier is not None:
                self.verifier.feed_many(map(_record, batch))
                if self.timeline is not None:
                    self.timeline.feed_many(batch)  # the same fields, read by index

    def _progress_forever(self, window: float) -> None:
        """One line per window, beside Locust's own progress: clients judged, violations."""
        interval = max(window, MIN_PROGRESS_INTERVAL)
        started = time.monotonic()
        while True:
            gevent.sleep(interval)
            if self.verifier is None:
                return
            done = self.verifier.progress()
            found = ", ".join(f"{name} {count}" for name, count in done.violations.items())
            logger.info(
                "rate-limit verifier: +%.0f s, %d requests from %d clients judged,"
                " violations so far: %s",
                time.monotonic() - started,
                done.requests,
                done.clients,
                found or "none",
            )

    def on_records(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Master: a worker's batch."""
        self._senders.add(msg.node_id)
        if self.verifier is not None:
            records = [Record.from_wire(fields) for fields in msg.data["records"]]
            self.verifier.feed_many(records)
            if self.timeline is not None:
                self.timeline.feed_many(records)
        if msg.data.get("final"):
            self._finals.add(msg.node_id)

    def on_finish(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Worker: the master wants the last batch; stopping the users fires test_stop."""
        runner = self.runner
        if runner is not None and runner.state in (STATE_RUNNING, STATE_SPAWNING):
            runner.stop()
        else:
            self._flush(final=True)

    def _collect_finals(self, runner: MasterRunner) -> None:
        expected = self._senders | {client.id for client in runner.clients.all}
        runner.send_message(FINISH_MESSAGE)
        deadline = time.monotonic() + FINAL_WAIT
        while not expected <= self._finals and time.monotonic() < deadline:
            gevent.sleep(0.05)
            expected |= self._senders
        missing = expected - self._finals
        if missing:
            logger.warning(
                "load tests: no last batch from %s: the verdict misses their final records",
                ", ".join(sorted(missing)),
            )


def run_of(environment: Environment) -> LoadRun:
    """The LoadRun of an environment, made on first use."""
    run = getattr(environment, "booking_load_run", None)
    if run is None:
        run = LoadRun(environment)
        environment.booking_load_run = run  # type: ignore[attr-defined]
    return run
