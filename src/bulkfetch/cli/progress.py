"""The progress bar a terminal shows during a run, and the line printed at its end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

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

    def notice(self, text: str) -> None:
        self.shown.add(text)
        self._progress.console.print(printable(text), markup=False, highlight=False)

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
                self._console.print(self.line(), markup=False, highlight=False, soft_wrap=True)

    def line(self) -> str:
        """Where the run is, in one line."""
        total = max(self._total, self._settled)
        share = f" ({100 * self._settled / total:.0f}%)" if total else ""
        done_here = self._settled - self._first_settled
        rows_per_second = self._per_second(done_here)
        left = total - self._settled
        eta = _clock_text(left / rows_per_second) if rows_per_second > 0 and left else "-"
        when = datetime.fromtimestamp(self._clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        named = f" {self._label}" if self._label else ""
        return (
            f"{when} progress{named}: {self._settled} of {total} rows{share};"
            f" {self._per_second(self.spent.requests):.1f} calls/s; {self.spent.units} billed;"
            f" {self.spent.rate_limited} 429s; {self.failed} failed; ETA {eta}"
        )

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
