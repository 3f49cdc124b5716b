"""booking-mock tunes the garbage collector once its app is up; embedders keep their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent(
    """
    import gc, json, sys
    from starlette.testclient import TestClient
    from mock_server.app import Settings, create_app
    from mock_server.gc_tuning import YOUNG

    tune = sys.argv[1] == "tune"
    before = gc.get_threshold()[0]
    with TestClient(create_app(Settings(tune_gc=tune))) as client:
        health = client.get("/__admin/health", headers={"host": "localhost"})
        assert health.status_code == 200, health.text
        print(json.dumps({"frozen": gc.get_freeze_count(), "young": gc.get_threshold()[0],
                          "before": before, "goal": YOUNG}))
    """
)


def run(mode: str) -> dict[str, int]:
    import json

    done = subprocess.run(
        [sys.executable, "-c", CHECK, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_server_freezes_its_start_up_heap_and_collects_the_young_generation_less_often():
    tuned = run("tune")
    assert tuned["frozen"] > 10_000  # the imports, the spec and the dataset
    assert tuned["young"] == tuned["goal"]


def test_an_embedded_app_leaves_the_collector_as_it_found_it():
    untouched = run("keep")
    assert untouched["frozen"] == 0
    assert untouched["young"] == untouched["before"]


def test_the_cli_asks_for_the_tuning():
    from mock_server.cli import build_parser, settings_from_args

    assert settings_from_args(build_parser().parse_args([])).tune_gc
