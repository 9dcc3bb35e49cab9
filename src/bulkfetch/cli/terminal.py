"""What the command line prints on standard error: lines whose outside text (a server's
message, a file's name) has its control characters escaped, to a stream whose reader may go
away (``2>&1 | head``), which then ends the run quietly instead of in a traceback."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console

from bulkfetch.untrusted import printable

__all__ = ["Stderr", "console", "say", "stderr_of"]


class Stderr:
    """Standard error, as the console writes to it. Once its reader has gone, writes go
    nowhere (as they would to a closed pipe, but with no error), ``gone`` is set, and
    what :meth:`when_gone` was given is called, once: a run stops sending and lands its
    calls in flight, and the command ends with exit 141, as a program ended by SIGPIPE."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.gone = False
        self._callbacks: list[Callable[[], None]] = []

    def when_gone(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self.gone:
            callback()

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except (BrokenPipeError, ConnectionResetError, ValueError):
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError, ValueError):
                self._lost()

    def _lost(self) -> None:
        self.gone = True
        # What Python writes there at exit (a flush, a warning) must not fail either.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        for callback in self._callbacks:
            callback()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's
        return getattr(self._stream, name)


def console() -> Console:
    """The console on standard error that a command prints through."""
    return Console(file=Stderr(sys.stderr), highlight=False, soft_wrap=True)  # type: ignore[arg-type]


def stderr_of(err: Console) -> Stderr | None:
    """The guarded standard error a console writes to, if it is one."""
    file = err.file
    return file if isinstance(file, Stderr) else None


def say(err: Console, text: str) -> None:
    """One line of text that may hold outside text: printed with its controls escaped."""
    err.print(printable(text), markup=False, highlight=False)
