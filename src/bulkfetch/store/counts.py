"""What a store's runs hold and spent, as ``bulkfetch status`` shows them."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.spend import Spend
from bulkfetch.store.records import RunCounts
from bulkfetch.store.schema import ANSWERED_STATES, jobs, run_jobs, run_rows, runs

__all__ = ["run_counts"]


def run_counts(conn: Connection, which: Any) -> list[RunCounts]:
    """What ``status`` shows of the runs ``which`` selects, the most recently worked on
    first."""
    listed = []
    for run in conn.execute(
        sa.select(runs).where(which).order_by(runs.c.updated_at.desc(), runs.c.id.desc())
    ):
        in_run = sa.and_(run_jobs.c.job_id == jobs.c.id, run_jobs.c.run_id == run.id)
        # A lookup answered before the run began (for another run) cost it nothing.
        earlier = sa.and_(jobs.c.state.in_(ANSWERED_STATES), jobs.c.updated_at < run.created_at)
        by_state: dict[str, int] = {}
        before_run = 0
        for state, count, before in conn.execute(
            sa.select(jobs.c.state, sa.func.count(), sa.func.count().filter(earlier))
            .join(run_jobs, in_run)
            .group_by(jobs.c.state)
        ):
            by_state[state] = int(count)
            before_run += int(before)
        rows, invalid = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(run_rows.c.job_id.is_(None)),
            ).where(run_rows.c.run_id == run.id)
        ).one()
        spend = Spend(
            units=run.billed,
            requests=run.calls,
            # Answered before it began (for another run): the lookups it never paid for.
            from_store=before_run,
            rate_limited=run.rate_limited,
            retries=run.retries,
            connect_failures=run.connect_failures,
            maybe_billed_twice=run.maybe_billed + run.reclaimed,
        )
        listed.append(
            RunCounts(
                run_id=run.id,
                api=run.api,
                endpoint=run.endpoint,
                description=run.description,
                input=json.loads(run.input) if run.input else None,
                options=json.loads(run.options) if run.options else None,
                created_at=run.created_at,
                updated_at=run.updated_at,
                rows=int(rows),
                invalid_rows=int(invalid),
                jobs_by_state=by_state,
                spend=spend,
                last_from_store=run.from_store,
                max_units=run.max_units,
                stop_kind=run.stop_kind,
                stop_reason=run.stop_reason,
            )
        )
    return listed
