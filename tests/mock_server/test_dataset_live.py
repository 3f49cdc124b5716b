"""Datasets at run time: Faker-made hosts, and --watch reloading the file."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx
import yaml

from mock_server.dataset import load_dataset
from mock_server.errors import StorageUnavailable
from mock_server.fake import fake_hosts
from mock_server.watch import DatasetWatcher

from .test_rules import BOOK, assert_error, body

DEFAULT = Path(__file__).resolve().parents[2] / "mock_server" / "data" / "default-dataset.yaml"


def test_fake_hosts_are_bookable(start_server):
    hosts = fake_hosts(3, seed=9)
    base = start_server(fake_hosts=3, seed=9)
    with httpx.Client(base_url=base) as client:
        for host in hosts:
            slots = client.get(
                f"/__admin/slots/{host['slug']}/30min",
                params={"from": "2026-03-16", "to": "2026-03-20"},
            ).json()["slots"]
            assert slots, host
            first = slots[0]
            response = client.post(
                BOOK.format(user=host["slug"], event="30min"),
                json=body(startTime=first["startTime"], endTime=first["endTime"]),
            )
            assert response.status_code == 201, response.text
        # The default hosts are still there.
        assert (
            client.post(BOOK.format(user="jane-doe", event="30min-call"), json=body()).status_code
            == 201
        )


def test_fake_hosts_repeat_with_a_seed():
    assert fake_hosts(5, seed=1) == fake_hosts(5, seed=1)
    assert len({h["slug"] for h in fake_hosts(200, seed=2)}) == 200


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)


def test_watch_reloads_the_dataset_and_keeps_bookings_that_still_fit(start_server, tmp_path):
    path = tmp_path / "dataset.yaml"
    shutil.copy(DEFAULT, path)
    base = start_server(dataset=path, watch=True)
    with httpx.Client(base_url=base) as client:
        assert (
            client.post(BOOK.format(user="jane-doe", event="30min-call"), json=body()).status_code
            == 201
        )
        consult = client.post(
            BOOK.format(user="jane-doe", event="60min-consult"),
            json=body(startTime="2026-03-17T14:00:00Z", endTime="2026-03-17T15:00:00Z"),
        )
        assert consult.status_code == 201

        # Drop the consult event type, and add a host.
        data = yaml.safe_load(path.read_text())
        jane = data["hosts"][0]
        jane["eventTypes"] = [e for e in jane["eventTypes"] if e["slug"] != "60min-consult"]
        data["hosts"].append(
            {
                **jane,
                "slug": "new-host",
                "eventTypes": [
                    {
                        "slug": "chat",
                        "id": "evt_new",
                        "durationMinutes": 30,
                        "location": {"type": "Zoom"},
                    }
                ],
            }
        )
        path.write_text(yaml.safe_dump(data))

        wait_for(lambda: client.get("/__admin/slots/new-host/chat").status_code == 200)
        bookings = client.get("/__admin/bookings").json()["bookings"]
        assert [b["eventSlug"] for b in bookings] == ["30min-call"]
        assert_error(
            client.post(BOOK.format(user="jane-doe", event="60min-consult"), json=body()), 404
        )

        # A broken file is refused; the previous dataset keeps serving.
        path.write_text("hosts: [")
        time.sleep(1.2)
        assert client.get("/__admin/slots/new-host/chat").status_code == 200


class FlakyStorageService:
    """A BookingService stand-in whose storage is down for the first reload."""

    def __init__(self) -> None:
        self.attempts = 0
        self.dataset = None

    async def replace_dataset(self, dataset) -> int:
        self.attempts += 1
        if self.attempts == 1:
            raise StorageUnavailable()
        self.dataset = dataset
        return 0


def test_watch_retries_a_reload_the_storage_outage_refused(tmp_path):
    path = tmp_path / "dataset.yaml"
    shutil.copy(DEFAULT, path)
    service = FlakyStorageService()
    watcher = DatasetWatcher(path, lambda: load_dataset(path), service)
    path.write_text(path.read_text() + "\n# changed\n")
    assert asyncio.run(watcher.check()) is False  # Redis down: not reloaded, not forgotten
    assert asyncio.run(watcher.check()) is True  # the next poll reloads the same change
    assert service.dataset is not None
    assert asyncio.run(watcher.check()) is False  # and then nothing new
