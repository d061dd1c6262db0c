"""The client side of the debug console: ``skylet console`` and ``skylet inject``.

The console speaks skynet's protocol: one command per line; the answer is
lines of text ending with a line ``<CMD OK>`` or ``<CMD Error>``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from .._core._errors import SkyletError

FRAME_OK = "<CMD OK>"
FRAME_ERROR = "<CMD Error>"
HISTORY = Path("~/.skylet_console_history").expanduser()


class ConsoleError(SkyletError):
    """The console could not be reached, or closed the connection."""


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or a bare ``port`` (on 127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


class ConsoleClient:
    """A blocking connection to a debug console."""

    def __init__(self, host: str, port: int, timeout: float | None = None) -> None:
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ConsoleError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
        self._file = self._sock.makefile("rwb")
        self.welcome = self._readline()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readline(self) -> str:
        raw = self._file.readline()
        if not raw:
            raise ConsoleError("the console closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def lines(self, command: str) -> Iterator[str]:
        """Send one command; yield its answer's lines, the frame line last."""
        if "\n" in command or not command.strip():
            raise ValueError("a console command is one non-empty line")
        self._file.write(command.encode() + b"\n")
        self._file.flush()
        while True:
            line = self._readline()
            yield line
            if line in (FRAME_OK, FRAME_ERROR):
                return

    def command(self, command: str) -> tuple[bool, list[str]]:
        """Run one command: whether it answered ``<CMD OK>``, and its lines."""
        lines = list(self.lines(command))
        return lines[-1] == FRAME_OK, lines[:-1]


@contextlib.contextmanager
def _history() -> Iterator[None]:
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            readline.set_history_length(1000)
            readline.write_history_file(HISTORY)


def interactive(client: ConsoleClient, read: Callable[[str], str] = input) -> int:
    """Read commands from the terminal (with history) until end of input."""
    prompt = "skylet> " if sys.stdin.isatty() else ""
    print(client.welcome)
    with _history():
        while True:
            try:
                line = read(prompt)
            except EOFError:
                return 0
            except KeyboardInterrupt:
                print()
                return 0
            if not line.strip():
                continue
            for answer in client.lines(line):
                print(answer, flush=True)


def inject(client: ConsoleClient, target: str, path: str) -> int:
    """``inject TARGET FILE`` on the console: 0 only if every target accepted it."""
    # The console reads the file itself, as skynet's does: same machine,
    # so an absolute path reaches the same file.
    full = os.path.abspath(path)
    ok = False
    for line in client.lines(f"inject {target} {full}"):
        print(line, flush=True)
        ok = line == FRAME_OK
    return 0 if ok else 1


def check_script(path: str) -> str | None:
    """Why ``path`` cannot be injected, or None."""
    if any(ch.isspace() for ch in os.path.abspath(path)):
        return f"{path}: console commands are split on spaces; use a path without them"
    if not os.path.isfile(path):
        return f"{path}: no such file"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    return None
