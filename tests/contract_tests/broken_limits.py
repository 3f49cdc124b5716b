"""Broken rate limiters and proxies: the reference with one part of rule 1 broken."""

from __future__ import annotations

from .broken import Fault

FAULTS: list[Fault] = []
