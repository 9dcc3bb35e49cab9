"""The job store: runs, jobs, results and the rows that map to them.

The only package that speaks SQL: SQLAlchemy Core, on a SQLite file (WAL) by default or on
PostgreSQL. ``schema`` holds the tables, ``statements`` the hot statements of the work loop,
``database`` how a connection runs the store's work. On SQLite one process works on a store
at a time (an OS lock beside the file), so every job still marked in flight when a store
opens was claimed by a process that died: it is reclaimed, and counted as possibly billed
twice.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bulkfetch.errors import StoreError
from bulkfetch.jobs import Job, JobState, Lookup, Outcome, OutcomeKind
from bulkfetch.store.database import Database, open_database
from bulkfetch.store.records import (
    OutputRow,
    RowEntry,
    RunCounts,
    RunDetail,
    RunInfo,
    RunSpec,
    SlotGrant,
    SlotRequest,
    StopKind,
)
from bulkfetch.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SETTLED_STATES,
    jobs,
    meta,
    metadata,
    rate_budgets,
    regions,
    results,
    run_jobs,
    run_rows,
    runs,
)
from bulkfetch.store.statements import (
    apply_outcomes,
    count_calls,
    due_jobs,
    enqueue_fresh,
    execute,
    expired_leases,
    insert_budget,
    insert_run,
    lease_job,
    output_page,
    release_expired,
    renew_leases,
)

__all__ = [
    "OutputRow",
    "RowEntry",
    "RunCounts",
    "RunDetail",
    "RunInfo",
    "RunSpec",
    "SlotGrant",
    "SlotRequest",
    "StopKind",
    "Store",
]

T = TypeVar("T")


class Store:
    """The job store. Open it with ``async with await Store.open(path):``."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._known_jobs: OrderedDict[str, int] = OrderedDict()
        self._answered = False  # whether this process stored an outcome of a call

    @classmethod
    async def open(cls, target: str | os.PathLike[str], *, exclusive: bool = True) -> Store:
        """Open (creating if needed) the store at a path or SQLAlchemy URL.

        ``exclusive``: hold the store's lock, as a run must; ``bulkfetch status`` reads
        without it, beside a run in progress.
        """
        try:
            database = await open_database(os.fspath(target), exclusive=exclusive)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open the store {_shown(target)}: {_reason(exc)}") from exc
        store = cls(database)
        try:
            await database.run(_create_schema)
        except BaseException as exc:
            await database.close()
            if isinstance(exc, SQLAlchemyError):
                raise StoreError(f"cannot open the store {_shown(target)}: {_reason(exc)}") from exc
            raise
        return store

    @property
    def shared(self) -> bool:
        """Whether other processes may work on the store at once (PostgreSQL)."""
        return self._db.shared

    async def close(self) -> None:
        await self._db.close()

    async def close_unused(self) -> None:
        """Close the store; if opening it created it and no call's outcome was stored since,
        remove it: a run that ended in a usage error leaves nothing behind."""
        await self._db.close()
        if not self._answered:
            self._db.discard()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.close()

    async def _write(self, statements: Callable[[Connection], T]) -> T:
        """Run ``statements(conn)`` in one transaction, serialised with every other write."""
        try:
            return await self._db.run(statements)
        except SQLAlchemyError as exc:
            self._known_jobs.clear()  # it may name jobs the rollback took back
            raise StoreError(
                f"cannot write the store: {_reason(exc)} (is the disk full, or the file "
                "or its folder read-only? Free space or fix it, then run the same command "
                "again: nothing stored is lost)"
            ) from exc

    async def _read(self, statements: Callable[[Connection], T]) -> T:
        try:
            return await self._db.run(statements)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the store: {_reason(exc)}") from exc

    # -- runs -------------------------------------------------------------------------

    async def begin_run(self, spec: RunSpec, now: float) -> RunInfo:
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
                    "now": now,
                },
            ).rowcount
            row = conn.execute(
                sa.select(runs.c.id, runs.c.rows_enqueued, runs.c.enqueue_complete).where(
                    runs.c.run_key == spec.run_key
                )
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
            return RunInfo(row.id, row.rows_enqueued, bool(row.enqueue_complete), follows)

        result: RunInfo = await self._write(statements)
        return result

    async def enqueue(self, run_id: int, entries: Sequence[RowEntry], now: float) -> None:
        """Record input rows and their jobs; idempotent, so a resumed enqueue repeats safely."""
        if not entries:
            return

        def statements(conn: Connection) -> None:
            if conn.dialect.name == "postgresql":  # two processes enqueueing one run: in turn
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": run_id})
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
            fresh = [e for e in entries if e.row_no not in recorded]
            enqueue_fresh(conn, run_id, fresh, now, self._known_jobs)
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(rows_enqueued=max(e.row_no for e in entries) + 1, updated_at=now)
            )

        await self._write(statements)

    async def finish_enqueue(self, run_id: int) -> None:
        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(enqueue_complete=True))

        await self._write(statements)

    async def prepare_run(self, run_id: int, *, refresh: bool, now: float) -> int:
        """Ready a run's jobs for work; return how many were reclaimed from a dead process.

        Reclaimed jobs may have been sent before the process died: they are possibly billed
        twice. Jobs that failed in an earlier run get a fresh set of attempts. With
        ``refresh``, results fetched before this run's refresh point are fetched again; the
        point is kept until the run completes, so a resumed refresh fetches nothing twice.
        """

        def statements(conn: Connection) -> int:
            # SQLite: this process holds the store's lock, so whatever is in flight belongs to
            # a process that died. PostgreSQL: only leases that ran out; live workers renew.
            dead = jobs.c.state == JobState.IN_FLIGHT.value
            if self._db.shared:
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
            if refresh_since is not None:
                stale = sa.select(results.c.job_id).where(
                    results.c.fetched_at < refresh_since, results.c.job_id.in_(in_run)
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
                        jobs.c.updated_at < refresh_since,
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

        result: int = await self._write(statements)
        return result

    async def retire_run(self, run_id: int, now: float) -> None:
        """Make a run that must not be resumed unfindable by its key (its rows may not match
        its input); its jobs and their answers stay, for any run to use."""

        def statements(conn: Connection) -> None:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(run_key=f"retired-{run_id}", updated_at=now)
            )

        await self._write(statements)

    async def complete_run(self, run_id: int) -> None:
        """The run has every job final: forget its refresh point."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(refresh_since=None))

        await self._write(statements)

    async def run_detail(self, run_id: int) -> RunDetail | None:
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
            )

        return await self._read(statements)

    async def runs_with_work(self) -> list[int]:
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

        return await self._read(statements)

    async def renew_leases(self, owner: str, until: float) -> None:
        """Extend every lease ``owner`` holds: a live worker keeps its jobs."""

        def statements(conn: Connection) -> None:
            execute(conn, renew_leases, {"owner": owner, "until": until})

        await self._write(statements)

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

        return await self._write(statements)

    async def record_stop(self, run_id: int, kind: str, reason: str) -> None:
        def statements(conn: Connection) -> None:
            conn.execute(
                runs.update().where(runs.c.id == run_id).values(stop_kind=kind, stop_reason=reason)
            )

        await self._write(statements)

    # -- the work loop ------------------------------------------------------------------

    async def claim(
        self, run_id: int, *, owner: str, limit: int, now: float, lease_seconds: float
    ) -> list[Job]:
        """Lease up to ``limit`` due pending jobs of the run, oldest first."""

        def statements(conn: Connection) -> list[Job]:
            due = execute(conn, due_jobs, {"run": run_id, "now": now, "limit": limit}).all()
            if due:
                lease = {"owner": owner, "expires": now + lease_seconds, "now": now}
                execute(conn, lease_job, [{**lease, "id": row[0]} for row in due])
            return [
                Job(job_id, Lookup.of(api, origin, endpoint, json.loads(params)), attempts, rows)
                for job_id, api, origin, endpoint, params, attempts, rows in due
            ]

        result: list[Job] = await self._write(statements)
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
            if not self._db.shared:
                return due
            # Another worker's job comes back if its lease runs out: due then, at the latest.
            leased = conn.execute(
                sa.select(sa.func.min(jobs.c.lease_expires_at))
                .join(run_jobs, in_run)
                .where(jobs.c.state == JobState.IN_FLIGHT.value)
            ).scalar()
            return min((t for t in (due, leased) if t is not None), default=None)

        value = await self._read(statements)
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
        self._answered = self._answered or any(o.called for o in outcomes)

        def statements(conn: Connection) -> None:
            apply_outcomes(conn, outcomes, now=now, max_attempts=max_attempts, owner=owner)
            execute(
                conn,
                count_calls,
                {
                    "run": run_id,
                    "calls": sum(o.called for o in outcomes),
                    "limited": sum(
                        o.kind is OutcomeKind.RETRY and o.status == 429 for o in outcomes
                    ),
                    "retries": sum(o.kind is OutcomeKind.RETRY for o in outcomes),
                    "unconnected": sum(o.unconnected for o in outcomes),
                    "now": now,
                },
            )

        await self._write(statements)

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

        return await self._read(statements)

    # -- the rate budget shared by workers (PostgreSQL) ---------------------------------

    async def open_budget(self, key_id: str, ceiling: float | None) -> None:
        """Ready the key's budget for a worker joining: lift an earlier stop (the user
        started work again, so the quota or key is fixed), and set the ceiling if given."""

        def statements(conn: Connection) -> None:
            now = _database_now(conn)
            execute(conn, insert_budget, {"key_id": key_id, "ceiling": ceiling, "now": now})
            values: dict[str, Any] = {"stop_kind": None, "stop_reason": None, "updated_at": now}
            if ceiling is not None:
                values.update(ceiling=ceiling, rate=ceiling)
            conn.execute(
                rate_budgets.update().where(rate_budgets.c.key_id == key_id).values(**values)
            )

        await self._write(statements)

    async def take_slot(self, key_id: str, pacing: SlotRequest) -> SlotGrant:
        """The next send slot of the key's budget, on the database's clock: every worker's
        calls go out on one grid ``1/rate`` apart. A 429 or a provider's reset news that a
        worker brings cuts the rate or pauses sending for all."""

        def statements(conn: Connection) -> SlotGrant:
            found = conn.execute(
                sa.select(rate_budgets, _now_expression(conn).label("now"))
                .where(rate_budgets.c.key_id == key_id)
                .with_for_update()
            ).one()
            now = float(found.now)
            if found.stop_kind is not None:
                return SlotGrant(0.0, found.rate, found.stop_kind, found.stop_reason)
            rate, resume_at = pacing.next_rate(found.rate, found.ceiling, found.resume_at, now)
            slot = max(now, found.next_slot, resume_at)
            conn.execute(
                rate_budgets.update()
                .where(rate_budgets.c.key_id == key_id)
                .values(
                    rate=rate,
                    resume_at=resume_at,
                    next_slot=slot + (1.0 / rate if rate else 0.0),
                    updated_at=now,
                )
            )
            return SlotGrant(slot - now, rate)

        return await self._write(statements)

    async def budget_stop(self, key_id: str) -> tuple[str, str] | None:
        """The stop some worker recorded on the key's budget, if any: (kind, reason)."""

        def statements(conn: Connection) -> tuple[str, str] | None:
            row = conn.execute(
                sa.select(rate_budgets.c.stop_kind, rate_budgets.c.stop_reason).where(
                    rate_budgets.c.key_id == key_id
                )
            ).first()
            if row is None or row.stop_kind is None:
                return None
            return row.stop_kind, row.stop_reason or row.stop_kind

        return await self._read(statements)

    async def stop_budget(self, key_id: str, kind: str, reason: str) -> None:
        """Record a quota or key stop on the key's budget: every worker stops sending."""

        def statements(conn: Connection) -> None:
            conn.execute(
                rate_budgets.update()
                .where(rate_budgets.c.key_id == key_id, rate_budgets.c.stop_kind.is_(None))
                .values(stop_kind=kind, stop_reason=reason)
            )

        await self._write(statements)

    # -- reference data -----------------------------------------------------------------

    async def save_regions(
        self, origin: str, found: Sequence[tuple[str, str, str]], *, now: float
    ) -> None:
        """Replace the regions kept for an API origin with ``(type, code, label)`` rows."""

        def statements(conn: Connection) -> None:
            conn.execute(regions.delete().where(regions.c.origin == origin))
            if found:
                conn.execute(
                    regions.insert(),
                    [
                        {"origin": origin, "type": t, "code": c, "label": label, "fetched_at": now}
                        for t, c, label in found
                    ],
                )

        await self._write(statements)

    async def regions(self, origin: str, type_: str | None = None) -> list[tuple[str, str, str]]:
        """The ``(type, code, label)`` rows kept for an origin; empty if never fetched."""
        query = sa.select(regions.c.type, regions.c.code, regions.c.label).where(
            regions.c.origin == origin
        )
        if type_ is not None:
            query = query.where(regions.c.type == type_)

        def statements(conn: Connection) -> list[tuple[str, str, str]]:
            return [(r.type, r.code, r.label) for r in conn.execute(query)]

        return await self._read(statements)

    # -- reading ------------------------------------------------------------------------

    async def counts(self, run_id: int | None = None) -> RunCounts | None:
        """Counts for a run (default: the one most recently worked on)."""

        def statements(conn: Connection) -> tuple[Any, dict[str, int], int, int] | None:
            query = sa.select(runs)
            query = (
                query.where(runs.c.id == run_id)
                if run_id is not None
                else query.order_by(runs.c.updated_at.desc(), runs.c.id.desc()).limit(1)
            )
            run = conn.execute(query).first()
            if run is None:
                return None
            found = conn.execute(
                sa.select(jobs.c.state, sa.func.count().label("n"))
                .join(run_jobs, run_jobs.c.job_id == jobs.c.id)
                .where(run_jobs.c.run_id == run.id)
                .group_by(jobs.c.state)
            )
            by_state = {row.state: int(row.n) for row in found}
            rows, invalid = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(run_rows.c.job_id.is_(None)),
                ).where(run_rows.c.run_id == run.id)
            ).one()
            return run, by_state, int(rows), int(invalid)

        found = await self._read(statements)
        if found is None:
            return None
        run, by_state, rows, invalid = found
        return RunCounts(
            run_id=run.id,
            description=run.description,
            rows=rows,
            invalid_rows=invalid,
            jobs_by_state=by_state,
            calls=run.calls,
            rate_limited=run.rate_limited,
            retries=run.retries,
            reclaimed=run.reclaimed,
            connect_failures=run.connect_failures,
            stop_kind=run.stop_kind,
            stop_reason=run.stop_reason,
            updated_at=run.updated_at,
        )

    async def output_columns(self, run_id: int) -> list[str]:
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

        signatures = await self._read(statements)
        ordered: dict[str, None] = {}
        for signature in signatures:
            ordered.update(dict.fromkeys(json.loads(signature)))
        return list(ordered)

    async def output_rows(self, run_id: int) -> AsyncIterator[OutputRow]:
        """Every row of the run, in input order, with its job's state and result.

        Read a page at a time by row number (the primary key), as plain tuples: a million
        rows stream in flat memory without paying for a result object per row.
        """
        states = {state.value: state for state in JobState}
        after = -1
        while True:

            def statements(conn: Connection, after: int = after) -> list[Any]:
                return list(execute(conn, output_page, {"run": run_id, "after": after}))

            rows = await self._read(statements)
            if not rows:
                break
            for row_no, job_id, state, body, error, fields in rows:
                yield OutputRow(
                    row_no,
                    job_id,
                    states.get(state),
                    body,
                    error,
                    json.loads(fields) if fields is not None else None,
                )
            after = rows[-1][0]


