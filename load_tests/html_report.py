"""The load run's verdict as one self-contained HTML page: the table, the violations, charts.

``verdict_html(verdict, timeline)`` reads the verifier's result and the ``Timeline``
fed beside it; it judges nothing itself. Each chart is one client's run: the
requests accepted in the rolling window (what the limit caps) against the limit,
every answer on that line, each 429's Retry-After drawn to the moment it pointed at
with the retry that followed, and each violation the verifier found. Plotly draws
them; its script is inlined once, so the file opens with no network.
"""

from __future__ import annotations

import bisect
import html
from collections import deque
from datetime import UTC, datetime
from typing import Any

import jinja2
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from .report import COLUMNS, client_row, listed_clients
from .timeline import Lane, Marker, Point, Timeline
from .verifier import ABANDONED, CONNECTION_ERROR, ClientSummary, Verdict, parse_retry_after

CHARTS = 12  # clients with a chart: violations first, then the busiest

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader(__package__ or "load_tests", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def charted_clients(verdict: Verdict, limit: int = CHARTS) -> list[ClientSummary]:
    """The clients worth a chart: those with violations (most first), then the busiest."""
    ranked = sorted(
        verdict.clients,
        key=lambda c: (-sum(c.findings.values()), -c.requests, verdict.clients.index(c)),
    )
    return ranked[:limit]


def _accepted(status: int) -> bool:
    return status not in (429, CONNECTION_ERROR, ABANDONED) and status < 500


def _in_window(points: list[Point], window: float) -> list[int]:
    """For each point, the client's requests accepted within the window up to its answer."""
    recent: deque[float] = deque()
    counts = []
    for point in points:
        while recent and recent[0] <= point.received - window:
            recent.popleft()
        if _accepted(point.status):
            recent.append(point.received)
        counts.append(len(recent))
    return counts


def _steps(points: list[Point], window: float, start: float) -> tuple[list[float], list[int]]:
    """The accepted-in-window count as a step line: up at each acceptance, down as it expires."""
    events = []
    for point in points:
        if _accepted(point.status):
            events += [(point.received - start, 1), (point.received + window - start, -1)]
    events.sort()
    xs, ys, count = [0.0], [0], 0
    for x, change in events:
        count += change
        xs.append(round(x, 3))
        ys.append(count)
    return xs, ys


def client_figure(
    summary: ClientSummary, lane: Lane | None, verdict: Verdict, start: float
) -> go.Figure:
    """One client's chart (see the module docstring)."""
    points = sorted(lane.points, key=lambda p: p.received) if lane else []
    counts = _in_window(points, verdict.window)
    figure = go.Figure()
    xs, ys = _steps(points, verdict.window, start)
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            name=f"accepted in the last {verdict.window:g} s",
            mode="lines",
            line={"shape": "hv", "color": "#2b6cb0", "width": 1.5},
            hoverinfo="skip",
        )
    )
    figure.add_hline(
        y=verdict.limit,
        line={"color": "#c53030", "dash": "dash", "width": 1},
        annotation_text=f"limit {verdict.limit}",
        annotation_position="top left",
    )

    def answers(keep: Any, name: str, symbol: str, color: str) -> None:
        chosen = [(p, c) for p, c in zip(points, counts, strict=True) if keep(p.status)]
        figure.add_trace(
            go.Scatter(
                x=[round(p.received - start, 3) for p, _ in chosen],
                y=[c for _, c in chosen],
                name=f"{name} ({len(chosen)})",
                mode="markers",
                marker={"symbol": symbol, "color": color, "size": 7},
                text=[_point_text(p, start) for p, _ in chosen],
                hovertemplate="%{text}<extra></extra>",
            )
        )

    answers(_accepted, "accepted", "circle", "#38a169")
    answers(lambda s: s == 429, "429", "x", "#e53e3e")
    answers(lambda s: s >= 500 or s in (CONNECTION_ERROR, ABANDONED), "error", "square", "#1a202c")
    _retry_after(figure, points, counts, start)
    if lane and lane.markers:
        _violations(figure, lane.markers, verdict.limit, start)
    thinned = f", {lane.thinned} more 429s not drawn" if lane and lane.thinned else ""
    dropped = f", the first {lane.dropped} requests not drawn" if lane and lane.dropped else ""
    figure.update_layout(
        title={
            "text": f"{html.escape(summary.client)}: {summary.requests} requests,"
            f" {summary.accepted} accepted, {summary.refused} refused{thinned}{dropped}",
            "font": {"size": 14},
        },
        height=330,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        xaxis={"title": {"text": "seconds since the run started"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "accepted in window"}, "rangemode": "tozero"},
        plot_bgcolor="#fafafa",
    )
    return figure


