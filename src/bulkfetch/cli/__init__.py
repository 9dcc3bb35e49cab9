"""The command line: thin commands over the library. Each installed API adds its own
(``enrich``, ``labor-market``); ``work``, ``export``, ``status`` and ``emulate`` serve them
all. Exit codes are decided here."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """The ``bulkfetch`` console script (``argv``: its arguments; the process's if None)."""
    from bulkfetch.cli.app import main as run

    run(argv)