def _now_expression(conn: Connection) -> Any:
    """The database's clock, in UNIX seconds: one clock for workers on many hosts."""
    if conn.dialect.name == "postgresql":
        return sa.func.extract("epoch", sa.func.clock_timestamp())
    return (sa.func.julianday("now") - 2440587.5) * 86400.0


def _database_now(conn: Connection) -> float:
    return float(conn.execute(sa.select(_now_expression(conn))).scalar_one())


def _create_schema(conn: Connection) -> None:
    """Make the tables, or bring a store of an earlier version up to this one."""
    if conn.dialect.name == "postgresql":  # workers starting together: one at a time here
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    fresh = not sa.inspect(conn).has_table("meta")
    metadata.create_all(conn)
    found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    version = SCHEMA_VERSION if fresh or found is None else int(found)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {version}; this bulkfetch reads up to "
            f"{SCHEMA_VERSION}: upgrade bulkfetch"
        )
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.execute(sa.text(statement))
    if found is None:
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif version != SCHEMA_VERSION:
        conn.execute(
            meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )


_SCHEMA_LOCK = 0x62756C6B  # "bulk": the advisory lock that serialises schema changes


def _shown(target: str | os.PathLike[str]) -> str:
    """The store's name fit for a message: a URL without its password."""
    text = os.fspath(target)
    if "://" not in text:
        return text
    try:
        return sa.make_url(text).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unreadable URL)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig)
    return exc.__class__.__name__
