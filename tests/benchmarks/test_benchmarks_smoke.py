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
        "--duration=2",
        "--warmup=1",
        "--connections=10",
        "--fake-hosts=10",
        "--no-install",
        f"--out={out}",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "booking-mock" in run.stdout and "floor" in run.stdout

    servers = json.loads(out.read_text())["servers"]
    assert set(servers) == {"booking-mock", "floor"}
    for name, measured in servers.items():
        load = measured["load"]
        assert load["requests"] > 0, name
        assert load["requests_per_s"] > 0, name
        assert load["latency_ms"]["p50"] > 0, name
        assert load["latency_ms"]["p99"] >= load["latency_ms"]["p50"], name
        assert sum(load["status"].values()) == load["requests"], name
        assert load["errors"] == 0, name
    # The mix reached the rules: bookings succeeded and bad requests were refused.
    mock_status = servers["booking-mock"]["load"]["status"]
    assert mock_status.get("201", 0) > 0 and mock_status.get("400", 0) > 0, mock_status
    assert servers["floor"]["load"]["status"].keys() == {"201"}
