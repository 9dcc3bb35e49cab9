"""The queue: rows and their jobs enqueued, jobs claimed under leases, outcomes stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch import speedups
from bulkfetch.jobs import Job, JobState, Lookup, Outcome
from bulkfetch.spend import Spend
from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.enqueue_sql import enqueue_fresh
from bulkfetch.store.queue_sql import (
    apply_outcomes,
    cap_room,
    count_calls,
    due_jobs,
    expired_leases,
    lease_job,
    release_expired,
    renew_leases,
)
from bulkfetch.store.records import Claim, RowEntry
from bulkfetch.store.schema import (
    SETTLED_STATES,
    jobs,
    run_jobs,
    run_rows,
    runs,
)

__all__ = ["Queue"]


class Queue:
    """The jobs of a store and the rows that wait on them (``store.queue``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def enqueue(self, run_id: int, entries: Sequence[RowEntry], now: float) -> None:
        """Record input rows and their jobs; idempotent, so a resumed enqueue repeats safely."""
        await self.enqueue_pass({run_id: entries}, now)

    async def enqueue_pass(self, entries: Mapping[int, Sequence[RowEntry]], now: float) -> None:
        """Record input rows and their jobs for each run of a pass over one input (by run
        id), in one transaction: the runs hold the chunk together, or none of it (a crash
        redoes it whole). Idempotent, as :meth:`enqueue`."""
        batches = [(run_id, rows) for run_id, rows in entries.items() if rows]
        if not batches:
            return

        def statements(conn: Connection) -> None:
            if conn.dialect.name == "postgresql":  # two processes enqueueing one run: in turn
                for run_id, _ in sorted(batches):
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": run_id})
            fresh = [(run_id, _unrecorded(conn, run_id, rows)) for run_id, rows in batches]
            enqueue_fresh(conn, fresh, now, self._access.known_jobs)
            for run_id, rows in batches:
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(rows_enqueued=max(e.row_no for e in rows) + 1, updated_at=now)
                )

        await self._access.write(statements)

    async def claim(
        self, run_id: int, *, owner: str, limit: int, now: float, lease_seconds: float
    ) -> Claim:
        """Lease up to ``limit`` due pending jobs of the run, oldest first, and no more than
        the run's cap on billed units leaves room for (see :func:`cap_room`)."""

        def statements(conn: Connection) -> Claim:
            room = cap_room(conn, run_id)
            found = execute(conn, due_jobs, {"run": run_id, "now": now, "limit": limit}).all()
            due = found if room is None else found[: max(0, room)]
            if due:
                lease = {"owner": owner, "expires": now + lease_seconds, "now": now}
                execute(conn, lease_job, [{**lease, "id": row[0]} for row in due])
            jobs_ = [
                Job(
                    job_id, Lookup.of(api, origin, endpoint, speedups.loads(params)), attempts, rows
                )
                for job_id, api, origin, endpoint, params, attempts, rows in due
            ]
            return Claim(jobs_, capped=len(due) < len(found))

        result: Claim = await self._access.write(statements)
        # Leased for calls, which may go out before their outcomes are stored (a process
        # stopped at once leaves them in flight): the store is kept, to say so on resume.
        self._access.answered = self._access.answered or bool(result.jobs)
        return result

    async def next_due(self, run_id: int) -> float | None:
        """When the earliest pending job of the run becomes due (on a shared store, or the
        earliest lease of another worker runs out); None when there is nothing left."""

        def statements(conn: Connection) -> Any:
            in_run = sa.and_(run_jobs.c.job_id == jobs.c.id, run_jobs.c.run_id == run_id)
            due = conn.execute(
                sa.select(sa.func.min(jobs.c.next_attempt_at))
                .join(run_jobs, in_run)
                .where(jobs.c.state == JobState.PENDING.value)
            ).scalar()
            if not self._access.shared:
                return due
            # Another worker's job comes back if its lease runs out: due then, at the latest.
            leased = conn.execute(
                sa.select(sa.func.min(jobs.c.lease_expires_at))
                .join(run_jobs, in_run)
                .where(jobs.c.state == JobState.IN_FLIGHT.value)
            ).scalar()
            return min((t for t in (due, leased) if t is not None), default=None)

        value = await self._access.read(statements)
        return None if value is None else float(value)

    async def apply(
        self,
        run_id: int,
        outcomes: Sequence[Outcome],
        *,
        now: float,
        max_attempts: int,
        owner: str,
    ) -> None:
        """Store the outcomes of calls, and count them, in one transaction."""
        if not outcomes:
            return
        self._access.answered = self._access.answered or any(o.called for o in outcomes)

        spent = Spend()
        spent.add(outcomes)

        def statements(conn: Connection) -> None:
            apply_outcomes(conn, outcomes, now=now, max_attempts=max_attempts, owner=owner)
            execute(
                conn,
                count_calls,
                {
                    "run": run_id,
                    "calls": spent.requests,
                    "limited": spent.rate_limited,
                    "retries": spent.retries,
                    "unconnected": spent.connect_failures,
                    "billed": spent.units,
                    "maybe_billed": spent.maybe_billed_twice,
                    "now": now,
                },
            )

        await self._access.write(statements)

    async def renew_leases(self, owner: str, until: float) -> None:
        """Extend every lease ``owner`` holds: a live worker keeps its jobs."""

        def statements(conn: Connection) -> None:
            execute(conn, renew_leases, {"owner": owner, "until": until})

        await self._access.write(statements)

    async def reclaim_expired(self, now: float) -> int:
        """Put back the jobs whose lease ran out (their worker died); count them, per run,
        as possibly billed twice. How many came back."""

        def statements(conn: Connection) -> int:
            expired = [
                row[0] for row in execute(conn, expired_leases, {"now": now, "limit": 10_000})
            ]
            if not expired:
                return 0
            execute(conn, release_expired, [{"id": job_id, "now": now} for job_id in expired])
            per_run = conn.execute(
                sa.select(run_jobs.c.run_id, sa.func.count().label("n"))
                .where(run_jobs.c.job_id.in_(expired))
                .group_by(run_jobs.c.run_id)
            ).all()
            for run_id, count in per_run:
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(reclaimed=runs.c.reclaimed + count)
                )
            return len(expired)

        return await self._access.write(statements)

    async def settled_rows(self, run_id: int) -> int:
        """How many of the run's rows already have a final status (or failed)."""

        def statements(conn: Connection) -> int:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(run_rows)
                    .outerjoin(jobs, jobs.c.id == run_rows.c.job_id)
                    .where(
                        run_rows.c.run_id == run_id,
                        sa.or_(run_rows.c.job_id.is_(None), jobs.c.state.in_(SETTLED_STATES)),
                    )
                ).scalar_one()
            )

        return await self._access.read(statements)


def _unrecorded(conn: Connection, run_id: int, entries: Sequence[RowEntry]) -> list[RowEntry]:
    """The entries whose rows the run does not hold yet."""
    recorded = set(
        conn.execute(
            sa.select(run_rows.c.row_no).where(
                run_rows.c.run_id == run_id,
                run_rows.c.row_no.between(
                    min(e.row_no for e in entries), max(e.row_no for e in entries)
                ),
            )
        ).scalars()
    )
    return [e for e in entries if e.row_no not in recorded]
