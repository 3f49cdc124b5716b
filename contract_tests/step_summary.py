"""The Markdown summary a CI job shows (GitHub's ``GITHUB_STEP_SUMMARY``): verdict first.

``append_step_summary`` adds a run's summary to the file that variable names, and does
nothing where it is not set. The contract run's summary (``ContractSummary``) has one
row per rule group, with the one-line reason of each failure and skip; the load tests
and the watch write theirs with ``load_tests.report.verdict_markdown``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV = "GITHUB_STEP_SUMMARY"
MAX_REASON = 200


def append_step_summary(markdown: str, path: str | None = None) -> bool:
    """Append ``markdown`` to $GITHUB_STEP_SUMMARY (or ``path``); False where there is none."""
    target = path or os.environ.get(ENV)
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as file:
        file.write(markdown.rstrip("\n") + "\n\n")
    return True


def cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped, cut to a readable length."""
    line = " ".join(str(text).split())
    if len(line) > MAX_REASON:
        line = line[: MAX_REASON - 1] + "…"
    return line.replace("|", "\\|")


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0] if crash.message else ""
    return str(longrepr).strip().splitlines()[-1] if longrepr else ""


@dataclass
class Group:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    reasons: list[tuple[str, str, str]] = field(default_factory=list)  # outcome, test, why


class ContractSummary:
    """Outcomes by rule group, fed by pytest's reports (one per test)."""

    def __init__(self, group_of: Any) -> None:
        self.group_of = group_of
        self.groups: dict[str, Group] = {}

    def add(self, report: Any) -> None:
        """One phase's report; a test counts once (its setup's failure or skip, else its call)."""
        if report.when == "setup" and report.passed:
            return
        if report.when == "teardown" and not report.failed:
            return
        test = report.nodeid.split("::")[-1]
        name = re.sub(r"\[.*\]$", "", test)
        group = self.groups.setdefault(self.group_of(name), Group())
        outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
        setattr(group, outcome, getattr(group, outcome) + 1)
        if outcome != "passed":
            group.reasons.append((outcome, test, _reason(report)))

    @property
    def ok(self) -> bool:
        return not any(group.failed for group in self.groups.values())

    def markdown(self, base_url: str, details: list[str]) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        mark = "✅" if self.ok else "❌"
        lines = [
            f"### {mark} Contract suite: {verdict} against {base_url}",
            "",
            *(f"- {' '.join(line.split())}" for line in details),
            "",
            "| rule group | passed | failed | skipped |",
            "|---|---:|---:|---:|",
        ]
        for name, group in self.groups.items():
            lines.append(f"| {cell(name)} | {group.passed} | {group.failed} | {group.skipped} |")
        failures = [(n, r) for n, g in self.groups.items() for r in g.reasons if r[0] == "failed"]
        if failures:
            lines += ["", "**Failures**", ""]
            lines += [
                f"- `{cell(test)}` ({cell(name)}): {cell(why)}" for name, (_, test, why) in failures
            ]
        skips = [(n, r) for n, g in self.groups.items() for r in g.reasons if r[0] == "skipped"]
        if skips:
            lines += ["", "<details><summary>Skipped, with the reason</summary>", ""]
            lines += [f"- `{cell(test)}`: {cell(why)}" for _, (_, test, why) in skips]
            lines += ["", "</details>"]
        return "\n".join(lines)
