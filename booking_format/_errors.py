"""The one error of the format: a document that breaks it, named by the path of the entry."""

from __future__ import annotations


class FormatError(ValueError):
    """A dataset or profile that breaks the host format; the message names the bad entry.

    ``path`` is where (``hosts[1].timezone``, ``line 3, column 5``, ``(file)``), ``message``
    what is wrong, ``source`` the file or label it came from, when known.
    """

    def __init__(self, path: str, message: str, source: str | None = None) -> None:
        self.path = path
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}")
