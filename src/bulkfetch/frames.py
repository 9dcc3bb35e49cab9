"""DataFrames in, DataFrames out: ``enrich_frame``, a column of a frame through
``fetch_many``, the answers beside it.

::

    async with CrystalRoof(key) as api:
        enriched = await enrich_frame(api.occupation, df, column="postcode", run="customers")

The frame comes back as a new frame of its kind (pandas, or polars when installed; neither
is needed by bulkfetch itself): its own columns as they were, with the same index and row
order, then ``status``, ``error`` and the answers' columns, named as the command line's
CSV names them (``occupation.residents.Total``, ``occupation.data_date``), a name the frame
has already getting ``_`` after it. The answers' cells are the client's own output lines
(its ``output_rows``, the seam every sink writes from), read from the same run
``fetch_many(call, ...)`` would make: the same store, dedupe, pacing, stops and resume by
``run=``, and a run begun one way carries on the other.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from bulkfetch.adapter import Client, Lookup, Operation, operation_of
from bulkfetch.errors import MissingColumnError, UsageError
from bulkfetch.io.records import added_columns, output_names
from bulkfetch.jobs import Outcome
from bulkfetch.run.report import Progress
from bulkfetch.run.stream import Item, fetch_many

__all__ = ["enrich_frame"]

Lines = Sequence[Mapping[str, Any]]  # a kept answer as the client writes it: its lines


async def enrich_frame(
    call: Callable[..., Awaitable[Any]],
    frame: Any,
    *,
    column: str,
    progress: bool | Progress | None = None,
    **options: Any,
) -> Any:
    """``frame`` with the answers of ``call`` (a client's bound method, as ``fetch_many``
    takes it: ``api.occupation``, ``api.dataset`` with ``dataset=...``, ``api.by_soc``)
    for each value of its column ``column``, as a new frame of the same kind: the frame's
    columns unchanged, its index and row order, then ``status`` (``ok``, ``not_found``,
    ``invalid``, ``failed``), ``error`` (why, when not ok) and the answers' columns.

    ``options``: ``fetch_many``'s (``db``, ``run``, ``rate``, ``max_calls``, ...) and the
    method's other arguments (``area_type="lsoa"``). A missing value (None, NaN, NA) is
    ``invalid``, ``empty location``, and costs no call. ``progress``: a bar (tqdm's, in a
    notebook or a terminal as ``tqdm.auto`` chooses); None, the default: a bar when running
    in a notebook with tqdm installed; or a :class:`~bulkfetch.run.report.Progress` of your
    own. A stop raises as ``fetch_many``'s does (``CapReachedError``,
    ``QuotaExhaustedError``...): what was fetched is stored, and the same ``run=`` carries
    on from there.
    """
    kind = _kind_of(frame)
    values = _column(frame, kind, column)
    rows = len(values)
    caller = _Caller(call)
    statuses: list[str | None] = [None] * rows
    errors: list[str | None] = [None] * rows
    answers: list[Lines] = [()] * rows
    bar = _progress(progress, rows)
    try:
        # An async generator (typed as an iterator): closed as it is left, so the calls in
        # flight land and are stored at once (an error, a cancelled cell).
        items = cast(
            AsyncGenerator[Item[Lines], None],
            fetch_many(caller.lines, values, progress=bar, **options),
        )
        async with contextlib.aclosing(items):
            async for item in items:
                statuses[item.index] = item.status.value
                errors[item.index] = item.error
                answers[item.index] = item.result or ()
        if isinstance(bar, _Bar):
            bar.finish(rows)
    finally:
        if isinstance(bar, _Bar):
            bar.close()
    operation = caller.made
    assert operation is not None  # fetch_many made it first
    columns, titles = _value_columns(operation, answers)
    header = [str(name) for name in frame.columns]
    names = output_names(header, added_columns(titles, row_column=False))
    added: dict[str, list[Any]] = {names[0]: statuses, names[1]: errors}
    for name, key in zip(names[2:], columns, strict=True):
        added[name] = [lines[0].get(key) if lines else None for lines in answers]
    return _joined(frame, kind, added)


# -- the call ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AsLines:
    """The operation of a call, its kept answers read back as its client's output lines (not
    as the call's typed result): the same client, template and lookups, so the same run."""

    of: Operation[Any]

    @property
    def client(self) -> Client:
        return self.of.client

    @property
    def template(self) -> Mapping[str, str]:
        return self.of.template

    def lookup(self, value: str) -> Lookup:
        return self.of.lookup(value)

    def result(self, body: str, lookup: Lookup) -> Lines:
        return self.of.client.output_rows(body)


