"""What the store takes and gives back: plain values, no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.jobs import Job, JobState, Lookup
from bulkfetch.spend import Spend

__all__ = [
    "Allowance",
    "BudgetState",
    "Claim",
    "OutputRow",
    "RowEntry",
    "RunCounts",
    "RunDetail",
    "RunInfo",
    "RunSpec",
    "SlotDecision",
    "SlotGrant",
    "StoredRow",
]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What identifies a run: running the same command again finds the same run."""

    run_key: str
    api: str
    endpoint: str
    description: str
    adapter: str = "{}"  # how a worker rebuilds the adapter: JSON, never a key
    input: str = "{}"  # what the input is (JSON: path, encoding, content hash)
    lineage: str | None = None  # the run key without the input's content
    header: str = "[]"  # JSON: the input's column names
    options: str = "{}"  # JSON: what its lookups share (endpoint, options), for ``status``


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    rows_enqueued: int
    enqueue_complete: bool
    # Made now, while a run of the same lineage (the same command over another content of
    # the same input) was there already: that run's id.
    follows: int | None = None
    fields_run: int | None = None  # the run whose rows keep its rows' fields (None: its own)


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run as a worker or ``export`` finds it in the store."""

    id: int
    api: str
    description: str
    adapter: str  # JSON: how to rebuild the run's adapter
    input: str | None  # JSON: what the input is
    enqueue_complete: bool
    header: list[str] | None = None  # None: a run made before version 3, rows not kept
    rows_enqueued: int = 0
    stop_reason: str | None = None
    options: str | None = None  # JSON: what its lookups share (its template)


@dataclass(frozen=True, slots=True)
class Claim:
    """Jobs leased for calls, and whether the run's cap kept back others that were due."""

    jobs: list[Job]
    capped: bool = False


@dataclass(frozen=True, slots=True)
class RowEntry:
    """One input row as enqueued: its lookup, or why it has none."""

    row_no: int
    lookup: Lookup | None
    note: str | None = None
    # The row as read, kept for the output; None: kept by another run of its pass (the
    # run's fields_run), in the same transaction or before.
    fields: Sequence[str] | None = ()


@dataclass(frozen=True, slots=True)
class OutputRow:
    row_no: int
    job_id: int | None
    state: JobState | None  # None: the input could not be a valid lookup
    body: str | None
    error: str | None  # why the row is invalid, or the job's last error
    fields: list[str] | None  # the row as enqueued (None in runs of before version 3)


# A row of a run's output as a scan of the store gives it (``Results.scan``), a plain tuple:
# a million rows cost no object each. Its number, its job's id and state (both None: the
# input could not be a valid lookup; a state is a JobState's value), the job's kept body,
# why the row is invalid or the job's last error, the row's fields as enqueued, as JSON
# text (``Results.fields`` reads them; None in runs of before version 3), and the value its
# lookup looked up, as normalised (None: no job, or not asked for).
StoredRow = tuple[int, int | None, str | None, str | None, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What ``bulkfetch status`` shows of a run."""

    run_id: int
    api: str
    endpoint: str
    description: str
    input: dict[str, Any] | None  # what the input was (path, format, content hash, name)
    options: dict[str, str] | None  # what its lookups share (None: a run of before v4)
    created_at: float
    updated_at: float
    rows: int
    invalid_rows: int
    jobs_by_state: dict[str, int]
    spend: Spend  # the run's so far, over all its invocations and workers
    max_units: int | None  # its cap on billed units, if any
    stop_kind: str | None
    stop_reason: str | None
    # What its latest invocation that wrote its output had from the store (a rerun: all
    # it had answered before); 0 for one that never did.
    last_from_store: int = 0


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A key's shared budget as a worker asking for a slot finds it: the ceiling set for it
    (calls a second, if any), the pacing's own state (text the store keeps and does not
    read), and the database's clock now."""

    ceiling: float | None
    pacing: str | None
    now: float


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """What the pacing decided, for the store to keep: its new state, its rate, and the slot
    handed out (on the database's clock)."""

    pacing: str
    rate: float | None
    slot: float


@dataclass(frozen=True, slots=True)
class SlotGrant:
    """A send slot and the database's clock when it was handed out, with the budget's rate;
    or why not to send."""

    slot: float
    now: float
    rate: float | None
    stop_kind: str | None = None
    stop_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Allowance:
    """At most ``calls`` calls with a key in the window of ``unit`` (a minute, an hour, a
    day, a month) that starts at ``starts_at`` (seconds since the epoch)."""

    unit: str
    starts_at: float
    calls: int
