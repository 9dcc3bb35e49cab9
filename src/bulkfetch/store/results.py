"""What a run's output is made of: its rows in input order with their answers, and the
columns those answers fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch import speedups
from bulkfetch.jobs import JobState
from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.records import OutputRow
from bulkfetch.store.schema import jobs, results, run_jobs, run_rows

__all__ = ["Results"]

_STATES = {state.value: state for state in JobState}


class Results:
    """The answers of a store's runs, as output reads them (``store.results``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def columns(self, run_id: int) -> list[str]:
        """Every flat column the run's results fill, in order of first appearance."""

        def statements(conn: Connection) -> list[str]:
            found = conn.execute(
                sa.select(results.c.columns, sa.func.min(results.c.job_id).label("first"))
                .join(run_jobs, run_jobs.c.job_id == results.c.job_id)
                .where(run_jobs.c.run_id == run_id)
                .group_by(results.c.columns)
                .order_by(sa.text("first"))
            )
            return [row.columns for row in found]

        signatures = await self._access.read(statements)
        ordered: dict[str, None] = {}
        for signature in signatures:
            ordered.update(dict.fromkeys(speedups.loads(signature)))
        return list(ordered)

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
            return list(execute(conn, output_page, {"run": run_id, "after": after}))

        return [
            OutputRow(
                row_no,
                job_id,
                _STATES.get(state),
                body,
                error,
                speedups.loads(fields) if fields is not None else None,
            )
            for row_no, job_id, state, body, error, fields in await self._access.read(statements)
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


OUTPUT_PAGE = 5000  # rows of output read in one statement

# Every row of a run after a row number, in input order, with its job's state and result:
# keyset pages by the primary key, so a million rows stream in flat memory.
output_page = (
    sa.select(
        run_rows.c.row_no,
        run_rows.c.job_id,
        jobs.c.state,
        results.c.body,
        sa.func.coalesce(run_rows.c.note, jobs.c.last_error),
        run_rows.c.fields,
    )
    .select_from(run_rows)
    .outerjoin(jobs, jobs.c.id == run_rows.c.job_id)
    .outerjoin(results, results.c.job_id == run_rows.c.job_id)
    .where(run_rows.c.run_id == sa.bindparam("run"), run_rows.c.row_no > sa.bindparam("after"))
    .order_by(run_rows.c.row_no)
    .limit(OUTPUT_PAGE)
)

# The kept answers of a run's lookups, after a job id, a page at a time.
bodies_page = (
    sa.select(results.c.job_id, results.c.body)
    .join(run_jobs, run_jobs.c.job_id == results.c.job_id)
    .where(run_jobs.c.run_id == sa.bindparam("run"), results.c.job_id > sa.bindparam("after"))
    .order_by(results.c.job_id)
    .limit(OUTPUT_PAGE)
)
