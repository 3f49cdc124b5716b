"""The slot lines booking_mix.lua books from: "PATH START END BAD_END", one a line."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import ROOT, SEED

FIRST_DAY = date(2026, 3, 13)  # the day of harness.CLOCK
DAYS = 62  # the control API's longest slot listing; the booking horizon is 60 days
FAKE_EVENT = "30min"  # one event type per host: its slots never overlap one another


def fake_host_slugs(count: int) -> list[str]:
    """The slugs booking-mock gives its --fake-hosts with --seed SEED."""
    sys.path.insert(0, str(ROOT))
    from mock_server.fake import fake_hosts  # the same function the server calls

    return [host["slug"] for host in fake_hosts(count, SEED)]


def slot_lines(base_url: str, slugs: list[str]) -> list[str]:
    """Every free slot of each host's 30-minute event type, from booking-mock's control API."""
    import httpx

    lines: list[str] = []
    last = FIRST_DAY + timedelta(days=DAYS)
    window = {"from": FIRST_DAY.isoformat(), "to": last.isoformat()}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for slug in slugs:
            answer = client.get(f"/__admin/slots/{slug}/{FAKE_EVENT}", params=window)
            if answer.status_code != 200:
                raise RuntimeError(
                    f"GET /__admin/slots/{slug}/{FAKE_EVENT}: {answer.status_code} {answer.text}"
                    " (do booking-mock's --fake-hosts still follow mock_server.fake.fake_hosts?)"
                )
            path = f"/api/public/scheduling/{slug}/{FAKE_EVENT}/book"
            for slot in answer.json()["slots"]:
                lines.append(f"{path} {slot['startTime']} {slot['endTime']} {bad_end(slot)}")
    return interleave(lines)


def synthetic_slot_lines(slugs: list[str]) -> list[str]:
    """Slot-shaped lines for runs without booking-mock: floor and Prism do not check them."""
    lines = []
    start = datetime(2026, 3, 16, 9, tzinfo=UTC)
    for slug in slugs:
        path = f"/api/public/scheduling/{slug}/{FAKE_EVENT}/book"
        for n in range(700):
            s = start + timedelta(minutes=30 * n)
            slot = {"startTime": utc(s), "endTime": utc(s + timedelta(minutes=30))}
            lines.append(f"{path} {slot['startTime']} {slot['endTime']} {bad_end(slot)}")
    return interleave(lines)


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bad_end(slot: dict[str, str]) -> str:
    """An end 15 minutes past the slot's: the mix's wrong-duration body."""
    end = datetime.fromisoformat(slot["endTime"].replace("Z", "+00:00"))
    return utc(end + timedelta(minutes=15))


def interleave(lines: list[str]) -> list[str]:
    """Round-robin over hosts, so consecutive requests go to different hosts and days."""
    by_path: dict[str, list[str]] = {}
    for line in lines:
        by_path.setdefault(line.split(" ", 1)[0], []).append(line)
    columns = list(by_path.values())
    out = []
    for row in range(max((len(c) for c in columns), default=0)):
        out += [c[row] for c in columns if row < len(c)]
    return out


def write_slot_file(lines: list[str], path: Path) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def write_slot_files(lines: list[str], warmup_share: float, work: Path) -> tuple[Path, Path]:
    """Split the slots: warm-up and measurement never book the same one."""
    cut = max(1, int(len(lines) * warmup_share))
    warm = write_slot_file(lines[:cut], work / "slots-warmup.txt")
    return warm, write_slot_file(lines[cut:], work / "slots-measure.txt")
