"""The booking API's reference implementation and mock, as a Connexion application.

``create_app(Settings(...))`` builds the ASGI app; ``booking-mock`` serves it. The rules
themselves live in ``mock_server.domain``, which imports no web framework: importing it
(or this package) does not load Connexion until ``create_app`` or ``Settings`` is used.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

# Connexion imports Starlette's test client at import time, which warns about httpx;
# the mock never uses it, and the warning would greet every user at start-up.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

if TYPE_CHECKING:
    from .app import MockState, Settings, create_app
    from .dataset import Dataset, DatasetError, load_dataset

_EXPORTS = {
    "MockState": "app",
    "Settings": "app",
    "create_app": "app",
    "Dataset": "dataset",
    "DatasetError": "dataset",
    "load_dataset": "dataset",
}

__all__ = ["Dataset", "DatasetError", "MockState", "Settings", "create_app", "load_dataset"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
