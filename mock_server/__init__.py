"""The booking API's reference implementation and mock, as a Connexion application.

``create_app(Settings(...))`` builds the ASGI app; ``booking-mock`` serves it.
"""

import warnings

# Connexion imports Starlette's test client at import time, which warns about httpx;
# the mock never uses it, and the warning would greet every user at start-up.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from .app import MockState, Settings, create_app  # noqa: E402
from .dataset import Dataset, DatasetError, load_dataset  # noqa: E402

__all__ = ["Dataset", "DatasetError", "MockState", "Settings", "create_app", "load_dataset"]
