"""The verifier wired into Locust: custom arguments, the request event, and distributed runs.

Importing this module registers its listeners on ``locust.events``; the locustfile
imports it. Each Locust process has one ``LoadRun`` (``run``), which holds the
settings, feeds every request record to the verifier and decides; the listeners
here hand it Locust's events, and size the probe users from its settings.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, Runner, WorkerRunner

from .run import FINISH_MESSAGE, RECORDS_MESSAGE, LoadRun, run_of
from .settings import add_arguments
from .users import size_probes

logger = logging.getLogger("load_tests")


def _configure(run: LoadRun) -> None:
    """(Re)read the options, and give the probe users their counts for dispatch."""
    size_probes(run.configure())


def _on_test_start(run: LoadRun) -> None:
    run.on_test_start()  # re-reads the options: on workers they arrive with the spawn message
    size_probes(run.require_settings())


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    run = run_of(environment)
    if environment.parsed_options is not None and not isinstance(runner, WorkerRunner):
        _configure(run)  # fail early on a bad profile; sets the probes' count for dispatch
    environment.events.request.add_listener(run.on_request)
    environment.events.test_start.add_listener(lambda **_: _on_test_start(run))
    environment.events.test_stop.add_listener(lambda **_: run.on_test_stop())
    environment.events.quitting.add_listener(lambda **_: run.on_quitting())
    if isinstance(runner, MasterRunner):
        runner.register_message(RECORDS_MESSAGE, run.on_records)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(FINISH_MESSAGE, run.on_finish)
    elif not isinstance(runner, LocalRunner | None):
        logger.warning("load tests: unknown runner %r, records are not verified", runner)
