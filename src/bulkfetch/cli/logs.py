"""How the command line's messages are written on standard error: as text (a bar on a
terminal, lines elsewhere), or with ``--log-format json`` one JSON object a line, through
the standard :mod:`logging` module, for a log collector: ``{"time", "level", "event",
"message", ...its fields}``. ``-q`` leaves warnings and errors only (a stop, a failure);
``-v`` adds each call that is tried again (a 429, a 5xx, a timeout) as it lands."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

__all__ = [
    "LOGGER",
    "JsonHandler",
    "Messages",
    "add_options",
    "handler",
    "requested",
    "writing_json",
]

LOGGER = logging.getLogger("bulkfetch.cli")
FORMATS = ("text", "json")
_OWN = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@dataclass(frozen=True, slots=True)
class Messages:
    """How a command writes its messages: as JSON or text, and from which level on."""

    json: bool = False
    level: int = logging.INFO


def add_options(parser: argparse.ArgumentParser, *, top: bool, checked: bool = True) -> None:
    """The options of every command (``top``: of ``bulkfetch`` itself, before one;
    ``checked``: a --log-format that is not one of them refused, by this parser)."""
    found = parser.add_argument_group("messages on standard error")
    given: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    found.add_argument(
        "--log-format",
        choices=FORMATS if checked else None,
        help="text (default: a bar on a terminal, lines elsewhere), or json: one JSON object"
        " a line (time, level, event, message and its fields), for a log collector",
        **({"default": "text"} if top else given),
    )
    found.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and errors only", **given
    )
    found.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="each call that is tried again too (a 429, a 5xx, a timeout), as it lands",
        **given,
    )


def requested(argv: Sequence[str]) -> Messages:
    """What the arguments ask of messages, wherever in them (read before the command's
    own parsing, so that even its usage errors are written as asked)."""
    parser = argparse.ArgumentParser(prog="bulkfetch", add_help=False)
    add_options(parser, top=True, checked=False)  # the command's parser says what is wrong
    known, _ = parser.parse_known_args(list(argv))
    level = logging.WARNING if known.quiet else logging.DEBUG if known.verbose else logging.INFO
    return Messages(json=known.log_format == "json", level=level)


class _JsonLines(logging.Formatter):
    """A record as one JSON line: its time (UTC, ISO 8601), level, event, message, and the
    fields it was given."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _OWN and k != "event"})
        return json.dumps(line, ensure_ascii=False, default=str)


class JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A command's handler of :data:`LOGGER`'s records: JSON lines on its standard error."""


def handler(stream: IO[str]) -> logging.Handler:
    """The handler writing :data:`LOGGER`'s records to ``stream`` as JSON lines."""
    found = JsonHandler(stream)
    found.setFormatter(_JsonLines())
    return found


def writing_json() -> bool:
    """Whether a command writes its messages as JSON lines now."""
    return any(isinstance(found, JsonHandler) for found in LOGGER.handlers)
