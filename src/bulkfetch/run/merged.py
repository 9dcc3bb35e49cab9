"""Several runs over one input written as one output: a row per input row, each run's
columns prefixed by its name (``income.totalMeanAnnualIncome``) with its own status and
error, and the row's status ``ok`` only when every run answered it.

Each run is an ordinary run (its own jobs, cached and deduplicated as any): a row's part
of each is read from the store in input order and the parts put side by side.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.lowlevel

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.records import OutputRecord, Rendered
from bulkfetch.io.sinks import OutputFormat, open_sink
from bulkfetch.io.sources import Row, each_row
from bulkfetch.jobs import RowStatus
from bulkfetch.run.output import render_kept
from bulkfetch.store import OutputRow, Store

__all__ = ["Part", "write_merged"]

# A row's status from its parts' (a location that cannot be valid aside): the first of
# these any part has, else ok.
_WORST_FIRST = (
    RowStatus.FAILED,
    RowStatus.PENDING,
    RowStatus.INVALID,
    RowStatus.NOT_FOUND,
)
_ANSWERED = frozenset({RowStatus.OK, RowStatus.NOT_FOUND})


@dataclass(frozen=True, slots=True)
class Part:
    """One run of the several: the name its columns carry, and how its answers are written."""

    name: str
    run_id: int
    answers: Answers


class _Merged:
    """The parts' answers side by side, as one :class:`~bulkfetch.adapter.Answers` writes
    them: a row's body is the JSON of each part's status, error and kept body."""

    fixed_columns: tuple[str, ...] = ()
    expands_rows = False

    def __init__(self, parts: Sequence[Part]) -> None:
        self._parts = parts

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        line: dict[str, Any] = {}
        for part, (status, error, answer) in zip(self._parts, json.loads(body), strict=True):
            line[f"{part.name}.status"] = status
            line[f"{part.name}.error"] = error
            if answer is not None:
                (values,) = part.answers.output_rows(answer)[:1] or [{}]
                line.update({f"{part.name}.{k}": v for k, v in values.items()})
        return [line]

    def output_document(self, body: str) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for part, (status, error, answer) in zip(self._parts, json.loads(body), strict=True):
            each: dict[str, Any] = {"status": status}
            if error is not None:
                each["error"] = error
            if answer is not None:
                each.update(part.answers.output_document(answer))
            document[part.name] = each
        return document


async def write_merged(
    store: Store,
    parts: Sequence[Part],
    out: Path,
    output_format: OutputFormat,
    *,
    rest: Iterator[Row] | AsyncIterator[Row] | None = None,
    rest_from: int = 0,
    raw_values: bool = False,
) -> dict[str, int]:
    """Write the parts' rows side by side, in input order (and the rows of ``rest`` from
    ``rest_from`` on, pending: the input's rows the first part had not enqueued when it
    stopped); the count of each row status. A row a part's kept answer cannot be written
    for is failed. ``raw_values``: CSV and TSV cells from the API as they are."""
    details = [await store.runs.detail(part.run_id) for part in parts]
    header = details[0].header if details[0] is not None else None
    if header is None:
        raise UsageError(f"run {parts[0].run_id} keeps no rows to write")
    stopped = next((d.stop_reason for d in details if d is not None and d.stop_reason), None)
    not_yet = "not fetched yet" + (f" (the run stopped: {stopped})" if stopped else "")
    columns: list[str] = []
    for part in parts:
        fixed = part.answers.fixed_columns
        kept = [c for c in await store.results.columns(part.run_id) if c not in fixed]
        columns += [f"{part.name}.{c}" for c in ("status", "error", *kept, *fixed)]
    merged = _Merged(parts)
    types = None
    if output_format == "parquet":
        from bulkfetch.io.parquet import ColumnTypes

        seen = ColumnTypes(merged)
        async for _row_no, _fields, body, _status, _error in _rows(store, parts, not_yet):
            seen.add(body)
        types = seen.types
    statuses: dict[str, int] = {}
    with open_sink(
        out, output_format, header, columns, row_column=False, types=types, raw_values=raw_values
    ) as sink:
        async for row_no, fields, body, status, error in _rows(store, parts, not_yet):
            answer = render_kept(sink, merged, body)
            if isinstance(answer, str):
                status, error, answer = RowStatus.FAILED, answer, Rendered()
            statuses[status.value] = statuses.get(status.value, 0) + 1
            sink.write(OutputRecord(row_no, fields, status.value, answer, error))
            if row_no % 5000 == 0:
                await anyio.lowlevel.checkpoint()
        if rest is not None:
            async for row_no, fields in each_row(rest):
                if row_no >= rest_from:
                    statuses[RowStatus.PENDING.value] = statuses.get(RowStatus.PENDING.value, 0) + 1
                    pending = json.dumps([[RowStatus.PENDING.value, not_yet, None]] * len(parts))
                    answer = sink.render(merged, pending)
                    sink.write(
                        OutputRecord(row_no, fields, RowStatus.PENDING.value, answer, not_yet)
                    )
    return statuses


async def _rows(
    store: Store, parts: Sequence[Part], not_yet: str
) -> AsyncIterator[tuple[int, list[str], str, RowStatus, str | None]]:
    """Each input row: its number, fields, merged body, status and error (the parts' errors,
    each named). A part that holds fewer rows (stopped while enqueueing) has the rest
    pending."""
    streams = [store.results.rows(part.run_id) for part in parts]
    first = streams[0]
    others = [_Ahead(stream) for stream in streams[1:]]
    async for row in first:
        own = [row, *[await other.at(row.row_no) for other in others]]
        each = [_part_of(found, not_yet) for found in own]
        states = [state for state, _error, _body in each]
        status = next((s for s in _WORST_FIRST if s in states), RowStatus.OK)
        if row.state is None:  # the location cannot be valid: every part alike, said once
            status, errors = RowStatus.INVALID, [row.error or ""]
        else:
            errors = [f"{p.name}: {e}" for p, (_s, e, _b) in zip(parts, each, strict=True) if e]
        body = json.dumps([[s.value, e, b] for s, e, b in each])
        yield row.row_no, row.fields or [], body, status, "; ".join(errors) or None


def _part_of(row: OutputRow | None, not_yet: str) -> tuple[RowStatus, str | None, str | None]:
    """A part's status, error and kept body for a row."""
    if row is None:
        return RowStatus.PENDING, not_yet, None
    status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
    body = row.body if status in _ANSWERED and row.job_id is not None else None
    error = None if status is RowStatus.OK else row.error
    if status is RowStatus.PENDING:
        error = not_yet
    return status, error, body


class _Ahead:
    """A part's rows, read as far as asked: the row of a number, or None if it has none."""

    def __init__(self, rows: AsyncIterator[OutputRow]) -> None:
        self._rows = rows
        self._next: OutputRow | None = None
        self._done = False

    async def at(self, row_no: int) -> OutputRow | None:
        while not self._done and (self._next is None or self._next.row_no < row_no):
            self._next = await anext(self._rows, None)
            self._done = self._next is None
        if self._next is not None and self._next.row_no == row_no:
            return self._next
        return None
