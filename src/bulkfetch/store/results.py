"""What a run's output is made of: its rows in input order with their answers, and the
columns those answers fill."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bulkfetch import speedups
from bulkfetch.jobs import JobState
from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.records import OutputRow, StoredRow
from bulkfetch.store.schema import jobs, results, run_jobs, run_rows, runs

__all__ = ["Results"]

_STATES = {state.value: state for state in JobState}


class Results:
    """The answers of a store's runs, as output reads them (``store.results``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def columns(self, run_id: int) -> list[str]:
        """Every flat column the run's results fill, in order of first appearance."""

        def statements(conn: Connection) -> list[str]:
            # Most runs' answers are of one shape or a few: their distinct lists are found
            # without sorting a million of them, and put in order only if there are several.
            found = [row[0] for row in execute(conn, signatures, {"run": run_id})]
            if len(found) < 2:
                return found
            return [row[0] for row in execute(conn, signatures_in_order, {"run": run_id})]

        ordered: dict[str, None] = {}
        for signature in await self._access.read(statements):
            ordered.update(dict.fromkeys(speedups.loads(signature)))
        return list(ordered)

    async def looked_up(self, run_id: int) -> str | None:
        """The parameter the run's lookups take their input's value in (as normalised):
        the one a lookup has that the run's options do not name; None if the run has no
        lookup yet, or not one such parameter."""

        def statements(conn: Connection) -> tuple[Any, Any] | None:
            return conn.execute(first_lookup, {"run": run_id}).first()

        found = await self._access.read(statements)
        if found is None or found[0] is None:
            return None
        shared = set(json.loads(found[1] or "{}"))
        own = [key for key in json.loads(found[0]) if key not in shared]
        return own[0] if len(own) == 1 else None

    async def scan(
        self, run_id: int, looked_up: str | None = None
    ) -> AsyncIterator[list[StoredRow]]:
        """Every row of the run, in input order, with its job's state and result (and its
        lookup's ``looked_up`` parameter), a page at a time, as plain tuples (see
        :data:`~bulkfetch.store.records.StoredRow`): the one ordered scan a run's output is
        written from, read by row number (the primary key) a page a statement, with no
        statement a row."""
        after = -1
        while True:

            def statements(conn: Connection, after: int = after) -> list[StoredRow]:
                params = {
                    "run": run_id,
                    "after": after,
                    "limit": SCAN_PAGE,
                    "key": looked_up or "",
                }
                found = execute(conn, scan_page, params)
                try:  # the driver's rows as they are: no result object made for each
                    return cast("list[StoredRow]", found.cursor.fetchall())
                finally:
                    found.close()

            page = await self._access.read(statements)
            if not page:
                return
            yield page
            after = page[-1][0]

    @staticmethod
    def fields(text: str | None) -> list[str]:
        """A stored row's fields (a scan's JSON text) as enqueued; none in an older run."""
        return [] if text is None else speedups.loads(text)

    @staticmethod
    def page_fields(page: Sequence[StoredRow]) -> list[list[str]]:
        """Each of a scan's rows' fields (see :meth:`fields`): their texts read as one."""
        texts = ["[]" if row[5] is None else row[5] for row in page]
        try:
            found: list[list[str]] = speedups.loads(f"[{','.join(texts)}]")
        except ValueError:
            found = []
        if len(found) == len(texts) and all(type(fields) is list for fields in found):
            return found
        return [speedups.loads(text) for text in texts]  # one is not a list: it says which

    async def rows(self, run_id: int) -> AsyncIterator[OutputRow]:
        """Every row of the run, in input order, with its job's state and result.

        Read a page at a time by row number (the primary key), as plain tuples: a million
        rows stream in flat memory without paying for a result object per row.
        """
        after = -1
        while page := await self.page(run_id, after):
            for row in page:
                yield row
            after = page[-1].row_no

    async def page(self, run_id: int, after: int) -> list[OutputRow]:
        """The run's rows after row number ``after``, in input order, a page of them."""

        def statements(conn: Connection) -> list[Any]:
            params = {"run": run_id, "after": after, "limit": OUTPUT_PAGE, "key": ""}
            return list(execute(conn, scan_page, params))

        return [
            OutputRow(
                row_no,
                job_id,
                _STATES.get(state),
                body,
                error,
                speedups.loads(fields) if fields is not None else None,
            )
            for row_no, job_id, state, body, error, fields, _ in await self._access.read(statements)
        ]

    async def bodies(self, run_id: int) -> AsyncIterator[str]:
        """Every kept answer of the run's lookups, once each, a page at a time."""
        after = -1
        while True:

            def statements(conn: Connection, after: int = after) -> list[Any]:
                return list(execute(conn, bodies_page, {"run": run_id, "after": after}))

            page = await self._access.read(statements)
            if not page:
                break
            for _, body in page:
                yield body
            after = page[-1][0]


