"""A pass's output, written from the store alone: a row per input row, in input order, as it
was enqueued, with the value it looked up (as normalised), its status, the reason when it is
not ok, and its answers as the sink writes them. One writer for a run of one dataset and for
several runs over one input (CrystalRoof's datasets side by side): each run is a
:class:`Part`, and one rule names their columns, alone or side by side: a part's value
columns carry its name (``occupation.residents.Total``; none for an API whose writer names
no parts), and side by side each part has its own status and error too
(``income.status``, ``income.error``), a row ``ok`` only when every part answered it. A
part's columns are those its writer knows before any answer, then those its answers showed:
the same header whether the run stopped early or finished. A kept answer the sink cannot
write makes its row failed, not the output."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.names import ColumnNaming, named
from bulkfetch.io.records import NOTHING, RecordValues, Rendered, output_names
from bulkfetch.io.sinks import OutputFormat, Sink, open_sink, write_many
from bulkfetch.io.sources import Row, each_row
from bulkfetch.jobs import JobState, RowStatus
from bulkfetch.run.parts import Part, named_parts, template_of
from bulkfetch.store import Store
from bulkfetch.store.records import StoredRow
from bulkfetch.store.results import Results

__all__ = ["LOOKUP", "ColumnNaming", "OutputFormat", "Part", "write_output"]

LOOKUP = "lookup"  # the column of the value a row looked up, as normalised
# Names the columns bulkfetch adds have, beside which an answer's column is renamed.
_ADDED = ("row", "status", "error", LOOKUP)

# A row's status from its parts' (a value that cannot be valid aside): the first of these
# any part has, else ok.
_WORST_FIRST = (RowStatus.FAILED, RowStatus.PENDING, RowStatus.INVALID, RowStatus.NOT_FOUND)
_ANSWERED = frozenset({RowStatus.OK, RowStatus.NOT_FOUND})  # statuses a body may come with
_STATES: dict[str | None, JobState] = {s.value: s for s in JobState}  # a stored state, read
# A stored job state as its row's status (no job, or a state not known: invalid).
_STATUS: dict[str | None, str] = {s.value: RowStatus.of(s).value for s in JobState}
_OK, _PENDING, _FAILED = RowStatus.OK.value, RowStatus.PENDING.value, RowStatus.FAILED.value
_KEPT = frozenset(status.value for status in _ANSWERED)
_CHUNK = 5000  # rows of the input's rest written at once
_status_of = itemgetter(2)  # a record's status


class _Said(NamedTuple):
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
    naming: ColumnNaming = "as-is",
) -> dict[str, int]:
    """Write the parts' rows, in input order (and the rows of ``rest`` from ``rest_from``
    on: the input's rows the first part had not enqueued when it stopped, all pending); the
    count of each row status. ``raw_values``: CSV and TSV cells from the API as they are
    (see :mod:`bulkfetch.io.cells`); ``naming``: the added columns' names as they are, or
    in snake case (see :mod:`bulkfetch.io.names`). One ordered scan of each part's rows, a
    page at a time, written a page at a time."""
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
    templates = [template_of(detail) for detail in details]
    side = _Side(named_parts(parts, templates))
    columns, titles = await side.columns(store, templates)
    types = await side.types(store) if output_format == "parquet" else None
    header = [*first.header, *output_names(first.header, [LOOKUP])]
    statuses: Counter[str] = Counter()
    looked_up = await store.results.looked_up(parts[0].run_id)
    with open_sink(
        out,
        output_format,
        header,
        columns,
        titles=named(titles, naming, taken=_ADDED),
        looked_up=True,
        row_column=side.expands_rows,
        types=types,
        raw_values=raw_values,
    ) as sink:
        render = _Renderer(side, sink)
        if side.single:
            async for page in store.results.scan(parts[0].run_id, looked_up):
                write_many(sink, _single(page, not_yet, render, statuses))
        else:
            ahead = [_Ahead(store.results.scan(part.run_id)) for part in parts[1:]]
            async for page in store.results.scan(parts[0].run_id, looked_up):
                for other in ahead:  # the other parts' rows as far as the page goes
                    await other.read_to(page[-1][0])
                write_many(sink, _merged(page, ahead, not_yet, render, statuses))
        if rest is not None:
            rendered = render([_Said(RowStatus.PENDING, not_yet)] * len(parts))
            blank = rendered if isinstance(rendered, Rendered) else NOTHING
            chunk: list[RecordValues] = []
            async for row_no, fields in each_row(rest):
                if row_no >= rest_from:  # not enqueued: the run stopped while reading the input
                    chunk.append((row_no, [*fields, ""], _PENDING, blank, not_yet))
                    if len(chunk) >= _CHUNK:
                        statuses[_PENDING] += len(chunk)
                        write_many(sink, chunk)
                        chunk = []
            statuses[_PENDING] += len(chunk)
            write_many(sink, chunk)
    return {status: count for status, count in statuses.items() if count}


def _single(
    page: list[StoredRow], not_yet: str, render: _Renderer, statuses: Counter[str]
) -> list[RecordValues]:
    """One part's rows as its sink writes them, counted: each as its own lookup says, with
    no object made for it but its record. A lookup's answer is rendered once for the rows
    of it seen last (see :class:`_Renderer`)."""
    seen = render.seen
    sink, answers = render.sink, render.side.parts[0].answers
    records: list[RecordValues] = []
    add = records.append
    for (row_no, job_id, state, body, why, _, lookup), fields in zip(
        page, Results.page_fields(page), strict=True
    ):
        fields.append(lookup or "")
        status = _STATUS.get(state, "invalid")
        error = None if status == _OK else not_yet if status == _PENDING else why
        answer = NOTHING
        if body is not None and job_id is not None and status in _KEPT:
            kept = seen.get(job_id)
            if kept is None:
                kept = _render_kept(sink, answers, body)
                if len(seen) >= _Renderer.SIZE:
                    seen.clear()
                seen[job_id] = kept
            if isinstance(kept, str):
                status, error = _FAILED, kept
            else:
                answer = kept
        add((row_no, fields, status, answer, error))
    statuses.update(map(_status_of, records))
    return records


def _merged(
    page: list[StoredRow],
    ahead: Sequence[_Ahead],
    not_yet: str,
    render: _Renderer,
    statuses: Counter[str],
) -> Iterator[RecordValues]:
    """Several parts' rows side by side, counted: a page of the first part's, the others'
    read as far (see :meth:`_Ahead.read_to`). A part that holds fewer rows (it stopped
    while enqueueing) has the rest pending."""
    side = render.side
    for row in page:
        row_no, _, state, _, why, fields, lookup = row
        said = [_part_of(found, not_yet) for found in (row, *[o.at(row_no) for o in ahead])]
        note = (why or "") if _STATES.get(state) is None else None
        status, error = side.status(said, note)
        answer = render(said)
        if isinstance(answer, str):
            status, error, answer = RowStatus.FAILED, answer, NOTHING
        statuses[status.value] += 1
        yield row_no, [*Results.fields(fields), lookup or ""], status.value, answer, error


def _render_kept(sink: Sink, answers: Answers, body: str) -> Rendered | str:
    """A kept body as ``sink`` writes it; or, when the API's plugin cannot render it (a body
    of another shape than it reads), why its row is written failed. The exception's class
    only: its text may quote the body."""
    try:
        return sink.render(answers, body)
    except Exception as exc:  # whatever the plugin raises: the output goes on without it
        return _unwritable(exc)


def _unwritable(exc: Exception) -> str:
    """Why a row whose kept answer the plugin cannot render is written failed."""
    return f"the kept answer cannot be written ({type(exc).__name__}): --refresh fetches it again"


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

    async def columns(
        self, store: Store, templates: Sequence[Mapping[str, str]]
    ) -> tuple[list[str], list[str]]:
        """The output's value columns (what the parts' writers know before any answer, then
        what their answers fill, then their fixed ones), and their names as written."""
        columns: list[str] = []
        titles: list[str] = []
        for part, template in zip(self.parts, templates, strict=True):
            fixed = part.answers.fixed_columns
            known = getattr(part.answers, "known_columns", None)
            filled = [
                *(known(template) if known is not None else ()),
                *(await store.results.columns(part.run_id)),
            ]
            kept = [c for c in dict.fromkeys(filled) if c not in fixed]
            own = [*kept, *fixed] if self.single else ["status", "error", *kept, *fixed]
            named = [f"{part.name}.{c}" if part.name else c for c in own]
            columns += own if self.single else named
            titles += named
        return columns, titles

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
            document[part.name or ""] = one
        return document


class _Renderer:
    """Rows' answers as the sink writes them, remembered for the lookups seen lately (up to
    SIZE, then forgotten at once): repeated lookups are common in big files, and rendering
    is most of what writing costs."""

    SIZE = 4096

    def __init__(self, side: _Side, sink: Sink) -> None:
        self.side = side
        self.sink = sink
        self.seen: dict[Any, Rendered | str] = {}  # by job id, or the parts' jobs

    def __call__(self, said: Sequence[_Said]) -> Rendered | str:
        if self.side.single and said[0].body is None:
            return NOTHING  # nothing kept: a blank answer
        jobs = tuple(each.job_id for each in said)
        found = self.seen.get(jobs) if None not in jobs else None
        if found is None:
            found = _render_kept(self.sink, self.side.saying(said), "")
            if None not in jobs:
                self._remember(jobs, found)
        return found

    def _remember(self, key: Any, found: Rendered | str) -> None:
        if len(self.seen) >= self.SIZE:
            self.seen.clear()
        self.seen[key] = found


def _part_of(row: StoredRow | None, not_yet: str) -> _Said:
    """What a part says of a row."""
    if row is None:
        return _Said(RowStatus.PENDING, not_yet)
    _, job_id, stored, body, why, _, _ = row
    state = _STATES.get(stored)
    status = RowStatus.INVALID if state is None else RowStatus.of(state)
    error = not_yet if status is RowStatus.PENDING else None if status is RowStatus.OK else why
    if body is not None and status in _ANSWERED and job_id is not None:
        return _Said(status, error, body, job_id)
    return _Said(status, error)


class _Ahead:
    """A part's rows, read a page at a time as far as asked: the row of a number, or None
    if it has none."""

    def __init__(self, pages: AsyncIterator[list[StoredRow]]) -> None:
        self._pages = pages
        self._rows: list[StoredRow] = []
        self._at = 0  # the first of them not behind the rows asked for
        self._done = False

    async def read_to(self, row_no: int) -> None:
        """Read on until a row at or after ``row_no`` is held, or the last is."""
        del self._rows[: self._at]
        self._at = 0
        while not self._done and (not self._rows or self._rows[-1][0] < row_no):
            page = await anext(self._pages, None)
            self._done = page is None
            self._rows += page or []

    def at(self, row_no: int) -> StoredRow | None:
        """The row numbered ``row_no``, if it has one; rows are asked for in order, up to
        where :meth:`read_to` read."""
        rows, at = self._rows, self._at
        while at < len(rows) and rows[at][0] < row_no:
            at += 1
        self._at = at
        return rows[at] if at < len(rows) and rows[at][0] == row_no else None
