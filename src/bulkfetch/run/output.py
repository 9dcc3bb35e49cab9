"""A pass's output, written from the store alone: a row per input row, in input order, as it
was enqueued, with its status, the reason when it is not ok, and its answers as the sink
writes them. One writer for a run of one dataset and for several runs over one input
(CrystalRoof's datasets side by side): each run is a :class:`Part`; one part's columns
are its own (``residents.Total``), several parts' are prefixed by their names
(``income.status``, ``income.error``, ``income.totalMeanAnnualIncome``), and a row is
``ok`` only when every part answered it. A kept answer the sink cannot write makes its
row failed, not the output."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.lowlevel

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.records import OutputRecord, Rendered
from bulkfetch.io.sinks import OutputFormat, Sink, open_sink
from bulkfetch.io.sources import Row, each_row
from bulkfetch.jobs import RowStatus
from bulkfetch.store import OutputRow, Store

__all__ = ["OutputFormat", "Part", "write_output"]

# A row's status from its parts' (a value that cannot be valid aside): the first of these
# any part has, else ok.
_WORST_FIRST = (RowStatus.FAILED, RowStatus.PENDING, RowStatus.INVALID, RowStatus.NOT_FOUND)
_ANSWERED = frozenset({RowStatus.OK, RowStatus.NOT_FOUND})  # statuses a body may come with


@dataclass(frozen=True, slots=True)
class Part:
    """One run of a pass: the name its columns carry beside others', and its writer."""

    name: str
    run_id: int
    answers: Answers


@dataclass(frozen=True, slots=True)
class _Said:
    """What one part says of a row: its status, why, and its kept answer (and job)."""

    status: RowStatus
    error: str | None
    body: str | None = None
    job_id: int | None = None


async def write_output(
    store: Store,
    parts: Sequence[Part],
    out: Path,
    output_format: OutputFormat,
    *,
    rest: Iterator[Row] | AsyncIterator[Row] | None = None,
    rest_from: int = 0,
    raw_values: bool = False,
) -> dict[str, int]:
    """Write the parts' rows, in input order (and the rows of ``rest`` from ``rest_from``
    on: the input's rows the first part had not enqueued when it stopped, all pending); the
    count of each row status. ``raw_values``: CSV and TSV cells from the API as they are
    (see :mod:`bulkfetch.io.cells`)."""
    details = [await store.runs.detail(part.run_id) for part in parts]
    first = details[0]
    if first is None:
        raise UsageError(
            f"the store holds no run {parts[0].run_id} ('bulkfetch status' lists them)"
        )
    if first.header is None:
        raise UsageError(
            f"run {parts[0].run_id} was made by an older bulkfetch, which kept its rows in the"
            " input file, not the store: run its command again to write its output (lookups"
            " already answered cost no call)"
        )
    stopped = next((d.stop_reason for d in details if d is not None and d.stop_reason), None)
    not_yet = "not fetched yet" + (f" (the run stopped: {stopped})" if stopped else "")
    side = _Side(parts)
    columns = await side.columns(store)
    types = await side.types(store) if output_format == "parquet" else None
    statuses: dict[str, int] = {}
    with open_sink(
        out,
        output_format,
        first.header,
        columns,
        row_column=side.expands_rows,
        types=types,
        raw_values=raw_values,
    ) as sink:
        render = _Renderer(side, sink)
        async for row_no, fields, said, note in _rows(store, parts, not_yet):
            status, error = side.status(said, note)
            answer = render(said)
            if isinstance(answer, str):
                status, error, answer = RowStatus.FAILED, answer, Rendered()
            statuses[status.value] = statuses.get(status.value, 0) + 1
            sink.write(OutputRecord(row_no, fields, status.value, answer, error))
            if row_no % 5000 == 0:
                await anyio.lowlevel.checkpoint()
        if rest is not None:
            rendered = render([_Said(RowStatus.PENDING, not_yet)] * len(parts))
            blank = rendered if isinstance(rendered, Rendered) else Rendered()
            async for row_no, fields in each_row(rest):
                if row_no >= rest_from:  # not enqueued: the run stopped while reading the input
                    statuses[RowStatus.PENDING.value] = statuses.get(RowStatus.PENDING.value, 0) + 1
                    sink.write(
                        OutputRecord(row_no, fields, RowStatus.PENDING.value, blank, not_yet)
                    )
    return statuses


def _render_kept(sink: Sink, answers: Answers, body: str) -> Rendered | str:
    """A kept body as ``sink`` writes it; or, when the API's plugin cannot render it (a body
    of another shape than it reads), why its row is written failed. The exception's class
    only: its text may quote the body."""
    try:
        return sink.render(answers, body)
    except Exception as exc:  # whatever the plugin raises: the output goes on without it
        return (
            f"the kept answer cannot be written ({type(exc).__name__}): --refresh fetches it again"
        )


