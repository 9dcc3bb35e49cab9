"""The command line: thin commands over the library. Each installed API adds its own
(``enrich``, ``labor-market``); ``work``, ``export``, ``status`` and ``emulate`` serve them
all. Exit codes are decided here."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """The ``bulkfetch`` console script."""
    from bulkfetch.cli.app import main as run

    run()
