"""A file the user names in an environment variable (a dictionary, a model), read on first use and
again whenever it changes: what the optional sentiment scorers share."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class UserFile(Generic[T]):
    """The file ``env`` names (in ``environ``, default the process's), and what ``read`` made of it.

    :meth:`load` reads it again only when its path, modification time or size changed.
    """

    def __init__(self, env: str, environ: Mapping[str, str] | None = None) -> None:
        self.env = env
        self._environ = environ
        self._lock = threading.Lock()
        self._loaded: tuple[tuple[str, float, int], T] | None = None

    def path(self) -> Path | None:
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(self.env, "").strip()
        return Path(value).expanduser() if value else None

    def status(self, *, unset: str, missing: str) -> tuple[bool, str | None]:
        """``(usable, why not)``: ``unset`` when the variable is empty, ``missing`` when it names no file."""
        path = self.path()
        if path is None:
            return False, f"set {self.env} to {unset}"
        if not path.is_file():
            return False, f"{self.env} names no file{': ' + missing if missing else ''}"
        return True, None

    def load(self, path: Path, read: Callable[[Path], T]) -> T:
        """``read(path)``, or what it gave last time if the file has not changed (``OSError`` if gone)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded[0] != key:
                self._loaded = (key, read(path))
            return self._loaded[1]