class _Side:
    """The parts side by side, as one :class:`~bulkfetch.adapter.Answers` writes them for
    a row (:meth:`saying` what its parts said): one part's lines as its own writer makes
    them, several parts' first lines merged under their names."""

    fixed_columns: tuple[str, ...] = ()

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts = parts
        self.single = len(parts) == 1
        self.expands_rows = self.single and parts[0].answers.expands_rows
        self._said: Sequence[_Said] = ()

    def saying(self, said: Sequence[_Said]) -> _Side:
        self._said = said
        return self

    async def columns(self, store: Store) -> list[str]:
        """The output's value columns: what the parts' answers fill, then their fixed ones."""
        names: list[str] = []
        for part in self.parts:
            fixed = part.answers.fixed_columns
            kept = [c for c in await store.results.columns(part.run_id) if c not in fixed]
            own = [*kept, *fixed] if self.single else ["status", "error", *kept, *fixed]
            names += own if self.single else [f"{part.name}.{c}" for c in own]
        return names

    async def types(self, store: Store) -> dict[str, str]:
        """Each value column's Parquet type, from every kept answer of the parts."""
        from bulkfetch.io.parquet import ColumnTypes

        types: dict[str, str] = {}
        for part in self.parts:
            seen = ColumnTypes(part.answers)
            async for body in store.results.bodies(part.run_id):
                seen.add(body)
            prefix = "" if self.single else f"{part.name}."
            types.update({f"{prefix}{column}": kind for column, kind in seen.types.items()})
        return types

    def status(self, said: Sequence[_Said], note: str | None) -> tuple[RowStatus, str | None]:
        """A row's status and why: its part's, or the worst of its parts' with each one's
        reason named (a value that cannot be valid is said once)."""
        if self.single:
            return said[0].status, said[0].error
        if note is not None:
            return RowStatus.INVALID, note
        statuses = [each.status for each in said]
        status = next((s for s in _WORST_FIRST if s in statuses), RowStatus.OK)
        errors = [f"{p.name}: {e.error}" for p, e in zip(self.parts, said, strict=True) if e.error]
        return status, "; ".join(errors) or None

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        if self.single:
            kept = self._said[0].body
            return self.parts[0].answers.output_rows(kept) if kept is not None else []
        line: dict[str, Any] = {}
        for part, each in zip(self.parts, self._said, strict=True):
            line[f"{part.name}.status"] = each.status.value
            line[f"{part.name}.error"] = each.error
            if each.body is not None:
                (values,) = part.answers.output_rows(each.body)[:1] or [{}]
                line.update({f"{part.name}.{k}": v for k, v in values.items()})
        return [line]

    def output_document(self, body: str) -> Mapping[str, Any]:
        if self.single:
            kept = self._said[0].body
            return self.parts[0].answers.output_document(kept) if kept is not None else {}
        document: dict[str, Any] = {}
        for part, each in zip(self.parts, self._said, strict=True):
            one: dict[str, Any] = {"status": each.status.value}
            if each.error is not None:
                one["error"] = each.error
            if each.body is not None:
                one.update(part.answers.output_document(each.body))
            document[part.name] = one
        return document


class _Renderer:
    """Rows' answers as the sink writes them, remembered for the lookups seen last: repeated
    lookups are common in big files, and rendering is most of what writing costs."""

    SIZE = 4096

    def __init__(self, side: _Side, sink: Sink) -> None:
        self._side = side
        self._sink = sink
        self._seen: OrderedDict[tuple[int | None, ...], Rendered | str] = OrderedDict()

    def __call__(self, said: Sequence[_Said]) -> Rendered | str:
        if self._side.single and said[0].body is None:
            return Rendered()  # nothing kept: a blank answer
        jobs = tuple(each.job_id for each in said)
        found = self._seen.get(jobs) if None not in jobs else None
        if found is None:
            found = _render_kept(self._sink, self._side.saying(said), "")
            if None not in jobs:
                self._seen[jobs] = found
                if len(self._seen) > self.SIZE:
                    self._seen.popitem(last=False)
        return found


async def _rows(
    store: Store, parts: Sequence[Part], not_yet: str
) -> AsyncIterator[tuple[int, list[str], list[_Said], str | None]]:
    """Each input row: its number, its fields, what each part says of it, and why it can
    be no lookup at all (None if it can). A part that holds fewer rows (it stopped while
    enqueueing) has the rest pending."""
    first, *others = [store.results.rows(part.run_id) for part in parts]
    ahead = [_Ahead(stream) for stream in others]
    async for row in first:
        own = [row, *[await other.at(row.row_no) for other in ahead]]
        said = [_part_of(found, not_yet) for found in own]
        note = (row.error or "") if row.state is None else None
        yield row.row_no, row.fields or [], said, note


def _part_of(row: OutputRow | None, not_yet: str) -> _Said:
    """What a part says of a row."""
    if row is None:
        return _Said(RowStatus.PENDING, not_yet)
    status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
    error = (
        not_yet if status is RowStatus.PENDING else None if status is RowStatus.OK else row.error
    )
    if row.body is not None and status in _ANSWERED and row.job_id is not None:
        return _Said(status, error, row.body, row.job_id)
    return _Said(status, error)


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
