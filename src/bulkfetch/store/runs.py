"""The runs in a store: made or found by their key, readied for work, stopped, counted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.jobs import JobState
from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.counts import run_counts
from bulkfetch.store.records import RunCounts, RunDetail, RunInfo, RunSpec
from bulkfetch.store.schema import ANSWERED_STATES, jobs, results, run_jobs, runs

__all__ = ["Runs"]


class Runs:
    """The runs of a store (``store.runs``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def begin(self, spec: RunSpec, now: float) -> RunInfo:
        """Find the run of this spec, or create it."""

        def statements(conn: Connection) -> RunInfo:
            # Made if missing; on PostgreSQL another process may make it at the same time.
            made = execute(
                conn,
                insert_run,
                {
                    "run_key": spec.run_key,
                    "api": spec.api,
                    "endpoint": spec.endpoint,
                    "description": spec.description,
                    "adapter": spec.adapter,
                    "input": spec.input,
                    "lineage": spec.lineage,
                    "header": spec.header,
                    "options": spec.options,
                    "now": now,
                },
            ).rowcount
            row = conn.execute(
                sa.select(
                    runs.c.id, runs.c.rows_enqueued, runs.c.enqueue_complete, runs.c.fields_run
                ).where(runs.c.run_key == spec.run_key)
            ).one()
            follows = None
            if made and spec.lineage is not None:
                follows = conn.execute(
                    sa.select(sa.func.max(runs.c.id)).where(
                        runs.c.lineage == spec.lineage, runs.c.id != row.id
                    )
                ).scalar()
            conn.execute(
                runs.update()
                .where(runs.c.id == row.id)
                .values(
                    updated_at=now,
                    stop_kind=None,
                    stop_reason=None,
                    adapter=spec.adapter,
                    input=spec.input,
                )
            )
            return RunInfo(
                row.id, row.rows_enqueued, bool(row.enqueue_complete), follows, row.fields_run
            )

        result: RunInfo = await self._access.write(statements)
        return result

    async def hold_fields(self, run_ids: Sequence[int]) -> dict[int, int | None]:
        """Which run keeps the rows' fields for each of these runs, of one pass over one
        input (in the pass's order): the first that keeps some of theirs already, else the
        first that keeps its own (its fields_run None), keeps them for each other still
        being enqueued that keeps its own and that no run names (so that none is named that
        names another). Each run's fields_run, by id."""

        def statements(conn: Connection) -> dict[int, int | None]:
            # Locked in one order: processes beginning passes of the same runs take turns.
            found = {
                row.id: row
                for row in conn.execute(
                    sa.select(runs.c.id, runs.c.fields_run, runs.c.enqueue_complete)
                    .where(runs.c.id.in_(run_ids))
                    .order_by(runs.c.id)
                    .with_for_update()
                )
            }
            # The one that keeps some of the pass's fields already, else the first that can.
            kept = {found[i].fields_run for i in run_ids}
            holder = next((i for i in run_ids if i in kept), None)
            holder = holder or next((i for i in run_ids if found[i].fields_run is None), None)
            named = set(
                conn.execute(
                    sa.select(runs.c.fields_run).where(runs.c.fields_run.in_(run_ids))
                ).scalars()
            )
            held = [
                i
                for i in run_ids
                if i != holder
                and found[i].fields_run is None
                and not found[i].enqueue_complete
                and i not in named
            ]
            if holder is not None and held:
                conn.execute(runs.update().where(runs.c.id.in_(held)).values(fields_run=holder))
            return {i: holder if i in held else found[i].fields_run for i in run_ids}

        result: dict[int, int | None] = await self._access.write(statements)
        return result

    async def finish_enqueue(self, *run_ids: int) -> None:
        """These runs hold every row of their input."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id.in_(run_ids)).values(enqueue_complete=True))

        await self._access.write(statements)

    async def prepare(
        self, run_id: int, *, refresh: bool, now: float, max_age: float | None = None
    ) -> int:
        """Ready a run's jobs for work; return how many were reclaimed from a dead process.

        Reclaimed jobs may have been sent before the process died: they are possibly billed
        twice. Jobs that failed in an earlier run get a fresh set of attempts. With
        ``refresh``, results fetched before this run's refresh point are fetched again; the
        point is kept until the run completes, so a resumed refresh fetches nothing twice.
        With ``max_age`` (seconds), answers older than that are fetched again too.
        """

        def statements(conn: Connection) -> int:
            # SQLite: this process holds the store's lock, so whatever is in flight belongs to
            # a process that died. PostgreSQL: only leases that ran out; live workers renew.
            dead = jobs.c.state == JobState.IN_FLIGHT.value
            if self._access.shared:
                dead = sa.and_(dead, jobs.c.lease_expires_at < now)
            reclaimed = conn.execute(
                jobs.update()
                .where(dead)
                .values(state=JobState.PENDING.value, lease_owner=None, lease_expires_at=None)
            ).rowcount
            in_run = sa.select(run_jobs.c.job_id).where(run_jobs.c.run_id == run_id)
            conn.execute(
                jobs.update()
                .where(jobs.c.state == JobState.FAILED.value, jobs.c.id.in_(in_run))
                .values(state=JobState.PENDING.value, attempts=0, next_attempt_at=0.0)
            )
            refresh_since = conn.execute(
                sa.select(runs.c.refresh_since).where(runs.c.id == run_id)
            ).scalar()
            if refresh and refresh_since is None:
                refresh_since = now
            aged = None if max_age is None else now - max_age
            stale_before = max((t for t in (refresh_since, aged) if t is not None), default=None)
            if stale_before is not None:
                stale = sa.select(results.c.job_id).where(
                    results.c.fetched_at < stale_before, results.c.job_id.in_(in_run)
                )
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id.in_(stale))
                    .values(state=JobState.PENDING.value, attempts=0, next_attempt_at=0.0)
                )
                conn.execute(
                    jobs.update()
                    .where(
                        jobs.c.id.in_(in_run),
                        jobs.c.state == JobState.NOT_FOUND.value,
                        jobs.c.updated_at < stale_before,
                    )
                    .values(state=JobState.PENDING.value, attempts=0, next_attempt_at=0.0)
                )
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    refresh_since=refresh_since,
                    reclaimed=runs.c.reclaimed + reclaimed,
                    updated_at=now,
                )
            )
            return int(reclaimed)

        result: int = await self._access.write(statements)
        return result

    async def retire(self, run_id: int, now: float) -> None:
        """Make a run that must not be resumed unfindable by its key (its rows may not match
        its input); its jobs and their answers stay, for any run to use."""

        def statements(conn: Connection) -> None:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(run_key=f"retired-{run_id}", updated_at=now)
            )

        await self._access.write(statements)

    async def complete(self, run_id: int) -> None:
        """The run has every job final: forget its refresh point."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(refresh_since=None))

        await self._access.write(statements)

    async def detail(self, run_id: int) -> RunDetail | None:
        """A run as a worker or ``export`` needs it; None if the store has no such run."""

        def statements(conn: Connection) -> RunDetail | None:
            row = conn.execute(
                sa.select(
                    runs.c.id,
                    runs.c.api,
                    runs.c.description,
                    runs.c.adapter,
                    runs.c.input,
                    runs.c.enqueue_complete,
                    runs.c.header,
                    runs.c.rows_enqueued,
                    runs.c.stop_reason,
                    runs.c.options,
                ).where(runs.c.id == run_id)
            ).first()
            if row is None:
                return None
            return RunDetail(
                row.id,
                row.api,
                row.description,
                row.adapter or "{}",
                row.input,
                bool(row.enqueue_complete),
                json.loads(row.header) if row.header is not None else None,
                row.rows_enqueued,
                row.stop_reason,
                row.options,
            )

        return await self._access.read(statements)

    async def with_work(self) -> list[int]:
        """Runs still being enqueued, or with jobs not yet final nor failed, oldest first."""
        open_states = (JobState.PENDING.value, JobState.IN_FLIGHT.value)

        def statements(conn: Connection) -> list[int]:
            unfinished = (
                sa.select(run_jobs.c.run_id)
                .join(jobs, jobs.c.id == run_jobs.c.job_id)
                .where(jobs.c.state.in_(open_states))
            )
            found = conn.execute(
                sa.select(runs.c.id)
                .where(
                    sa.or_(runs.c.enqueue_complete.is_(False), runs.c.id.in_(unfinished)),
                    runs.c.adapter.is_not(None),
                )
                .order_by(runs.c.id)
            )
            return [int(row.id) for row in found]

        return await self._access.read(statements)

    async def record_stop(self, run_id: int, kind: str, reason: str) -> None:
        def statements(conn: Connection) -> None:
            conn.execute(
                runs.update().where(runs.c.id == run_id).values(stop_kind=kind, stop_reason=reason)
            )

        await self._access.write(statements)

    async def set_cap(self, run_id: int, max_units: int | None) -> None:
        """The most billed units the run may spend, over all its invocations and workers
        (None: no cap); every claim of its jobs keeps within it."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(max_units=max_units))

        await self._access.write(statements)

    async def answered_before(self, run_id: int, when: float) -> int:
        """The run's lookups answered before ``when`` (and not fetched again since): what an
        invocation that began then had from the store, whoever answered them after."""

        def statements(conn: Connection) -> int:
            found = conn.execute(
                sa.select(sa.func.count())
                .select_from(run_jobs)
                .join(jobs, jobs.c.id == run_jobs.c.job_id)
                .where(
                    run_jobs.c.run_id == run_id,
                    jobs.c.state.in_(ANSWERED_STATES),
                    jobs.c.updated_at < when,
                )
            )
            return int(found.scalar_one())

        result: int = await self._access.read(statements)
        return result

    async def keep_from_store(self, run_id: int, lookups: int) -> None:
        """Keep what the run's latest invocation had from the store, for ``status``."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(from_store=lookups))

        await self._access.write(statements)

    async def counts(self, run_id: int) -> RunCounts | None:
        """What the run holds and spent; None if the store has no such run."""
        found = await self._access.read(lambda conn: run_counts(conn, runs.c.id == run_id))
        return found[0] if found else None

    async def listing(self) -> list[RunCounts]:
        """Every run in the store, the most recently worked on first."""
        return await self._access.read(lambda conn: run_counts(conn, sa.true()))


def insert_run(insert: Any) -> Any:
    """A run, unless one of its key exists (another process may be making it too)."""
    return (
        insert(runs)
        .values(
            run_key=sa.bindparam("run_key"),
            api=sa.bindparam("api"),
            endpoint=sa.bindparam("endpoint"),
            description=sa.bindparam("description"),
            adapter=sa.bindparam("adapter"),
            input=sa.bindparam("input"),
            lineage=sa.bindparam("lineage"),
            header=sa.bindparam("header"),
            options=sa.bindparam("options"),
            created_at=sa.bindparam("now"),
            updated_at=sa.bindparam("now"),
            rows_enqueued=0,
            enqueue_complete=False,
            calls=0,
            rate_limited=0,
            retries=0,
            reclaimed=0,
            connect_failures=0,
            billed=0,
            maybe_billed=0,
            from_store=0,
        )
        .on_conflict_do_nothing(index_elements=["run_key"])
    )
