"""The benchmarks' reading of the kernel's TCP counters (benchmarks/procfs.py, mix.py)."""

from __future__ import annotations

import socket
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from mix import Load, tcp_note
from procfs import TCP_COUNTERS, counted_since, tcp_counters


def test_tcp_counters_are_read_from_proc_net() -> None:
    counters = tcp_counters()
    assert set(counters) == set(TCP_COUNTERS)
    assert all(isinstance(n, int) and n >= 0 for n in counters.values())


def test_counted_since_is_the_growth_of_each_counter() -> None:
    before = tcp_counters()
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()):
        pass
    grown = counted_since(before)
    assert set(grown) == set(TCP_COUNTERS)
    assert all(n >= 0 for n in grown.values())
    assert counted_since({name: n + 5 for name, n in tcp_counters().items()})["retransmits"] < 0


LOAD = Load(
    requests=1,
    seconds=1.0,
    requests_per_s=1.0,
    latency_ms={},
    status={},
    socket_errors={},
    slots_reused=0,
    errors=0,
    cpu_percent={},
)


def test_a_run_without_retransmissions_has_no_note() -> None:
    assert tcp_note(LOAD) is None
    assert tcp_note(replace(LOAD, tcp={"retransmits": 0, "timeouts": 0})) is None


def test_retransmissions_during_a_run_are_noted_with_their_kinds() -> None:
    tcp = {"retransmits": 1234, "timeouts": 7, "syn_retransmits": 2, "listen_drops": 0}
    note = tcp_note(replace(LOAD, tcp=tcp))
    assert note is not None
    assert "1,234 TCP segments" in note and "7 after a timeout" in note and "2 SYNs" in note