class _Caller:
    """What ``fetch_many`` takes for ``call``: a bound method (:meth:`lines`) whose object
    makes its operation (see :func:`~bulkfetch.adapter.operation_of`) from ``call``'s."""

    def __init__(self, call: Callable[..., Awaitable[Any]]) -> None:
        self._call = call
        self.made: _AsLines | None = None

    def operation(self, method: str, query: Mapping[str, Any]) -> _AsLines:
        of = operation_of(self._call, dict(query))
        if of.client.expands_rows:
            raise UsageError(
                f"{getattr(self._call, '__name__', 'this call')}'s answers may be several"
                " lines a value, which one row of a frame cannot hold: use fetch_many and"
                " each item's result, or the command line's output"
            )
        self.made = _AsLines(of)
        return self.made

    async def lines(self, value: str) -> Lines:  # pragma: no cover - never called
        raise NotImplementedError("fetch_many runs the operation, not the method")


def _value_columns(operation: _AsLines, answers: Sequence[Lines]) -> tuple[list[str], list[str]]:
    """The answers' columns, as the command line's output has them: those the client knows
    before any answer, then those its answers filled, then its fixed ones; and their names
    as written (the run's part name first, where its client names one)."""
    client, template = operation.client, operation.template
    known = getattr(client, "known_columns", None)
    filled = dict.fromkeys(known(template) if known is not None else ())
    for lines in answers:
        if lines:
            filled.update(dict.fromkeys(lines[0]))
    fixed = tuple(client.fixed_columns)
    columns = [*(c for c in filled if c not in fixed), *fixed]
    part_names = getattr(client, "part_names", None)
    part = str(part_names([template])[0]) if part_names is not None else ""
    return columns, [f"{part}.{c}" if part else c for c in columns]


# -- frames -----------------------------------------------------------------------------


def _kind_of(frame: Any) -> str:
    """``pandas`` or ``polars``, by the frame's class (neither library is imported here)."""
    cls = type(frame)
    library = cls.__module__.split(".", 1)[0]
    if cls.__name__ == "DataFrame" and library in ("pandas", "polars"):
        return library
    if library == "polars" and cls.__name__ == "LazyFrame":
        raise TypeError("enrich_frame takes a polars DataFrame: collect() the LazyFrame first")
    raise TypeError(f"enrich_frame takes a pandas or polars DataFrame; got {cls.__name__}")


def _column(frame: Any, kind: str, column: str) -> Any:
    """The frame's column of values, as a Series of its library (fetch_many takes one)."""
    names = list(frame.columns)
    if column not in names:
        raise MissingColumnError(column, [str(name) for name in names])
    if names.count(column) > 1:
        raise UsageError(f"the frame has {names.count(column)} columns named {column!r}")
    return frame.get_column(column) if kind == "polars" else frame[column]


def _joined(frame: Any, kind: str, added: Mapping[str, list[Any]]) -> Any:
    """A new frame: ``frame``'s columns and index as they are, then ``added``."""
    if kind == "polars":
        import polars as pl

        more = pl.DataFrame(dict(added), strict=False, infer_schema_length=None)
        return pl.concat([frame, more], how="horizontal")
    import pandas as pd  # type: ignore[import-untyped]  # no stubs; called through Any

    more = pd.DataFrame(dict(added), index=frame.index)
    return pd.concat([frame, more], axis=1)


# -- progress ---------------------------------------------------------------------------


def _progress(progress: bool | Progress | None, rows: int) -> Progress | None:
    """What ``progress`` asks for: a bar, none, or the caller's own."""
    if progress is None:
        progress = _in_notebook() and importlib.util.find_spec("tqdm") is not None
    if progress is True:
        if importlib.util.find_spec("tqdm") is None:
            raise UsageError("progress=True draws its bar with tqdm: pip install tqdm")
        return _Bar(rows)
    if progress is False:
        return None
    return progress


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython is not imported to find out)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class _Bar:
    """A ``tqdm.auto`` bar of the frame's rows, moved by the run's progress: the rows that
    settled (answered, or failed for this run), whichever order they settle in."""

    def __init__(self, rows: int) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]  # the notebook extra

        self._bar = tqdm(total=rows, unit="row", desc="enrich_frame")

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        self.advance(settled_rows, ())

    def grow(self, total_rows: int) -> None:
        pass  # the frame's length is known: the bar's total from the start

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        self._bar.update(max(0, min(settled_rows, self._bar.total - self._bar.n)))

    def notice(self, text: str, *, warning: bool = False) -> None:
        self._bar.write(text)

    def finish(self, rows: int) -> None:
        """Every row is settled (those that needed no call too)."""
        self._bar.update(max(0, rows - self._bar.n))

    def close(self) -> None:
        self._bar.close()
