"""How ``--help`` reads: every option with its meaning and its default, and each command
with examples of its use."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from bulkfetch.cli import logs

__all__ = ["Parser", "examples"]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's own layout (examples kept as written), with each option's default said
    unless its help says it already, or it has none to say (a flag, nothing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or action.nargs == 0
            or default in (None, argparse.SUPPRESS, "")
            or default == []
            or "default" in text
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


class Parser(argparse.ArgumentParser):
    """An argument parser whose help says every default, and each command's parser the
    options of its messages (``top``: ``bulkfetch``'s own, before a command); a usage error
    is a JSON line when JSON lines are asked for."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        logs.add_options(self, top=top)

    def error(self, message: str) -> NoReturn:
        if logs.writing_json():  # JSON lines: no usage text, the error as one of them
            logs.LOGGER.error(f"{self.prog}: error: {message}", extra={"event": "usage_error"})
            self.exit(2)
        super().error(message)


def examples(*lines: str) -> str:
    """A command's ``epilog``: its examples, a command line each (``# what it does`` after)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
