"""Where the OpenAPI documents live: inside the installed package, or at the repository's top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent


def openapi_dir() -> Path:
    # A wheel carries the documents as mock_server/openapi; a checkout keeps them in openapi/.
    for candidate in (_HERE / "openapi", _HERE.parent / "openapi"):
        if (candidate / "booking.yaml").is_file():
            return candidate
    raise FileNotFoundError("the OpenAPI documents (booking.yaml) are missing from the install")


def spec_path(name: str = "booking.yaml") -> Path:
    return openapi_dir() / name


# libyaml's parser (PyYAML's wheels carry it) reads the specs in a tenth of the time of
# the pure-Python one, which was most of booking-mock's start-up after the imports.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_spec(name: str = "booking.yaml") -> dict[str, Any]:
    return yaml.load(spec_path(name).read_text(encoding="utf-8"), Loader=SAFE_LOADER)


def operation_path(spec: dict[str, Any], operation_id: str) -> str:
    """The path template of an operation, found by its operationId."""
    for path, item in spec["paths"].items():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return path
    raise KeyError(f"no operation {operation_id!r} in the spec")
