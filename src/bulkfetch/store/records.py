"""What the store takes and gives back: plain values, no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.jobs import Job, JobState, Lookup
from bulkfetch.spend import Spend

__all__ = [
    "Claim",
    "OutputRow",
    "RowEntry",
    "RunCounts",
    "RunDetail",
    "RunInfo",
    "RunSpec",
    "SlotGrant",
    "SlotRequest",
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
    fields: Sequence[str] = ()  # the row as read, kept for the output


@dataclass(frozen=True, slots=True)
class OutputRow:
    row_no: int
    job_id: int | None
    state: JobState | None  # None: the input could not be a valid lookup
    body: str | None
    error: str | None  # why the row is invalid, or the job's last error
    fields: list[str] | None  # the row as enqueued (None in runs of before version 3)


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


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """A worker asking its key's shared budget for a send slot, with the news it brings."""

    rate_limited: bool = False  # a 429 came back since its last slot
    sending: float = 0.0  # calls a second it saw go out (a rate to cut from when none is set)
    pause: float = 0.0  # seconds from now that nothing may be sent (Retry-After, a reset)
    probe_seconds: float = 10.0  # after a cut, back to the ceiling in about this long
    min_rate: float = 0.5
    recur_seconds: float = 2.0  # a 429 this soon after the last pause is the rate's

    def next_rate(
        self, rate: float | None, ceiling: float | None, resume_at: float, now: float
    ) -> tuple[float | None, float]:
        """The budget's rate and resume time after this request: pause for the provider's
        window; halve on a 429 once an event, unless it came at the configured rate after
        ``recur_seconds`` with none (an outage's, most likely: as the local limiter, the
        pause is all it costs; a rate above the limit meets 429s again at once); probe
        back up."""
        if self.rate_limited and now >= resume_at:
            held = rate is not None and ceiling is not None and rate >= ceiling
            if not (held and now - resume_at >= self.recur_seconds):
                base = rate if rate is not None else max(self.sending, 2.0)
                rate = max(self.min_rate, base * 0.5)
        if self.pause > 0:
            resume_at = max(resume_at, now + self.pause)
        elif rate is not None:
            goal = ceiling if ceiling is not None else 2.0 * rate
            if rate < goal:
                rate = min(goal, rate + goal / (2.0 * self.probe_seconds * max(rate, 1.0)))
        return rate, resume_at


@dataclass(frozen=True, slots=True)
class SlotGrant:
    """A send slot: how long to wait for it, and the budget's rate now, or why not to send."""

    wait: float
    rate: float | None
    stop_kind: str | None = None
    stop_reason: str | None = None
