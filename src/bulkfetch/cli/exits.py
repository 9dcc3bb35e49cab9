"""The command line's exit codes (documented in docs/cli.md), and what a run's report
means as one."""

from __future__ import annotations

from bulkfetch.jobs import StopKind
from bulkfetch.run import RunReport, WorkReport

__all__ = ["ExitCode", "exit_code"]


class ExitCode:
    OK = 0
    FAILED = 1
    USAGE = 2
    QUOTA = 3
    AUTH = 4
    STORE = 5
    UNREACHABLE = 6
    CAP = 7  # the run's cap on billed units (--max-calls) is reached
    REDIRECTED = 8  # the API redirected to another origin, which is not followed
    WINDOW = 9  # a window's allowance (--limit 2500/day) is spent, with --at-limit stop
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the reader of the output went away (128 + SIGPIPE)


_STOP_EXIT = {
    StopKind.QUOTA: ExitCode.QUOTA,
    StopKind.AUTH: ExitCode.AUTH,
    StopKind.UNREACHABLE: ExitCode.UNREACHABLE,
    StopKind.CAP: ExitCode.CAP,
    StopKind.REDIRECTED: ExitCode.REDIRECTED,
    StopKind.WINDOW: ExitCode.WINDOW,
}


def exit_code(report: RunReport | WorkReport) -> int:
    """A stopped run's (or worker's) stop; else 1 if rows are left failed or pending."""
    if report.stop_kind is not None:
        return _STOP_EXIT.get(report.stop_kind, ExitCode.INTERRUPTED)
    if isinstance(report, RunReport) and not report.complete:
        return ExitCode.FAILED
    return ExitCode.OK
