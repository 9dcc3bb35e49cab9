"""The command line: thin commands over the library. Each installed API adds its own
(``enrich``, ``labor-market``); ``work``, ``export``, ``status`` and ``emulate`` serve them
all. Exit codes are decided here."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

__all__ = ["main", "print_version"]


def print_version() -> None:
    """``bulkfetch --version``: the installed version, on standard output (as argparse's)."""
    import bulkfetch

    print(f"bulkfetch {bulkfetch.__version__}")


def main(argv: Sequence[str] | None = None) -> None:
    """The ``bulkfetch`` console script (``argv``: its arguments; the process's if None)."""
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        print_version()  # no command, no API, nothing else imported
        sys.exit(0)
    # The start-up's imports make next to no garbage: no collection looks for it, and what
    # they made is left out of every later one (gc.freeze) rather than traced again.
    if argv is None and gc.isenabled():  # the console script's process: once
        gc.disable()
        try:
            from bulkfetch.cli.app import main as run
        finally:
            gc.freeze()
            gc.enable()
    else:  # called in a process of its own caller's (tests, a program): its gc left alone
        from bulkfetch.cli.app import main as run
    run(argv)
