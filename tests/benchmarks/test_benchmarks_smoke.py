"""benchmarks/throughput.py runs end to end in a tiny mode and measures every server it starts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "throughput.py"


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_throughput_measures_booking_mock_and_the_floor(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--only=booking-mock,floor",  # not Prism: it downloads from npm
        "--duration=1.5",
        "--warmup=1",
        "--rounds=2",
        "--connections=10",
        "--fake-hosts=10",
        "--no-install",
        f"--out={out}",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "booking-mock" in run.stdout and "floor" in run.stdout

    document = json.loads(out.read_text())
    servers = document["servers"]
    assert set(servers) == {"booking-mock", "floor"}
    # Two rounds, each with both servers; issue 16's goals judged on their median.
    assert [set(r["servers"]) for r in document["rounds"]] == [{"booking-mock", "floor"}] * 2
    ratios = [r["floor"]["requests_per_s"] for r in document["rounds"]]
    median = document["goals"]["median"]["requests_per_s"]
    assert min(ratios) <= median <= max(ratios)
    verdict = document["goals"]["verdicts"]["requests_per_s"]
    assert verdict["met"] == (median >= 0.5)
    assert "issue 16 goals:" in run.stdout
    for name, measured in servers.items():
        load = measured["load"]
        assert load["requests"] > 0, name
        # The kernel's TCP retransmissions during the run, read from /proc/net.
        assert set(load["tcp"]) == {"retransmits", "timeouts", "syn_retransmits", "listen_drops"}
        assert all(n >= 0 for n in load["tcp"].values()), load["tcp"]
        assert load["requests_per_s"] > 0, name
        assert load["latency_ms"]["p50"] > 0, name
        assert load["latency_ms"]["p99"] >= load["latency_ms"]["p50"], name
        assert sum(load["status"].values()) == load["requests"], name
        assert load["errors"] == 0, name
    # The mix reached the rules: bookings succeeded and bad requests were refused.
    mock_status = servers["booking-mock"]["load"]["status"]
    assert mock_status.get("201", 0) > 0 and mock_status.get("400", 0) > 0, mock_status
    assert servers["floor"]["load"]["status"].keys() == {"201"}


VERIFIER_SCRIPT = SCRIPT.parent / "verifier.py"


def test_verifier_benchmark_pairs_runs_with_and_without_the_verifier(tmp_path: Path) -> None:
    out = tmp_path / "verifier.json"
    command = [
        sys.executable,
        str(VERIFIER_SCRIPT),
        *("--rate=200", "--seconds=2", "--ramp=1", "--users=10"),
        *("--rounds=1", "--control=1", "--verdict-html", f"--out={out}"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "verifier cost, A/B" in run.stdout
    assert "HTML report, written after the measured seconds" in run.stdout

    summary = json.loads(out.read_text())
    kinds = [r["kind"] for r in summary["rounds"]]
    assert kinds == ["verifier", "control"]
    verifier_round = summary["rounds"][0]
    for side in ("with", "without"):
        assert verifier_round[side]["requests"] > 0, side
        assert verifier_round[side]["cpu"] > 0, side
    # Only the run with the verifier spent time in it, and it judged the target correct.
    assert verifier_round["with"]["in_verifier"] > 0
    assert verifier_round["without"]["in_verifier"] == 0
    assert summary["violations"] == []
    assert summary["cost_median"] == pytest.approx(verifier_round["ratio"] - 1)
    assert verifier_round["with"]["report_bytes"] > 1_000_000  # Plotly's script, inlined


SOAK_SCRIPT = SCRIPT.parent / "soak.py"


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_soak_reports_errors_lost_bookings_and_rss(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(SOAK_SCRIPT),
        *("--connections=20", "--duration=3", "--fake-hosts=20", f"--out={out}"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    for line in (
        "5xx: 0 ",
        "connection errors (soak): connect 0, read 0, write 0, timeout 0",
        "latency (soak, each 201 timed from its request): p50 ",
        "latency (soak, every answer, wrk's own",
        "once warm",
        "at the end of the soak",
        "lost bookings: 0",
        "PASS (0 5xx, 0 lost bookings, RSS growth under 10% once warm)",
    ):
        assert line in run.stdout, (line, run.stdout)

    summary = json.loads(out.read_text())
    soak = summary["phases"]["soak"]
    assert soak["requests"] > 0
    assert soak["latency_ms"]["p99"] >= soak["latency_ms"]["p50"] > 0
    assert soak["status"].get("201", 0) > 0 and soak["status"].get("400", 0) > 0
    timed = summary["latency_201_measured"]
    assert 0 < timed["answers"] <= soak["status"]["201"]
    assert timed["percentiles_ms"]["max"] >= timed["percentiles_ms"]["p99"] > 0
    bookings = summary["bookings"]
    # Every 201's booking is stored; the only extra ones were in flight when wrk stopped.
    assert bookings["created"] == soak["status"]["201"]
    assert bookings["lost"] == 0 and bookings["lost_ids"] == []
    assert bookings["stored"] == bookings["created"] + bookings["unseen"]
    assert 0 <= bookings["unseen"] <= 20
    assert summary["rss_kib"]["end"] > 0 and summary["rss_kib"]["start"] > 0
    assert summary["verdict"] == "PASS"


def test_soak_without_wrk_says_how_to_install_it(tmp_path: Path) -> None:
    # No wrk on PATH: the script stops before it starts a server.
    run = subprocess.run(
        [sys.executable, str(SOAK_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "wrk is not installed" in run.stderr and "apt-get install wrk" in run.stderr


PROXY_SCRIPT = SCRIPT.parent / "proxy.py"


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_proxy_compares_the_direct_path_with_the_watch_in_front(tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    command = [sys.executable, str(PROXY_SCRIPT), "--quick", "--no-install", f"--out={out}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    table = run.stdout.split("=" * 100, 1)[-1]
    for row in ("path ", "direct ", "through watch ", "through/direct ", "added latency "):
        assert any(line.startswith(row) for line in table.splitlines()), (row, run.stdout)
    assert "watch: Watch verdict: PASS (exit code 0 on SIGINT)" in run.stdout

    summary = json.loads(out.read_text())
    for side, measured in summary["sides"].items():
        load = measured["load"]
        assert load["requests"] > 0 and load["errors"] == 0, side
        assert load["latency_ms"]["p99"] >= load["latency_ms"]["p50"] > 0, side
        assert sum(load["status"].values()) == load["requests"], side
        # Bookings succeeded and bad requests were refused; nobody reached the rate limit.
        assert load["status"].get("201", 0) > 0 and load["status"].get("400", 0) > 0, side
        assert "429" not in load["status"], side
        # wrk stopped with nothing in flight, which the watch would count against the server.
        assert load["drain"]["unanswered"] == 0, side
    assert summary["ratios"]["requests_per_s"] > 0
    assert summary["watch"]["exit_code"] == 0
    assert summary["watch"]["watched"] == summary["through_sent"]


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_state_growth_measures_fresh_and_filled_servers_in_alternating_rounds(
    tmp_path: Path,
) -> None:
    out = tmp_path / "state_growth.json"
    command = [
        sys.executable,
        str(SCRIPT.parent / "state_growth.py"),
        "--bookings=3000",
        "--clients=300",
        "--fake-hosts=50",  # 45 booked: about 30,000 free slots, 27,000 of them used
        "--rounds=2",
        "--duration=1",
        "--warmup=0.5",
        f"--out={out}",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(out.read_text())
    assert document["fill"]["stored"] == 3000
    rounds = document["rounds"]
    assert len(rounds) == 2
    for measured in rounds:
        for side in ("fresh", "filled"):
            assert measured[side]["requests"] > 0
            assert measured[side]["status"].get("201", 0) > 0
    ratios = [r["ratios"]["requests_per_s"] for r in rounds]
    assert min(ratios) <= document["ratios"]["requests_per_s"] <= max(ratios)
    assert 0 < document["bytes_per_booking"] < 10_000
    assert "median of 2 rounds" in run.stdout
    # The fresh side goes first in odd rounds, the filled side in even ones.
    assert run.stdout.index("round 1: a fresh server") < run.stdout.index(
        "round 1: the filled server"
    )
    assert run.stdout.index("round 2: the filled server") < run.stdout.index(
        "round 2: a fresh server"
    )


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_client_times_redis_py_and_the_pipe_alternately(tmp_path: Path) -> None:
    out = tmp_path / "redis_client.json"
    command = [sys.executable, str(SCRIPT.parent / "redis_client.py")]
    command += ["--commands=400", "--callers=20", "--rounds=2", f"--out={out}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "median CPU a command: redis-py" in run.stdout
    runs = json.loads(out.read_text())["runs"]
    assert set(runs) == {"redis-py", "pipe"}
    for name, measured in runs.items():
        assert len(measured) == 2, name
        assert all(m["cpu_us"] > 0 and m["per_s"] > 0 for m in measured), measured


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("redis-server") is None,
    reason="needs wrk and redis-server",
)
def test_scale_out_measures_memory_and_redis_workers_with_the_same_mix(tmp_path: Path) -> None:
    out = tmp_path / "scale_out.json"
    command = [sys.executable, str(SCRIPT.parent / "scale_out.py")]
    command += ["--duration=1.5", "--warmup=1", "--connections=10", "--fake-hosts=10"]
    command += [f"--out={out}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "redis/memory   requests/s x" in run.stdout
    document = json.loads(out.read_text())
    assert list(document["loads"]) == ["memory, 1 worker", "redis, 2 workers"]
    for name, load in document["loads"].items():
        assert load["requests"] > 0 and load["errors"] == 0, (name, load)
        assert load["status"].get("201", 0) > 0 and load["status"].get("429", 0) > 0, name
    rps = [load["requests_per_s"] for load in document["loads"].values()]
    assert document["ratios"]["requests_per_s"] == pytest.approx(rps[1] / rps[0], abs=0.01)
    assert document["met"] == (document["ratios"]["requests_per_s"] >= 1.0)


def test_instructions_driver_sends_the_mix_in_process() -> None:
    """The side instructions.py runs under callgrind: the mix reaches every rule it aims at."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "instructions.py"
    root = str(script.parents[1])
    command = [sys.executable, str(script), "--drive", root, "--hosts=5", "--warmup=0"]
    run = subprocess.run([*command, "--requests=1400"], capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr
    statuses = json.loads(run.stdout.strip().splitlines()[-1])["statuses"]
    assert sum(statuses.values()) == 1400
    # 14 fresh in 20 book; taken slots and invalid bodies get 400; 2 in 20 come from a
    # few hot clients, each let through 15 times a minute and refused after.
    assert statuses["201"] == 1400 * 14 // 20
    assert 0 < statuses["429"] <= 140 - 15
    assert statuses["400"] == 1400 - statuses["201"] - statuses["429"]
