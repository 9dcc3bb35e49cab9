"""What the command line prints on standard error: lines whose outside text (a server's
message, a file's name) has its control characters escaped, to a stream whose reader may go
away (``2>&1 | head``), which then ends the run quietly instead of in a traceback; or, as
asked (see :mod:`bulkfetch.cli.logs`), one JSON object a line, or warnings and errors only."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console

from bulkfetch.cli.logs import LOGGER, JsonHandler, Messages, handler
from bulkfetch.untrusted import printable

__all__ = ["Stderr", "console", "messages_of", "release", "say", "stderr_of"]


class Stderr:
    """Standard error, as the console writes to it. Once its reader has gone, writes go
    nowhere (as they would to a closed pipe, but with no error), ``gone`` is set, and
    what :meth:`when_gone` was given is called, once: a run stops sending and lands its
    calls in flight, and the command ends with exit 141, as a program ended by SIGPIPE."""

    def __init__(self, stream: IO[str], messages: Messages | None = None) -> None:
        self._stream = stream
        self.gone = False
        self._callbacks: list[Callable[[], None]] = []
        self.messages = messages or Messages()
        self._partial = ""  # JSON: text printed since the last line's end

    def isatty(self) -> bool:
        """A terminal's, unless JSON lines are written (no bar, no colour)."""
        return not self.messages.json and self._stream.isatty()

    def when_gone(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self.gone:
            callback()

    def write(self, text: str) -> int:
        """Write text; as JSON lines, each line printed is a message of its own."""
        if self.messages.json:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                LOGGER.info(line, extra={"event": "message"})
            return len(text)
        return self.write_raw(text)

    def write_raw(self, text: str) -> int:
        """Write text as it is (a JSON line's, once made)."""
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


def console(messages: Messages | None = None) -> Console:
    """The console on standard error that a command prints through, its messages written
    as ``messages`` asks (JSON lines through :data:`~bulkfetch.cli.logs.LOGGER`)."""
    stderr = Stderr(sys.stderr, messages)
    release()
    if stderr.messages.json:
        LOGGER.addHandler(handler(_Raw(stderr)))  # type: ignore[arg-type]
        logging.captureWarnings(True)  # Python's warnings too, as JSON lines
        _WARNINGS.addHandler(handler(_Raw(stderr)))  # type: ignore[arg-type]
        _WARNINGS.propagate = False
        LOGGER.setLevel(stderr.messages.level)
        LOGGER.propagate = False
    return Console(file=stderr, highlight=False, soft_wrap=True)  # type: ignore[arg-type]


_WARNINGS = logging.getLogger("py.warnings")  # where logging takes Python's warnings


def release() -> None:
    """Remove the JSON lines' handler a command's console added, if any."""
    for logger in (LOGGER, _WARNINGS):
        for old in logger.handlers[:]:
            if isinstance(old, JsonHandler):
                logger.removeHandler(old)
                logger.propagate = True
                if logger is _WARNINGS:
                    logging.captureWarnings(False)
    LOGGER.setLevel(logging.NOTSET)


class _Raw:
    """Standard error's writes as they are, for the JSON lines' handler."""

    def __init__(self, stderr: Stderr) -> None:
        self._stderr = stderr

    def write(self, text: str) -> int:
        return self._stderr.write_raw(text)

    def flush(self) -> None:
        self._stderr.flush()


def stderr_of(err: Console) -> Stderr | None:
    """The guarded standard error a console writes to, if it is one."""
    file = err.file
    return file if isinstance(file, Stderr) else None


def say(
    err: Console, text: str, *, event: str = "message", level: int = logging.INFO, **fields: Any
) -> None:
    """One message that may hold outside text: a line with its controls escaped, or a JSON
    line with its ``event`` and ``fields``; nothing below the level asked for."""
    messages = messages_of(err)
    if level < messages.level:
        return
    if messages.json:
        LOGGER.log(level, text, extra={"event": event, **fields})
        return
    err.print(printable(text), markup=False, highlight=False)


def messages_of(err: Console) -> Messages:
    """How the console's messages are to be written."""
    stderr = stderr_of(err)
    return stderr.messages if stderr is not None else Messages()
