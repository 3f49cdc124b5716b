"""The verdict as people read it: a per-client table, then each violation with its first example."""

from __future__ import annotations

from xml.etree import ElementTree

from contract_tests import cell

from .verifier import ClientSummary, Verdict, Violation

MAX_ROWS = 40  # clients with violations are always listed; the rest up to this many

COLUMNS = (
    "client",
    "requests",
    "accepted",
    "429",
    "5xx/err",
    "booked",
    "peak",
    "max RA",
    "violations",
)


def client_row(summary: ClientSummary) -> tuple[str, ...]:
    retry_after = "-" if summary.max_retry_after is None else f"{summary.max_retry_after:g}s"
    findings = ", ".join(f"{name} x{count}" for name, count in summary.findings.items()) or "-"
    return (
        summary.client,
        str(summary.requests),
        str(summary.accepted),
        str(summary.refused),
        str(summary.errors),
        str(summary.booked),
        str(summary.peak),
        retry_after,
        findings,
    )


def listed_clients(verdict: Verdict) -> list[ClientSummary]:
    """The table's rows: every client with a violation, then others up to MAX_ROWS, in order."""
    shown = [c for c in verdict.clients if c.findings]
    shown += [c for c in verdict.clients if not c.findings][: max(0, MAX_ROWS - len(shown))]
    return sorted(shown, key=verdict.clients.index)


def format_verdict(verdict: Verdict) -> str:
    """The per-client table and the verdict line, as printed at the end of a run."""
    shown = listed_clients(verdict)
    rows = [COLUMNS, *(client_row(c) for c in shown)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        f"Rate-limit verifier: limit {verdict.limit} per {verdict.window:g} s per client,"
        f" {verdict.requests} requests from {len(verdict.clients)} clients"
        " (peak: most requests accepted within one window)",
    ]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    hidden = len(verdict.clients) - len(shown)
    if hidden:
        lines.append(f"... and {hidden} more clients without violations")
    if verdict.inconclusive:
        lines.append(
            f"{verdict.inconclusive} 429s in the last moments of the run were not judged:"
            " requests cut off when the run stopped might have preceded them."
        )
    if verdict.ok:
        lines.append("Verdict: PASS, no violation")
    else:
        names = ", ".join(f"{name} ({count})" for name, count in verdict.violations.items())
        lines.append(f"Verdict: FAIL, violations: {names}")
        for finding in verdict.findings:
            lines.append(
                f"  {finding.first}  [{finding.count} in all; {finding.violation.meaning}]"
            )
    return "\n".join(lines)


def verdict_markdown(verdict: Verdict, title: str = "Rate-limit verifier") -> str:
    """The verdict, its violations and the per-client table, in Markdown (a CI job's summary)."""
    mark, word = ("✅", "PASS") if verdict.ok else ("❌", "FAIL")
    lines = [
        f"### {mark} {title}: {word}",
        "",
        f"Limit {verdict.limit} per {verdict.window:g} s per client; {verdict.requests} requests"
        f" from {len(verdict.clients)} clients.",
    ]
    if not verdict.ok:
        lines += ["", "| violation | count | first |", "|---|---:|---|"]
        for finding in verdict.findings:
            lines.append(f"| {finding.violation} | {finding.count} | {cell(finding.first)} |")
    shown = listed_clients(verdict)
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(value) for value in client_row(c)) + " |" for c in shown]
    if len(verdict.clients) > len(shown):
        lines.append(f"\n… and {len(verdict.clients) - len(shown)} more clients without violations")
    return "\n".join(lines)


def verdict_junit(verdict: Verdict, name: str = "booking load run") -> bytes:
    """JUnit XML: one test case per violation class, failed with each client's first example."""
    suite = ElementTree.Element("testsuite", name=name)
    found = verdict.violations
    for violation in Violation:
        case = ElementTree.SubElement(
            suite, "testcase", classname="rate_limit", name=str(violation)
        )
        count = found.get(violation, 0)
        if count:
            failure = ElementTree.SubElement(
                case, "failure", message=f"{count} violations: {violation.meaning}"
            )
            examples = [f for f in verdict.findings if f.violation is violation]
            failure.text = "\n".join(
                f"{f.first}  [{f.count} from client {f.client}]" for f in examples
            )
    suite.set("tests", str(len(Violation)))
    suite.set("failures", str(len(found)))
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)
