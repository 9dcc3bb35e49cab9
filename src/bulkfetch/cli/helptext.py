"""How ``--help`` reads: every option with its meaning and its default, and each command
with examples of its use."""

from __future__ import annotations

import argparse
from typing import Any

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
    """An argument parser whose help says every default; its subcommands' parsers too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def examples(*lines: str) -> str:
    """A command's ``epilog``: its examples, a command line each (``# what it does`` after)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