def _retry_after(figure: go.Figure, points: list[Point], counts: list[int], start: float) -> None:
    """Each 429's Retry-After as a line to the moment it named, and the retry after it."""
    xs: list[float | None] = []
    ys: list[int | None] = []
    retries: dict[int, Point] = {}
    by_send = sorted(range(len(points)), key=lambda i: points[i].sent)
    sends = [points[i].sent for i in by_send]
    for point, count in zip(points, counts, strict=True):
        if point.status != 429:
            continue
        delay = parse_retry_after(point.retry_after, point.date)
        if delay is None:
            continue
        until = point.received + delay
        xs += [round(point.received - start, 3), round(until - start, 3), None]
        ys += [count, count, None]
        # The retry: the client's first request sent once the wait was over.
        later = bisect.bisect_left(sends, until)
        if later < len(sends):
            retries[by_send[later]] = points[by_send[later]]
    if xs:
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name="Retry-After, to the moment it names",
                mode="lines+markers",
                line={"color": "#a0aec0", "dash": "dot", "width": 1},
                marker={"symbol": "line-ns-open", "size": 9, "color": "#718096"},
                hoverinfo="skip",
            )
        )
    if retries:
        chosen = sorted(retries.items())
        figure.add_trace(
            go.Scatter(
                x=[round(p.sent - start, 3) for _, p in chosen],
                y=[counts[i] for i, _ in chosen],
                name=f"retry after the wait ({len(chosen)})",
                mode="markers",
                marker={
                    "symbol": "star",
                    "size": 11,
                    "color": ["#38a169" if _accepted(p.status) else "#e53e3e" for _, p in chosen],
                    "line": {"color": "#1a202c", "width": 0.5},
                },
                text=[f"retry: {_point_text(p, start)}" for _, p in chosen],
                hovertemplate="%{text}<extra></extra>",
            )
        )


def _violations(figure: go.Figure, markers: list[Marker], limit: int, start: float) -> None:
    figure.add_trace(
        go.Scatter(
            x=[round(m.record.received - start, 3) for m in markers],
            y=[limit + 1] * len(markers),
            name=f"violations ({len(markers)})",
            mode="markers",
            marker={"symbol": "diamond", "size": 12, "color": "#dd6b20"},
            text=[html.escape(f"{m.violation}: {m.detail}") for m in markers],
            hovertemplate="%{text}<extra></extra>",
            meta="violations",
        )
    )


def _point_text(point: Point, start: float) -> str:
    status = {CONNECTION_ERROR: "no response", ABANDONED: "abandoned"}.get(
        point.status, str(point.status)
    )
    text = f"{status}, sent +{point.sent - start:.3f} s, answered +{point.received - start:.3f} s"
    if point.retry_after is not None:
        text += f", Retry-After {html.escape(point.retry_after)}"
    return text


def _marker_row(marker: Marker, start: float) -> dict[str, Any]:
    record = marker.record
    return {
        "violation": str(marker.violation),
        "client": record.client,
        "sent": f"+{record.sent - start:.3f} s",
        "received": f"+{record.received - start:.3f} s",
        "status": record.status or "none",
        "headers": ", ".join(f"{k}: {v}" for k, v in record.headers.items() if v is not None),
        "forged": record.forged,
        "detail": marker.detail,
    }


def verdict_html(
    verdict: Verdict,
    timeline: Timeline,
    *,
    title: str = "Load run: rate-limit verifier",
    target: str = "",
    started: float | None = None,
) -> str:
    """The whole page, self-contained (the plotting script inlined once)."""
    start = timeline.start if timeline.start != float("inf") else (started or 0.0)
    charted = charted_clients(verdict)
    charts = []
    for number, summary in enumerate(charted):
        figure = client_figure(summary, timeline.lanes.get(summary.client), verdict, start)
        charts.append(
            {
                "client": summary.client,
                "violations": sum(summary.findings.values()),
                "html": figure.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"client-chart-{number}",
                    config={"displaylogo": False, "responsive": True},
                ),
            }
        )
    shown = listed_clients(verdict)
    markers = [
        _marker_row(marker, start)
        for violation in verdict.violations
        for marker in timeline.markers.get(violation, [])
    ]
    return _ENVIRONMENT.get_template("verdict.html.j2").render(
        title=title,
        target=target,
        verdict=verdict,
        started=datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if start
        else "",
        columns=COLUMNS,
        rows=[client_row(c) for c in shown],
        hidden=len(verdict.clients) - len(shown),
        findings=verdict.findings,
        markers=markers,
        kept=timeline.per_violation,
        charts=charts,
        unlaned=timeline.unlaned,
        plotly_js=get_plotlyjs(),
    )
