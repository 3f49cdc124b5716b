"""Where the OpenAPI document lives: inside the installed package, or at the repository's top."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent
BOOK_OPERATION = "bookSlot"


def openapi_dir() -> Path:
    # A wheel carries the document as contract_tests/openapi; a checkout keeps it in openapi/.
    for candidate in (_HERE / "openapi", _HERE.parent / "openapi"):
        if (candidate / "booking.yaml").is_file():
            return candidate
    raise FileNotFoundError("the OpenAPI document (booking.yaml) is missing from the install")


def spec_path() -> Path:
    return openapi_dir() / "booking.yaml"


@cache
def load_spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ten times quicker
    return yaml.load(spec_path().read_text(encoding="utf-8"), Loader=loader)


@cache
def book_path() -> str:
    """The book operation's path template, found by its operationId."""
    for path, item in load_spec()["paths"].items():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == BOOK_OPERATION:
                return path
    raise KeyError(f"no operation {BOOK_OPERATION!r} in the spec")


def component(name: str) -> dict[str, Any]:
    """A schema of components/schemas, with the document's components alongside for $ref."""
    spec = load_spec()
    return {**spec["components"]["schemas"][name], "components": spec["components"]}
