"""What the store takes and gives back: plain values, no SQL."""

from __future__ import annotations

from dataclasses import dataclass

from bulkfetch.jobs import JobState, Lookup

__all__ = [
    "OutputRow",
    "RowEntry",
    "RunCounts",
    "RunDetail",
    "RunInfo",
    "RunSpec",
    "StopKind",
]


class StopKind:
    """Why a run stopped early; stored as text in ``runs.stop_kind``."""

    QUOTA = "quota"
    AUTH = "auth"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What identifies a run: running the same command again finds the same run."""

    run_key: str
    api: str
    endpoint: str
    description: str
    adapter: str = "{}"  # how a worker rebuilds the adapter: JSON, never a key
    input_path: str = ""  # the input file, absolute: what the output is written from


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    rows_enqueued: int
    enqueue_complete: bool


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run as a worker or ``export`` finds it in the store."""

    id: int
    api: str
    description: str
    adapter: str  # JSON: how to rebuild the run's adapter
    input_path: str | None
    enqueue_complete: bool


@dataclass(frozen=True, slots=True)
class RowEntry:
    """One input row as enqueued: its lookup, or why it has none."""

    row_no: int
    lookup: Lookup | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OutputRow:
    row_no: int
    job_id: int | None
    state: JobState | None  # None: the input could not be a valid lookup
    body: str | None
    error: str | None  # why the row is invalid, or the job's last error


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What ``bulkfetch status`` shows of a run."""

    run_id: int
    description: str
    rows: int
    invalid_rows: int
    jobs_by_state: dict[str, int]
    calls: int
    rate_limited: int
    retries: int
    reclaimed: int
    stop_kind: str | None
    stop_reason: str | None
    updated_at: float
