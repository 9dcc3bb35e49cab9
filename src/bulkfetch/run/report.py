"""What a run says as it goes (:class:`Progress`) and what it did (:class:`RunReport`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bulkfetch.jobs import Outcome, RowStatus
from bulkfetch.run.plan import Plan
from bulkfetch.spend import Spend

__all__ = ["Progress", "RunReport", "Silent", "WorkReport", "combined_report"]


class Progress(Protocol):
    """What a run reports as it goes (the CLI draws a bar from it)."""

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        """A run begins its calls (``label``: which of a pass's runs: its dataset)."""
        ...

    def grow(self, total_rows: int) -> None:
        """The run holds this many rows now: its input is read as its first rows are worked."""
        ...

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None: ...

    def notice(self, text: str, *, warning: bool = False) -> None:
        """Something the user should know now, not only at the end (``warning``: even when
        told to say warnings only: what may be billed twice, a stop)."""
        ...


class Silent:
    """Progress nobody watches."""

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        pass

    def grow(self, total_rows: int) -> None:
        pass

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        pass

    def notice(self, text: str, *, warning: bool = False) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a run did, and how it ended (or, with a plan, what it would cost)."""

    run_id: int | None  # None: a plan for a run not begun yet
    output: Path | None
    rows: int
    statuses: dict[str, int]
    spent: Spend = field(default_factory=Spend)  # by this invocation
    run_spent: Spend | None = None  # by the run so far, all invocations and workers
    max_calls: int | None = None  # the run's cap on billed units, if any
    stop_kind: str | None = None
    stop_reason: str | None = None
    notices: Sequence[str] = ()
    enqueued_only: bool = False  # work=False: rows counts the rows enqueued; nothing written
    plan: Plan | None = None  # plan=True: what the run would fetch; nothing was
    # Several runs over one input (a dataset each): each one's report, by dataset.
    parts: tuple[tuple[str, RunReport], ...] = ()

    @property
    def calls(self) -> int:
        """Requests this invocation sent."""
        return self.spent.requests

    @property
    def complete(self) -> bool:
        """Every row has a final status (ok, not found, invalid)."""
        unsettled = (RowStatus.FAILED.value, RowStatus.PENDING.value)
        return self.stop_kind is None and not any(self.statuses.get(s) for s in unsettled)


def combined_report(named: Mapping[str, RunReport]) -> RunReport:
    """The reports of several runs written as one output (their statuses, the output's),
    by dataset: what they spent together, how the first that stopped stopped, every notice
    once, and each one's own (``parts``)."""
    reports = list(named.values())
    spent, run_spent = Spend(), Spend()
    for report in reports:
        spent.add_spend(report.spent)
        if report.run_spent is not None:
            run_spent.add_spend(report.run_spent)
    stopped = next((r for r in reports if r.stop_kind is not None), reports[0])
    notices = list(dict.fromkeys(n for r in reports for n in r.notices))
    return replace(
        reports[0],
        spent=spent,
        run_spent=run_spent,
        stop_kind=stopped.stop_kind,
        stop_reason=stopped.stop_reason,
        notices=notices,
        parts=tuple(named.items()),
    )


@dataclass(slots=True)
class WorkReport:
    """What a worker (``bulkfetch work``) did before it left."""

    runs: list[int] = field(default_factory=list)  # the runs it sent calls for
    spent: Spend = field(default_factory=Spend)  # what its calls spent, over those runs
    stop_kind: str | None = None
    stop_reason: str | None = None
