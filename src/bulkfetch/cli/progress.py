"""The progress bar a terminal shows during a run, or the lines printed elsewhere (JSON
lines with ``--log-format json``, with their fields; none with ``-q``; each call tried
again too with ``-v``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bulkfetch.cli.terminal import messages_of, say
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.jobs import Outcome, OutcomeKind
from bulkfetch.spend import Spend
from bulkfetch.untrusted import printable

__all__ = ["ProgressBar"]


class ProgressBar:
    """Rows done of total, calls a second, ETA, 429s and failures: a bar on a terminal;
    elsewhere (a log file, a pipe, a scheduler) a line every ``every`` seconds."""

    def __init__(
        self,
        console: Console,
        *,
        every: float = 10.0,
        enabled: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._console = console
        self._every = every
        messages = messages_of(console)
        enabled = enabled and messages.level <= logging.INFO  # -q: no progress at all
        self._verbose = messages.level <= logging.DEBUG
        self._lines = enabled and not console.is_terminal
        self._enabled = enabled and console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]:>6.1f} calls/s"),
            TextColumn("billed {task.fields[billed]}"),
            TextColumn("429s {task.fields[limited]}"),
            TextColumn("retries {task.fields[retries]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not self._enabled,
            transient=False,
        )
        self._task: TaskID | None = None
        self._tasks: dict[str, TaskID] = {}  # a bar each label: a run worked again reuses its
        self._started: float | None = None
        self._label = ""
        self._total = 0
        self._settled = 0
        self._first_settled = 0
        self.spent = Spend()  # this run's, since it started (a pass's runs: each its own)
        self.failed = 0
        self.shown: set[str] = set()  # the notices printed as they came

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    @property
    def console(self) -> Console:
        return self._console

    def notice(self, text: str, *, warning: bool = False) -> None:
        """Something the user should know now (``warning``: even with ``-q``)."""
        self.shown.add(text)
        say(self._console, text, event="notice", level=logging.WARNING if warning else logging.INFO)

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        """A bar for a run (another below it for each further run of a pass, named)."""
        self._started = self._clock.monotonic()
        self._label = printable(label)
        self._total, self._settled = total_rows, settled_rows
        self._first_settled = settled_rows
        self.spent, self.failed = Spend(), 0
        if self._enabled:
            task = self._tasks.get(self._label)
            if task is None:
                task = self._tasks[self._label] = self._progress.add_task(
                    self._label or "enriching", rate=0.0, billed=0, limited=0, retries=0
                )
            self._progress.update(
                task,
                total=total_rows,
                completed=settled_rows,
                rate=0.0,
                billed=0,
                limited=0,
                retries=0,
            )
            self._task = task

    def grow(self, total_rows: int) -> None:
        self._total = total_rows
        if self._task is not None:
            self._progress.update(self._task, total=total_rows)

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        if self._verbose:
            self._retried(outcomes)
        self.spent.add(outcomes)
        self.failed += sum(o.settles for o in outcomes if o.kind is OutcomeKind.RETRY)
        self._settled += settled_rows
        if self._task is not None:
            self._progress.update(
                self._task,
                advance=settled_rows,
                rate=self._per_second(self.spent.requests),
                billed=self.spent.units,
                limited=self.spent.rate_limited,
                retries=self.spent.retries,
            )

    async def heartbeat(self) -> None:
        """Off a terminal, a line of progress every ``every`` seconds while the run works."""
        if not self._lines:
            return
        while True:
            await self._clock.sleep(self._every)
            if self._started is not None:
                say(self._console, self.line(), event="progress", **self.fields())

    def fields(self) -> dict[str, Any]:
        """Where the run is: its rows settled of its total, calls a second, units billed,
        429s, rows failed, and the seconds left (None: not known yet)."""
        total = max(self._total, self._settled)
        rows_per_second = self._per_second(self._settled - self._first_settled)
        left = total - self._settled
        return {
            "run": self._label or None,
            "settled_rows": self._settled,
            "total_rows": total,
            "calls_per_second": round(self._per_second(self.spent.requests), 1),
            "billed": self.spent.units,
            "rate_limited": self.spent.rate_limited,
            "failed_rows": self.failed,
            "seconds_left": round(left / rows_per_second) if rows_per_second > 0 and left else None,
        }

    def line(self) -> str:
        """Where the run is, in one line."""
        found = self.fields()
        total, settled = found["total_rows"], self._settled
        share = f" ({100 * settled / total:.0f}%)" if isinstance(total, int) and total else ""
        left = found["seconds_left"]
        eta = _clock_text(left) if isinstance(left, int) else "-"
        when = datetime.fromtimestamp(self._clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        named = f" {self._label}" if self._label else ""
        return (
            f"{when} progress{named}: {settled} of {total} rows{share};"
            f" {found['calls_per_second']:.1f} calls/s; {self.spent.units} billed;"
            f" {self.spent.rate_limited} 429s; {self.failed} failed; ETA {eta}"
        )

    def _retried(self, outcomes: Sequence[Outcome]) -> None:
        """-v: each call to be tried again, as it lands (its status, its error's text)."""
        for outcome in outcomes:
            if outcome.called and (outcome.kind is OutcomeKind.RETRY or outcome.rate_limited):
                status = "429" if outcome.rate_limited else str(outcome.status or "no answer")
                event = "failed_call" if outcome.settles else "retry"  # out of attempts, or not
                text = f"{event.replace('_', ' ')}: {status}: {outcome.error or 'no answer'}"
                say(self._console, text, event=event, level=logging.DEBUG, status=outcome.status,
                    rate_limited=outcome.rate_limited, error=outcome.error)  # fmt: skip

    def _per_second(self, count: int) -> float:
        """``count`` a second since the run started, over a second at least: never more
        than went out in one second (the first calls land in a burst)."""
        if self._started is None:
            return 0.0
        return count / max(self._clock.monotonic() - self._started, 1.0)


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
