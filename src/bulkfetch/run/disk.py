"""How much disk a run will take in its store, said before it runs (``--plan``): its rows'
share (each row as the enqueue keeps it, its fields once for a pass of several datasets;
each new lookup's job, and its link to the run) and its answers' share (each lookup to
fetch, at what the store's answers of its kind keep, else at the API's typical answer,
else unknown).

The bytes a row, a job and an answer take are SQLite's (4 KiB pages), measured on the
store's own tables (``dbstat``) after an enqueue and after the work; the acceptance tests
(``tests/acceptance/test_cost.py``) hold the estimate to the growth it announces. A
PostgreSQL store takes a little more a row (its tuple headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EMPTY_STORE", "Disk", "sum_disks"]

ROW = 31  # a run's row (its number, job, note) and its key in the rows' index
JOB = 148  # a job's row and its two index entries, besides its text (counted as it is)
LINK = 27  # a run's count of the rows waiting on a job, and its key
SETTLED = 40  # what a job's row grows by once answered (state, status, attempts)
PACKING = 1.12  # the pages of kept answers over their characters (answers of 0.2 to 2 KB)
EMPTY_STORE = 77_824  # a store's file before any run: its tables' and indexes' first pages


@dataclass(frozen=True, slots=True)
class Disk:
    """The bytes a run (or a pass) will add to its store, by share."""

    fields: int  # the input rows' fields (kept once for a pass)
    rows: int  # the rest of the rows' share: rows, new lookups' jobs, their links to runs
    fetched: int  # lookups to fetch
    answer_chars: float | None  # what one keeps, on average (None: unknown)
    answers_from: str  # where that comes from: "the store", "the API's typical answer"
    base: int = 0  # the store's own file, when the run makes it

    @property
    def answers(self) -> int | None:
        """The bytes the answers of the lookups to fetch take; None: unknown."""
        if self.fetched == 0:
            return 0
        if self.answer_chars is None:
            return None
        return round(self.fetched * (SETTLED + self.answer_chars * PACKING))

    @property
    def total(self) -> int | None:
        answers = self.answers
        return None if answers is None else self.base + self.fields + self.rows + answers

    def as_json(self) -> dict[str, Any]:
        return {
            "bytes": self.total,
            "rows_bytes": self.base + self.fields + self.rows,
            "answers_bytes": self.answers,
            "answers_from": self.answers_from if self.answer_chars is not None else None,
        }

    def describe(self) -> str:
        rows = f"the rows {_size(self.base + self.fields + self.rows)}"
        answers, total = self.answers, self.total
        if answers is None or total is None:
            return (
                f"disk: {rows}, and the answers of {self.fetched:,} lookups an unknown amount"
                " (the store holds none of their kind, and the API declares no typical size)"
            )
        if not self.fetched:
            return f"disk: about {_size(total)} ({rows}; no answer to fetch)"
        each = self.answers_from
        return f"disk: about {_size(total)} ({rows}, the answers {_size(answers)}, from {each})"


def rows_share(*, new_rows: int, new_jobs: int, job_chars: int, links: int) -> int:
    """The bytes of ``new_rows`` rows of a run (their fields aside), ``new_jobs`` jobs of
    ``job_chars`` of text (fingerprint, API, origin, endpoint, parameters) in all, and
    ``links`` links of jobs to the run."""
    return new_rows * ROW + new_jobs * JOB + job_chars + links * LINK


def sum_disks(disks: Sequence[Disk]) -> Disk:
    """The disk of a pass's runs together: the rows' fields kept once (the largest share of
    them: one run keeps what no run of the pass holds yet), the rest added."""
    fetched = sum(d.fetched for d in disks)
    known = all(d.answer_chars is not None or not d.fetched for d in disks)
    chars = sum((d.answer_chars or 0) * d.fetched for d in disks)
    return Disk(
        fields=max(d.fields for d in disks),
        rows=sum(d.rows for d in disks),
        fetched=fetched,
        answer_chars=chars / fetched if known and fetched else None if not known else 0.0,
        answers_from=" and ".join(dict.fromkeys(d.answers_from for d in disks if d.fetched)),
        base=max(d.base for d in disks),
    )


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,} bytes"
