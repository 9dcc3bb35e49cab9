"""A run's output, written from the store alone: every row in input order, as it was
enqueued, with its status, the reason when it is not ok, and its answer as the sink writes
it (a kept answer the sink cannot write makes its row failed, not the output)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio.lowlevel

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.records import OutputRecord, Rendered
from bulkfetch.io.sinks import OutputFormat, Sink, open_sink
from bulkfetch.io.sources import Row, each_row
from bulkfetch.jobs import RowStatus
from bulkfetch.store import Store

__all__ = ["OutputFormat", "render_kept", "write_output"]


async def write_output(
    store: Store,
    run_id: int,
    answers: Answers,
    out: Path,
    output_format: OutputFormat,
    *,
    rest: Iterator[Row] | AsyncIterator[Row] | None = None,
    rest_from: int = 0,
    raw_values: bool = False,
) -> dict[str, int]:
    """Write every row in input order from the store (and the rows of ``rest`` from
    ``rest_from`` on: the input's rows the run had not enqueued when it stopped, all
    pending); the count of each status. ``raw_values``: CSV and TSV cells from the API as
    they are (see :mod:`bulkfetch.io.cells`)."""
    detail = await store.runs.detail(run_id)
    if detail is None:
        raise UsageError(f"the store holds no run {run_id} ('bulkfetch status' lists them)")
    if detail.header is None:
        raise UsageError(
            f"run {run_id} was made by an older bulkfetch, which kept its rows in the input"
            " file, not the store: run its command again to write its output (lookups already"
            " answered cost no call)"
        )
    not_yet = "not fetched yet" + (
        f" (the run stopped: {detail.stop_reason})" if detail.stop_reason else ""
    )
    statuses: dict[str, int] = {}
    columns = [c for c in await store.results.columns(run_id) if c not in answers.fixed_columns]
    types = None
    if output_format == "parquet":  # typed columns: what every answer's values are
        from bulkfetch.io.parquet import ColumnTypes

        seen = ColumnTypes(answers)
        async for body in store.results.bodies(run_id):
            seen.add(body)
        types = seen.types
    with open_sink(
        out,
        output_format,
        detail.header,
        [*columns, *answers.fixed_columns],
        row_column=answers.expands_rows,
        types=types,
        raw_values=raw_values,
    ) as sink:
        render = _Renderer(answers, sink)
        async for row in store.results.rows(run_id):
            status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
            fields = row.fields if row.fields is not None else []
            answer = Rendered()
            error = None if status is RowStatus.OK else row.error
            if status is RowStatus.PENDING:
                error = not_yet
            if row.body is not None and status in _ANSWERED and row.job_id is not None:
                rendered = render(row.job_id, row.body)
                if isinstance(rendered, str):
                    status, error = RowStatus.FAILED, rendered
                else:
                    answer = rendered
            _count(statuses, status)
            sink.write(OutputRecord(row.row_no, fields, status.value, answer, error))
            if row.row_no % 5000 == 0:
                await anyio.lowlevel.checkpoint()
        if rest is not None:
            async for row_no, fields in each_row(rest):
                if row_no >= rest_from:  # not enqueued: the run stopped while reading the input
                    sink.write(OutputRecord(row_no, fields, RowStatus.PENDING.value, error=not_yet))
                    _count(statuses, RowStatus.PENDING)
    return statuses


_ANSWERED = frozenset({RowStatus.OK, RowStatus.NOT_FOUND})  # statuses a body may come with


def render_kept(sink: Sink, answers: Answers, body: str) -> Rendered | str:
    """A kept body as ``sink`` writes it; or, when the API's plugin cannot render it (a body
    of another shape than it reads), why its row is written failed. The exception's class
    only: its text may quote the body."""
    try:
        return sink.render(answers, body)
    except Exception as exc:  # whatever the plugin raises: the output goes on without it
        return (
            f"the kept answer cannot be written ({type(exc).__name__}): --refresh fetches it again"
        )


class _Renderer:
    """Bodies as the sink writes them, remembered for the lookups seen last: repeated
    lookups are common in big files, and rendering is most of what writing costs."""

    SIZE = 4096

    def __init__(self, answers: Answers, sink: Sink) -> None:
        self._answers = answers
        self._sink = sink
        self._seen: OrderedDict[int, Rendered | str] = OrderedDict()

    def __call__(self, job_id: int, body: str) -> Rendered | str:
        found = self._seen.get(job_id)
        if found is None:
            found = self._seen[job_id] = render_kept(self._sink, self._answers, body)
            if len(self._seen) > self.SIZE:
                self._seen.popitem(last=False)
        return found


def _count(statuses: dict[str, int], status: RowStatus) -> None:
    statuses[status.value] = statuses.get(status.value, 0) + 1
