"""Where services' log lines go: skynet's ``[:%08x] message`` lines."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

Writer = Callable[[str], None]


class Logger:
    """Writes log lines to a callable, a file (config ``logger``) or stdout."""

    def __init__(self, write: Writer | None = None, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if write is not None:
            self._write = write
        elif path:
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._write = self._write_file
        else:
            self._write = self._write_stdout

    def log(self, source: int, message: str) -> None:
        with self._lock:
            self._write(f"[:{source:08x}] {message}")

    def _write_stdout(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _write_file(self, line: str) -> None:
        assert self._file is not None
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
