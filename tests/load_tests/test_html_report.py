"""The load run's HTML verdict: a bounded timeline beside the verifier, charts per client."""

from __future__ import annotations

import json

from load_tests.html_report import CHARTS, charted_clients, client_figure, verdict_html
from load_tests.timeline import Timeline
from load_tests.verifier import Record, Verifier, Violation, verify

from .test_verifier import LIMIT, WINDOW


def judged(records: list[Record]) -> tuple[Timeline, object]:
    """The verdict and the timeline of records, fed as a load run feeds them."""
    timeline = Timeline(WINDOW)
    verifier = Verifier(LIMIT, WINDOW, ratelimit_fields=False, on_finding=timeline.on_finding)
    verifier.feed_many(records)
    timeline.feed_many(records)
    return timeline, verifier.finish()


def over_the_limit(client: str, start: float = 0.0) -> list[Record]:
    """One request more than the limit accepted within a window: limit-exceeded."""
    return [Record(client, start + 0.1 * i, start + 0.1 * i + 0.01, 400) for i in range(LIMIT + 1)]


def refused(client: str, sent: float, retry_after: str = "1") -> Record:
    return Record(client, sent, sent + 0.01, 429, {"retry-after": retry_after})


def test_a_timeline_keeps_the_first_429_after_an_answer_and_thins_the_rest():
    timeline = Timeline(WINDOW)  # 429s kept at most one per WINDOW / 120 s
    gap = WINDOW / 120
    records = [Record("a", 0.0, 0.01, 201)]
    records += [refused("a", 0.02 + i * gap / 10) for i in range(30)]  # 30 within 3 gaps
    records += [Record("a", 1.0, 1.01, 400), refused("a", 1.02)]
    timeline.feed_many(records)
    lane = timeline.lanes["a"]
    statuses = [p.status for p in lane.points]
    assert statuses[:2] == [201, 429] and statuses[-2:] == [400, 429]
    assert 3 <= statuses.count(429) - 1 <= 4  # about one per gap, not 30
    assert lane.thinned == 31 - statuses.count(429)


def test_a_timeline_is_bounded_per_client_and_in_clients():
    timeline = Timeline(WINDOW, per_client=10, clients=3)
    timeline.feed_many(Record("a", i, i + 0.01, 400) for i in range(25))
    timeline.feed_many(Record(f"c{i}", 0.0, 0.01, 400) for i in range(5))
    assert len(timeline.lanes["a"].points) == 10
    assert timeline.lanes["a"].dropped == 15
    assert timeline.lanes["a"].points[-1].sent == 24  # the latest are kept
    assert len(timeline.lanes) == 3 and timeline.unlaned == 3


def test_a_timeline_keeps_each_violation_with_its_record():
    timeline, verdict = judged(over_the_limit("a"))
    assert not verdict.ok
    [marker] = timeline.markers[Violation.LIMIT_EXCEEDED]
    assert marker.record.client == "a" and marker.record.sent == LIMIT * 0.1
    assert timeline.lanes["a"].markers == [marker]


def test_charts_go_to_clients_with_violations_first_then_the_busiest():
    records = [
        Record(f"quiet{n}", 0.5 * i, 0.5 * i + 0.01, 400) for n in range(15) for i in range(n)
    ]
    records += over_the_limit("broken", start=20.0)
    records.sort(key=lambda r: r.received)
    _, verdict = judged(records)
    charted = [c.client for c in charted_clients(verdict)]
    assert len(charted) == CHARTS
    assert charted[0] == "broken"
    assert charted[1:4] == ["quiet14", "quiet13", "quiet12"]


def test_a_chart_draws_the_window_count_the_limit_the_retry_after_and_the_retry():
    records = [Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT)]
    records += [refused("a", 0.6, "2"), Record("a", 2.7, 2.71, 400)]
    timeline, verdict = judged(records)
    summary = verdict.clients[0]
    figure = client_figure(summary, timeline.lanes["a"], verdict, timeline.start)
    traces = {trace.name.split(" (")[0]: trace for trace in figure.data}
    window = traces[f"accepted in the last {WINDOW:g} s"]
    assert max(window.y) == LIMIT
    assert traces["429"].y == (LIMIT,)  # drawn at the count it was refused at
    # The Retry-After runs from the 429's answer to the moment it named.
    assert list(traces["Retry-After, to the moment it names"].x[:2]) == [0.61, 2.61]
    assert traces["retry after the wait"].x == (2.7,)
    assert figure.layout.shapes[0].y0 == LIMIT  # the limit line


def test_the_page_has_a_chart_per_charted_client_and_marks_the_violations():
    timeline, verdict = judged(over_the_limit("broken") + over_the_limit("other", 10.0))
    page = verdict_html(verdict, timeline, target="http://127.0.0.1:9")
    assert page.count('class="client-chart violating"') == 2
    assert (
        '<span class="badge">FAIL</span>' in page
        and "limit-exceeded" in page
        and "http://127.0.0.1:9" in page
    )
    assert page.count('"meta":"violations"') == 2
    assert "<script src=" not in page  # self-contained: Plotly is inlined


def test_a_passing_page_says_so_and_still_charts_its_clients():
    records = [Record("a", 0.1 * i, 0.1 * i + 0.01, 400) for i in range(LIMIT)]
    timeline = Timeline(WINDOW)
    timeline.feed_many(records)
    page = verdict_html(verify(records, LIMIT, WINDOW, ratelimit_fields=False), timeline)
    assert '<span class="badge">PASS</span>' in page and "no violation" in page
    assert page.count('class="client-chart"') == 1
    assert '"meta":"violations"' not in page
    assert json.dumps("accepted (5)")[1:-1] in page
