"""The domain is free of HTTP: importing it, in a fresh interpreter, loads no web framework."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = ("connexion", "starlette", "jsonschema", "uvicorn", "httpx")

PROBE = f"""
import json, sys
import mock_server.domain, mock_server.domain.booking, mock_server.domain.slots
import mock_server.domain.store, mock_server.domain.clock, mock_server.domain.instants
import mock_server.errors
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({list(FRAMEWORKS)!r}))
print(json.dumps(loaded))
"""


def test_the_domain_imports_no_web_framework():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []
