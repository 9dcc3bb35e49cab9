"""The ``bulkfetch`` command: its parser (every installed API adds its own subcommands), and
what each error means as an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from logging import ERROR
from typing import Any

from rich.console import Console

from bulkfetch.cli import emulate, fetch, print_version, status, terminal, work
from bulkfetch.cli.exits import ExitCode
from bulkfetch.cli.helptext import Parser, examples
from bulkfetch.cli.logs import requested
from bulkfetch.errors import BulkfetchError, StoreBusyError, StoreError
from bulkfetch.plugins import plugins

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        top=True,
        prog="bulkfetch",
        description="Bulk lookups against rate-limited, paid HTTP APIs.",
        epilog=examples(
            "bulkfetch emulate --port 8710 &    # an emulator of the APIs, on this machine",
            "bulkfetch enrich postcodes.csv --column postcode --out enriched.csv"
            " --base-url http://127.0.0.1:8710",
            "bulkfetch COMMAND --help           # a command's options, defaults and examples",
        ),
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    for found in plugins().values():
        if found.add_commands is not None:
            found.add_commands(commands)
        if found.command is not None and found.client is not None:
            fetch.add_api(commands, found.command, found.help, found.client)
    fetch.add(commands)
    work.add(commands)
    status.add(commands)
    emulate.add(commands)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print_version()
        parser.exit()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    err = terminal.console(requested(sys.argv[1:] if argv is None else argv))
    try:
        code = _command(argv, err)
    finally:
        terminal.release()  # its messages' handler, if any: not the next command's
    stderr = terminal.stderr_of(err)
    if stderr is not None and stderr.gone:
        code = ExitCode.BROKEN_PIPE  # the reader of our messages went away: as SIGPIPE would
    sys.exit(code)


def _command(argv: Sequence[str] | None, err: Console) -> int:
    """The command's exit code (or its parser's exit)."""
    try:
        args = _parser().parse_args(argv)
        code: int = args.handler(args, err)
    except BulkfetchError as exc:
        code = _report_error(exc, err)
    except BrokenPipeError:
        code = _broken_pipe()
    except BaseExceptionGroup as group:
        # Task groups wrap what their tasks raise; ours raise one error at a time.
        first = _first_error(group)
        if first is None:
            raise
        code = _broken_pipe() if isinstance(first, BrokenPipeError) else _report_error(first, err)
    return code


def _broken_pipe() -> int:
    """The reader of our output went away (`bulkfetch status | head -1`): end quietly, as a
    program killed by SIGPIPE would, and let no later flush complain."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitCode.BROKEN_PIPE


def _first_error(
    group: BaseExceptionGroup[BaseException],
) -> BulkfetchError | BrokenPipeError | None:
    for exc in group.exceptions:
        if isinstance(exc, BulkfetchError | BrokenPipeError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_error(exc)
            if found is not None:
                return found
    return None


def _report_error(exc: BulkfetchError, err: Console) -> int:
    if isinstance(exc, StoreError) and not isinstance(exc, StoreBusyError):
        terminal.say(err, f"bulkfetch: store error: {exc}", event="store_error", level=ERROR)
        return ExitCode.STORE
    terminal.say(err, f"bulkfetch: error: {exc}", event="usage_error", level=ERROR)
    return ExitCode.USAGE
