"""The booking API's reference implementation and mock, as a Connexion application.

``create_app(Settings(...))`` builds the ASGI app; ``booking-mock`` serves it.
"""

from .app import MockState, Settings, create_app
from .dataset import Dataset, DatasetError, load_dataset

__all__ = ["Dataset", "DatasetError", "MockState", "Settings", "create_app", "load_dataset"]
