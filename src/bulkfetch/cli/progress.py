"""The progress bar a terminal shows during a run, and the line printed at its end."""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["ProgressBar"]


class ProgressBar:
    """Rows done of total, calls a second, ETA, 429s and failures; silent off a terminal."""

    def __init__(self, console: Console, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._enabled = console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]:>6.1f} calls/s"),
            TextColumn("429s {task.fields[limited]}"),
            TextColumn("retries {task.fields[retries]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not self._enabled,
            transient=False,
        )
        self._task: TaskID | None = None
        self._calls = 0
        self._started = 0.0
        self.limited = 0
        self.retries = 0
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

    def notice(self, text: str) -> None:
        self.shown.add(text)
        self._progress.console.print(text, markup=False, highlight=False)

    def start(self, total_rows: int, settled_rows: int) -> None:
        self._started = self._clock.monotonic()
        self._task = self._progress.add_task(
            "enriching", total=total_rows, completed=settled_rows, rate=0.0, limited=0, retries=0
        )

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        self._calls += sum(o.called for o in outcomes)
        retries = [o for o in outcomes if o.kind is OutcomeKind.RETRY]
        self.retries += len(retries)
        self.limited += sum(o.status == 429 for o in retries)
        if self._task is None:
            return
        elapsed = max(self._clock.monotonic() - self._started, 1e-6)
        self._progress.update(
            self._task,
            advance=settled_rows,
            rate=self._calls / elapsed,
            limited=self.limited,
            retries=self.retries,
        )
