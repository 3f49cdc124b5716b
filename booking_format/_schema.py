"""The hosts schema, found in a checkout or an install, and validators that resolve it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from ._errors import FormatError

_HERE = Path(__file__).resolve().parent


def _schema_path() -> Path:
    # A wheel carries the schema inside this package; a checkout keeps it in openapi/.
    for candidate in (_HERE / "hosts.schema.json", _HERE.parent / "openapi" / "hosts.schema.json"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the host format's schema (hosts.schema.json) is missing")


@cache
def hosts_schema() -> dict[str, Any]:
    """The JSON Schema of a ``hosts`` list; its ``$id`` is what documents ``$ref``."""
    return json.loads(_schema_path().read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    schema = hosts_schema()
    return Registry().with_resource(schema["$id"], Resource.from_contents(schema))


def document_validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator for a document schema (dataset, profile) whose hosts ``$ref`` the format."""
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def json_path(parts: Iterable[str | int]) -> str:
    """``hosts[0].availability.monday[1]``; ``(top level)`` for the document itself."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def check_schema(document: Any, validator: jsonschema.Draft202012Validator) -> None:
    """Raise FormatError for the most relevant schema error, at the path of its entry."""
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise FormatError(json_path(error.absolute_path), error.message)
