"""The contract run's HTML page (``--html FILE``): verdict, rule groups, failures, exchanges.

One self-contained file a reviewer opens from a CI job's artifacts: the styles are
inline and nothing is fetched. The template is ``templates/report.html.j2``, as the
load tests keep theirs in ``load_tests/templates``. The plugin collects a ``Failure``
per failed test as it happens (the target's exchanges are the current test's only
until the next one starts) and hands them, with the outcomes by rule group
(``step_summary.ContractSummary``), to ``render_html`` at the end of the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .progress import Wait, clock
from .step_summary import ContractSummary, Group
from .suite import Suite
from .target import Exchange, shown_body

if TYPE_CHECKING:
    import jinja2

TEMPLATE = "report.html.j2"


@dataclass
class Failure:
    """One failed test as the page shows it: the rule, the expectation, what the target did."""

    test: str  # the test's name with its parameters, as JUnit's `name`
    nodeid: str
    group: str
    expected: str | None
    message: str  # the assertion's message
    details: str  # pytest's whole report of the failure
    exchanges: list[Exchange] = field(default_factory=list)
    made: int = 0  # exchanges the test made; `exchanges` holds the last ones
    when: str = "call"


@dataclass
class GroupRow:
    name: str
    group: Group | None  # None: no test of the group ran

    @property
    def skips(self) -> list[tuple[str, str]]:
        if self.group is None:
            return []
        return [(test, why) for outcome, test, why in self.group.reasons if outcome == "skipped"]


def failure_message(report: Any) -> str:
    """The assertion's message of a failed report (the line pytest's summary shows, and more)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return str(crash.message)
    text = str(report.longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


def group_rows(outcomes: ContractSummary, order: list[str]) -> list[GroupRow]:
    """Every rule group, in the contract's order; groups that ran but are not in it come last."""
    names = [*order, *(name for name in outcomes.groups if name not in order)]
    return [GroupRow(name, outcomes.groups.get(name)) for name in names]


def _environment() -> jinja2.Environment:
    # Imported here: the plugin, and so this module, loads in every pytest run of the
    # environment; only a run with --html needs Jinja2.
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__ or "contract_tests", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["body"] = shown_body
    environment.filters["clock"] = clock
    return environment


def render_html(
    suite: Suite,
    outcomes: ContractSummary,
    failures: list[Failure],
    *,
    order: list[str],
    exit_status: int,
    waits: list[Wait] | None = None,
) -> str:
    """The page for one run; PASS only when pytest's exit status is 0, as the CLI's exit code."""
    pool = suite.pool
    profile = suite.profile
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            ok=exit_status == 0,
            exit_status=exit_status,
            base_url=suite.base_url,
            profile=profile,
            summary=suite.summary(),
            notes=suite.coverage_notes(),
            requests=pool.requests,
            clients=pool.describe(),
            waited=pool.waited,
            unplanned_429s=pool.unplanned_429s,
            elapsed=time.monotonic() - suite.started,
            generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            rows=group_rows(outcomes, order),
            failures=failures,
            waits=list(waits or []),
        )
    )


def write_html(path: Path, html: str) -> Path:
    """Write the page; its folder is made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
