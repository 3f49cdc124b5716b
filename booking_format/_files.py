"""Reading a YAML (or JSON) document, with the line and column of a syntax error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ._errors import FormatError


def parse_yaml(text: str) -> Any:
    """The parsed document, or FormatError at ``line L, column C`` when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise FormatError(where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load_yaml(path: str | Path) -> Any:
    """Read and parse a file; FormatError at ``(file)`` when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError("(file)", f"cannot read the file: {exc.strerror}") from None
    return parse_yaml(text)
