"""booking-mock as a user starts it: a real process on a free port."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.servers import free_port, serve_process, start_process, wait_ready

from .test_rules import body

EXAMPLE = body()  # the API document's example request


def test_pinned_clock_books_the_api_documents_example(tmp_path):
    port = free_port()
    with serve_process(
        ["--clock", "2026-03-13T10:30:00Z", "--freeze", "--seed", "7"], port
    ) as base:
        response = httpx.post(
            f"{base}/api/public/scheduling/jane-doe/30min-call/book", json=EXAMPLE
        )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "Confirmed"
    assert booking["location"]["value"].startswith("https://meet.google.com/")
    assert booking["createdAt"] == "2026-03-13T10:30:00Z"
    assert booking["invitee"] == {
        "name": "Alex Johnson",
        "email": "alex@example.com",
        "phone": "+1-555-0123",
        "timezone": "America/New_York",
    }


def test_seed_makes_ids_and_links_repeat():
    bookings = []
    for _ in range(2):
        port = free_port()
        with serve_process(["--clock", "2026-03-13T10:30:00Z", "--seed", "42"], port) as base:
            url = f"{base}/api/public/scheduling/jane-doe/30min-call/book"
            bookings.append(httpx.post(url, json=EXAMPLE).json())
    assert bookings[0]["id"] == bookings[1]["id"]
    assert bookings[0]["location"] == bookings[1]["location"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", *args, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_dataset_stops_start_up_naming_the_entry(tmp_path):
    dataset = tmp_path / "bad.yaml"
    dataset.write_text(
        "hosts:\n"
        "  - slug: ann\n    name: Ann\n    timezone: Mars/Base\n"
        "    availability: {}\n    eventTypes: []\n"
    )
    result = run_cli("--dataset", str(dataset))
    assert result.returncode == 2
    assert "hosts[0].timezone" in result.stderr
    assert "Mars/Base" in result.stderr


def test_missing_dataset_file_stops_start_up():
    result = run_cli("--dataset", "/nonexistent/dataset.yaml")
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr


def test_bad_rate_limit_is_refused():
    result = run_cli("--rate-limit", "lots")
    assert result.returncode == 2
    assert "not a rate limit" in result.stderr


def test_naive_clock_is_refused():
    result = run_cli("--clock", "2026-03-13T10:30:00")
    assert result.returncode == 2
    assert "RFC 3339" in result.stderr


def test_access_log_has_one_line_per_request():
    port = free_port()
    command = [sys.executable, "-m", "mock_server", "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}/openapi.json", process)
        httpx.post(f"http://127.0.0.1:{port}/api/public/scheduling/nobody/x/book", json={})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    lines = [line for line in stderr.splitlines() if "/api/public/scheduling/nobody/x/book" in line]
    assert len(lines) == 1
    assert "POST /api/public/scheduling/nobody/x/book 404 127.0.0.1" in lines[0]
    assert lines[0].rstrip().endswith("ms")


def _maps_uvloop(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return "/uvloop/loop." in maps.read()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/maps")
@pytest.mark.parametrize(("args", "uvloop"), [([], False), (["--loop", "uvloop"], True)])
def test_the_event_loop_is_asyncio_unless_another_is_asked_for(args, uvloop):
    """asyncio by default: uvloop left connections waiting seconds under load."""
    with start_process(args, free_port()) as served:
        assert _maps_uvloop(served.process.pid) is uvloop
        assert httpx.get(f"{served.url}/__admin/health").status_code == 200
        banner = served.output()
    assert f"loop: {'uvloop' if uvloop else 'asyncio'}" in banner
