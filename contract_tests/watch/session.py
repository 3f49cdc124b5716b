"""A watch session: each exchange the proxy passes, judged as it happens; the verdict at the end.

Two judges, one stream: ``judge_answer`` checks each answer's shape against the API
document; the load tests' ``Verifier`` (a pure function over request records) checks
the rate limit per client, each 429's ``Retry-After`` and its retry, the RateLimit
fields, and that no two 201s book overlapping slots of one host. A violation is
printed as it is found, with a curl line that sends the request again; the verdict,
the per-client table and the reports come at the end.

Memory is bounded as the verifier's is: O(clients x limit), plus the last
``KEPT_EXCHANGES`` exchanges (for the curl line of a violation found late) and the
first ``SHOWN_PER_RULE`` breaches of each shape rule.
"""

from __future__ import annotations

import json
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from xml.etree import ElementTree

from load_tests.report import format_verdict, verdict_markdown
from load_tests.verifier import ABANDONED, Record, Slot, Verdict, Verifier, Violation

from ..profile import Profile
from ..step_summary import cell
from .judge import RULES, Breach, judge_answer
from .proxy import Watched

KEPT_EXCHANGES = 10_000
SHOWN_PER_RULE = 5  # lines printed per rule and client; the rest are counted
_FIELDS = ("ratelimit-policy", "ratelimit", "retry-after", "date")


@dataclass
class RuleCount:
    rule: str
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