OUTPUT_PAGE = 5000  # rows of output read in one statement, as OutputRow
SCAN_PAGE = 5000  # rows of output read in one statement by a scan, as tuples

# Every row of a run after a row number, in input order, with its job's state and result:
# keyset pages by the primary key, so a million rows stream in flat memory.
# A row's fields are its own, or those of the same row of the run that keeps them for its
# pass (several runs over one input: see runs.fields_run).
_held = run_rows.alias("held")
_fields_run = sa.select(runs.c.fields_run).where(runs.c.id == sa.bindparam("run")).scalar_subquery()


class _param(FunctionElement[str]):
    """A lookup's parameter of a name, from its JSON text (NULL if it has none)."""

    type = sa.Text()
    inherit_cache = True


@compiles(_param)
def _param_sqlite(element: _param, compiler: SQLCompiler, **kw: Any) -> str:
    params, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_extract({params}, '$.' || json_quote({key}))"


@compiles(_param, "postgresql")
def _param_postgresql(element: _param, compiler: SQLCompiler, **kw: Any) -> str:
    params, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({params} AS JSON) ->> CAST({key} AS TEXT))"


scan_page = (
    sa.select(
        run_rows.c.row_no,
        run_rows.c.job_id,
        jobs.c.state,
        results.c.body,
        sa.func.coalesce(run_rows.c.note, jobs.c.last_error),
        sa.func.coalesce(run_rows.c.fields, _held.c.fields),
        _param(jobs.c.params, sa.bindparam("key", type_=sa.Text)),
    )
    .select_from(run_rows)
    .outerjoin(jobs, jobs.c.id == run_rows.c.job_id)
    .outerjoin(results, results.c.job_id == run_rows.c.job_id)
    .outerjoin(_held, sa.and_(_held.c.run_id == _fields_run, _held.c.row_no == run_rows.c.row_no))
    .where(run_rows.c.run_id == sa.bindparam("run"), run_rows.c.row_no > sa.bindparam("after"))
    .order_by(run_rows.c.row_no)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)

# A lookup of the run (its parameters' JSON) and the run's options (JSON), if it has one.
first_lookup = (
    sa.select(jobs.c.params, runs.c.options)
    .select_from(run_rows)
    .join(jobs, jobs.c.id == run_rows.c.job_id)
    .join(runs, runs.c.id == run_rows.c.run_id)
    .where(run_rows.c.run_id == sa.bindparam("run"))
    .limit(1)
)

_of_run = (
    sa.select(results.c.columns, results.c.job_id)
    .join(run_jobs, run_jobs.c.job_id == results.c.job_id)
    .where(run_jobs.c.run_id == sa.bindparam("run"))
)

# The distinct column lists of a run's results, in no order.
signatures = sa.select(_of_run.subquery().c.columns).distinct()

# The same, in order of their first appearance (the least job id that has each).
_first = _of_run.subquery()
signatures_in_order = (
    sa.select(_first.c.columns, sa.func.min(_first.c.job_id).label("first"))
    .group_by(_first.c.columns)
    .order_by(sa.text("first"))
)

# The kept answers of a run's lookups, after a job id, a page at a time.
bodies_page = (
    sa.select(results.c.job_id, results.c.body)
    .join(run_jobs, run_jobs.c.job_id == results.c.job_id)
    .where(run_jobs.c.run_id == sa.bindparam("run"), results.c.job_id > sa.bindparam("after"))
    .order_by(results.c.job_id)
    .limit(OUTPUT_PAGE)
)