def _instant(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


class WatchSession:
    """Judges ``Watched`` exchanges; ``verdict()`` ends the session."""

    def __init__(
        self,
        profile: Profile,
        *,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profile = profile
        self.out = out or sys.stdout
        self.clock = clock
        self.started = clock()
        self.exchanges = 0
        self.abandoned = 0  # left by their clients: the server may have counted them
        self.shape: dict[str, RuleCount] = {rule: RuleCount(rule) for rule in RULES}
        self.rate_examples: dict[str, list[dict[str, Any]]] = {}
        self._printed: dict[tuple[str, str], int] = {}
        self._kept: OrderedDict[tuple[str, float], Watched] = OrderedDict()
        self._buffers = {
            (e.host_slug, e.slug): (e.buffer_before, e.buffer_after) for e in profile.event_types()
        }
        self.verifier = Verifier(
            profile.rate_limit.limit, profile.rate_limit.window, on_finding=self._rate_finding
        )
        self._verdict: Verdict | None = None
        self._first: float | None = None

    # Judging

    def observe(self, watched: Watched) -> None:
        """One book exchange, as the proxy hands it over."""
        self.exchanges += 1
        if self._first is None:
            self._first = watched.sent  # times in lines count from here, as the verifier's do
        exchange = watched.exchange
        if watched.abandoned:
            self.abandoned += 1
        record = Record(
            client=exchange.client,
            sent=watched.sent,
            received=watched.received,
            status=ABANDONED if watched.abandoned else exchange.status,
            headers={name: exchange.response_headers.get(name) for name in _FIELDS},
            slot=self._slot(exchange.url, exchange.request_body),
            error=watched.error,
        )
        self._kept[(record.client, record.sent)] = watched
        if len(self._kept) > KEPT_EXCHANGES:
            self._kept.popitem(last=False)
        if exchange.status:
            for breach in judge_answer(
                exchange.status,
                exchange.response_headers.get("content-type"),
                exchange.response_body,
                complete=watched.complete,
            ):
                self._shape_breach(breach, watched)
        self.verifier.feed(record)

    def _slot(self, url: str, body: bytes | None) -> Slot | None:
        """The span the request asked to book (with its event type's buffers, when known)."""
        try:
            parsed = json.loads(body or b"")
        except ValueError:
            return None
        if not isinstance(parsed, dict):
            return None
        start, end = _instant(parsed.get("startTime")), _instant(parsed.get("endTime"))
        if start is None or end is None:
            return None
        parts = url.split("?")[0].rstrip("/").split("/")
        if len(parts) < 3:
            return None
        host, event = parts[-3], parts[-2]
        before, after = self._buffers.get((host, event), (None, None))
        if before is not None and after is not None:
            start, end = start - before.total_seconds(), end + after.total_seconds()
        return Slot(host, start, end)

    def _shape_breach(self, breach: Breach, watched: Watched) -> None:
        tally = self.shape[breach.rule]
        tally.count += 1
        example = self._example(watched, breach.detail)
        if len(tally.examples) < SHOWN_PER_RULE:
            tally.examples.append(example)
        self._line(breach.rule, watched.exchange.client, breach.detail, watched)

    def _rate_finding(self, violation: Violation, record: Record, detail: str) -> None:
        watched = self._kept.get((record.client, record.sent))
        examples = self.rate_examples.setdefault(str(violation), [])
        if len(examples) < SHOWN_PER_RULE and watched is not None:
            examples.append(self._example(watched, detail))
        self._line(str(violation), record.client, detail, watched)

    def _example(self, watched: Watched, detail: str) -> dict[str, Any]:
        exchange = watched.exchange
        return {
            "client": exchange.client,
            "request": f"{exchange.method} {exchange.url}",
            "status": exchange.status,
            "at": round(watched.sent - (self._first or watched.sent), 3),
            "detail": detail,
            "curl": exchange.curl(),
        }

    def _line(self, rule: str, client: str, detail: str, watched: Watched | None) -> None:
        key = (rule, client)
        printed = self._printed.get(key, 0)
        self._printed[key] = printed + 1
        if printed > SHOWN_PER_RULE:
            return
        if printed == SHOWN_PER_RULE:
            self._print(f"VIOLATION {rule} (client {client}): more of these are counted, not shown")
            return
        if watched is None:
            self._print(f"VIOLATION {rule} (client {client}): {detail}")
            return
        exchange = watched.exchange
        status = exchange.status or "no answer"
        self._print(
            f"VIOLATION {rule}: {exchange.method} {exchange.url} -> {status}"
            f" (client {client}, +{watched.sent - (self._first or watched.sent):.3f} s): {detail}\n"
            f"  reproduce: {exchange.curl()}"
        )

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # The end

    def verdict(self, *, complete: bool = True) -> Verdict:
        """The rate-limit verdict; ``complete=False`` when requests were cut off in flight."""
        if self._verdict is None:
            self._verdict = self.verifier.finish(complete=complete)
        return self._verdict

    @property
    def ok(self) -> bool:
        return self.verdict().ok and not any(t.count for t in self.shape.values())

    def summary(self) -> str:
        verdict = self.verdict()
        lines = [
            f"Watched {self.exchanges} book requests in {self.clock() - self.started:.1f} s.",
            "Shape (the API document):",
        ]
        if self.abandoned:
            lines.insert(
                1,
                f"{self.abandoned} of them were left by their clients before the upstream had"
                " them whole: counted as maybe counted by the server, not judged.",
            )
        for rule, tally in self.shape.items():
            lines.append(f"  {rule:<20} {'ok' if not tally.count else f'{tally.count} answers'}")
        lines.append(format_verdict(verdict))
        lines.append(f"Watch verdict: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """The verdict for a CI job's summary: the shape rules broken, then the rate limit's."""
        word = "✅ PASS" if self.ok else "❌ FAIL"
        lines = [f"### {word}: booking-contract watch, {self.exchanges} book requests", ""]
        broken = [(rule, t) for rule, t in self.shape.items() if t.count]
        if broken:
            lines += ["| shape rule | answers | first |", "|---|---:|---|"]
            for rule, tally in broken:
                first = tally.examples[0] if tally.examples else {}
                detail = f"{first.get('request', '')}: {first.get('detail', '')}"
                lines.append(f"| {rule} | {tally.count} | {cell(detail)} |")
        else:
            lines.append("Every answer has the shape the API document gives it.")
        return "\n".join([*lines, "", verdict_markdown(self.verdict())])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exchanges": self.exchanges,
            "abandoned": self.abandoned,
            "seconds": round(self.clock() - self.started, 3),
            "shape": {
                rule: {"meaning": RULES[rule], "count": t.count, "examples": t.examples}
                for rule, t in self.shape.items()
            },
            "rateLimit": self.verdict().to_dict(),
            "rateLimitExamples": self.rate_examples,
        }

    def junit(self) -> bytes:
        """One test case per shape rule and per rate-limit violation class."""
        verdict = self.verdict()
        suite = ElementTree.Element("testsuite", name="booking-contract watch")
        cases: list[tuple[str, str, int, list[dict[str, Any]]]] = [
            (f"shape.{rule}", RULES[rule], t.count, t.examples) for rule, t in self.shape.items()
        ]
        found = verdict.violations
        for violation in Violation:
            cases.append(
                (
                    f"rate_limit.{violation}",
                    violation.meaning,
                    found.get(violation, 0),
                    self.rate_examples.get(str(violation), []),
                )
            )
        failures = 0
        for name, meaning, count, examples in cases:
            case = ElementTree.SubElement(
                suite, "testcase", classname="booking-contract.watch", name=name
            )
            if count:
                failures += 1
                failure = ElementTree.SubElement(
                    case, "failure", message=f"{count} violations: {meaning}"
                )
                failure.text = "\n\n".join(
                    f"{e['request']} -> {e['status']} (client {e['client']}): {e['detail']}\n"
                    f"reproduce: {e['curl']}"
                    for e in examples
                ) or "\n".join(f.first for f in verdict.findings if str(f.violation) in name)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)
