"""The job store: runs, jobs, results and the rows that map to them.

The only module that speaks SQL. SQLAlchemy Core on aiosqlite, in WAL mode; the schema is
plain enough for a PostgreSQL URL to serve it later. One process works on a store at a
time (an OS lock beside the file), so every job still marked in flight when a store opens
was claimed by a process that died: it is reclaimed, and counted as possibly billed twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bulkfetch.errors import StoreBusyError, StoreError
from bulkfetch.jobs import Job, JobState, Lookup, Outcome, OutcomeKind

__all__ = ["OutputRow", "RowEntry", "RunCounts", "RunInfo", "RunSpec", "StopKind", "Store"]

SCHEMA_VERSION = 1

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_key", sa.String(64), nullable=False, unique=True),
    sa.Column("api", sa.String(64), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("rows_enqueued", sa.Integer, nullable=False, default=0),
    sa.Column("enqueue_complete", sa.Boolean, nullable=False, default=False),
    sa.Column("refresh_since", sa.Float),
    sa.Column("calls", sa.Integer, nullable=False, default=0),
    sa.Column("rate_limited", sa.Integer, nullable=False, default=0),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("reclaimed", sa.Integer, nullable=False, default=0),
    sa.Column("stop_kind", sa.String(32)),
    sa.Column("stop_reason", sa.Text),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("api", sa.String(64), nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False, default=0.0),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_jobs_state_id", "state", "id"),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
)

run_jobs = sa.Table(
    "run_jobs",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    # How many of the run's input rows wait on the job. Exact: a chunk's rows, these
    # counts and runs.rows_enqueued commit together, so a crashed chunk is redone whole.
    sa.Column("rows", sa.Integer, nullable=False, default=0),
)

run_rows = sa.Table(
    "run_rows",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id")),
    sa.Column("note", sa.Text),  # why the row has no job (its input cannot be valid)
)


# A row is settled when its job will not be tried again in this run.
_SETTLED_STATES = tuple(s.value for s in JobState if s.is_final or s is JobState.FAILED)


regions = sa.Table(
    "regions",
    metadata,
    sa.Column("origin", sa.Text, primary_key=True),
    sa.Column("type", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
)

_FINAL_STATE = {
    OutcomeKind.DONE: JobState.DONE,
    OutcomeKind.NOT_FOUND: JobState.NOT_FOUND,
    OutcomeKind.INVALID: JobState.INVALID,
}


class StopKind:
    """Why a run stopped early; stored as text in ``runs.stop_kind``."""

    QUOTA = "quota"
    AUTH = "auth"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What identifies a run: running the same command again finds the same run."""

    run_key: str
    api: str
    endpoint: str
    description: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    rows_enqueued: int
    enqueue_complete: bool


@dataclass(frozen=True, slots=True)
class RowEntry:
    """One input row as enqueued: its lookup, or why it has none."""

    row_no: int
    lookup: Lookup | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OutputRow:
    row_no: int
    job_id: int | None
    state: JobState | None  # None: the input could not be a valid lookup
    body: str | None
    error: str | None  # why the row is invalid, or the job's last error


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What ``bulkfetch status`` shows of a run."""

    run_id: int
    description: str
    rows: int
    invalid_rows: int
    jobs_by_state: dict[str, int]
    calls: int
    rate_limited: int
    retries: int
    reclaimed: int
    stop_kind: str | None
    stop_reason: str | None
    updated_at: float


def _sqlite_url(target: str) -> tuple[str, Path | None]:
    """The SQLAlchemy URL for a path or URL, and the SQLite file it names (to lock)."""
    if "://" in target:
        if target.startswith("sqlite"):
            name = target.split(":///", 1)[1] if ":///" in target else ""
            return target, Path(name).resolve() if name else None
        return target, None
    path = Path(target).resolve()
    return f"sqlite+aiosqlite:///{path}", path


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the output be read while a run writes; NORMAL survives a killed process
    # (what resume is for), and busy_timeout rides out a reader's brief lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The job store. Open it with ``async with await Store.open(path):``."""

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection, lock_fd: int | None) -> None:
        self._engine = engine
        self._conn = conn
        self._lock_fd = lock_fd
        self._lock = anyio.Lock()
        self._known_jobs: OrderedDict[str, int] = OrderedDict()

    @classmethod
    async def open(cls, target: str | os.PathLike[str], *, exclusive: bool = True) -> Store:
        """Open (creating if needed) the store at a path or SQLAlchemy URL.

        ``exclusive``: hold the store's lock, as a run must; ``bulkfetch status`` reads
        without it, beside a run in progress.
        """
        url, path = _sqlite_url(os.fspath(target))
        lock_fd = _lock_beside(path) if path is not None and exclusive else None
        try:
            engine = create_async_engine(url)
            sa.event.listen(engine.sync_engine, "connect", _on_connect)
            conn = await engine.connect()
            await conn.run_sync(metadata.create_all)
            await cls._check_version(conn)
            await conn.commit()
        except SQLAlchemyError as exc:
            if lock_fd is not None:
                os.close(lock_fd)
            raise StoreError(f"cannot open the store {target}: {_reason(exc)}") from exc
        return cls(engine, conn, lock_fd)

    @staticmethod
    async def _check_version(conn: AsyncConnection) -> None:
        found = (
            await conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version"))
        ).scalar()
        if found is None:
            await conn.execute(
                meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
            )
        elif int(found) != SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {found}; this bulkfetch reads {SCHEMA_VERSION}"
            )

    async def close(self) -> None:
        await self._conn.close()
        await self._engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

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

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This task's turn on the connection, which it keeps until its work is done.

        Shielded from cancellation: a statement abandoned half-way makes SQLAlchemy
        invalidate the aiosqlite connection, and closing one that way can hang the process
        (aiosqlite 0.22's close races its own stop). Store work takes milliseconds; a stop
        waits for it.
        """
        with anyio.CancelScope(shield=True):
            async with self._lock:
                yield

    async def _write(self, statements: Any) -> Any:
        """Run ``statements(conn)`` in one transaction, serialised with every other write."""
        async with self._turn():
            try:
                result = await self._conn.run_sync(statements)
                await self._conn.commit()
            except SQLAlchemyError as exc:
                await self._safe_rollback()
                self._known_jobs.clear()  # it may name jobs the rollback took back
                raise StoreError(
                    f"cannot write the store: {_reason(exc)} (is the disk full, or the file "
                    "or its folder read-only? Free space or fix it, then run the same command "
                    "again: nothing stored is lost)"
                ) from exc
            return result

    async def _safe_rollback(self) -> None:
        # The error that made us roll back is the one to report, not a failed rollback.
        with contextlib.suppress(SQLAlchemyError):
            await self._conn.rollback()

    # -- runs -------------------------------------------------------------------------

    async def begin_run(self, spec: RunSpec, now: float) -> RunInfo:
        """Find the run of this spec, or create it."""

        def statements(conn: Connection) -> RunInfo:
            row = conn.execute(
                sa.select(runs.c.id, runs.c.rows_enqueued, runs.c.enqueue_complete).where(
                    runs.c.run_key == spec.run_key
                )
            ).first()
            if row is None:
                run_id = conn.execute(
                    runs.insert().values(
                        run_key=spec.run_key,
                        api=spec.api,
                        endpoint=spec.endpoint,
                        description=spec.description,
                        created_at=now,
                        updated_at=now,
                        rows_enqueued=0,
                        enqueue_complete=False,
                    )
                ).inserted_primary_key
                assert run_id is not None
                return RunInfo(int(run_id[0]), 0, False)
            conn.execute(
                runs.update()
                .where(runs.c.id == row.id)
                .values(updated_at=now, stop_kind=None, stop_reason=None)
            )
            return RunInfo(row.id, row.rows_enqueued, bool(row.enqueue_complete))

        result: RunInfo = await self._write(statements)
        return result

    async def enqueue(self, run_id: int, entries: Sequence[RowEntry], now: float) -> None:
        """Record input rows and their jobs; idempotent, so a resumed enqueue repeats safely."""
        if not entries:
            return

        def statements(conn: Connection) -> None:
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
            _enqueue_fresh(conn, run_id, fresh, now, self._known_jobs)
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
            reclaimed = conn.execute(
                jobs.update()
                .where(jobs.c.state == JobState.IN_FLIGHT.value)
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

    async def complete_run(self, run_id: int) -> None:
        """The run has every job final: forget its refresh point."""

        def statements(conn: Connection) -> None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(refresh_since=None))

        await self._write(statements)

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
            due = (
                sa.select(jobs.c.id)
                .join(
                    run_jobs, sa.and_(run_jobs.c.job_id == jobs.c.id, run_jobs.c.run_id == run_id)
                )
                .where(jobs.c.state == JobState.PENDING.value, jobs.c.next_attempt_at <= now)
                .order_by(jobs.c.id)
                .limit(limit)
            )
            rows = conn.execute(
                jobs.update()
                .where(jobs.c.id.in_(due.scalar_subquery()))
                .values(
                    state=JobState.IN_FLIGHT.value,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    updated_at=now,
                )
                .returning(
                    jobs.c.id,
                    jobs.c.api,
                    jobs.c.origin,
                    jobs.c.endpoint,
                    jobs.c.params,
                    jobs.c.attempts,
                )
            ).all()
            rows_of: dict[int, int] = {}
            if rows:
                counted = conn.execute(
                    sa.select(run_jobs.c.job_id, run_jobs.c.rows).where(
                        run_jobs.c.run_id == run_id, run_jobs.c.job_id.in_([r.id for r in rows])
                    )
                )
                rows_of = {row.job_id: int(row.rows) for row in counted}
            claimed = [
                Job(
                    row.id,
                    Lookup.of(row.api, row.origin, row.endpoint, json.loads(row.params)),
                    row.attempts,
                    rows_of.get(row.id, 0),
                )
                for row in rows
            ]
            claimed.sort(key=lambda job: job.id)
            return claimed

        result: list[Job] = await self._write(statements)
        return result

    async def next_due(self, run_id: int) -> float | None:
        """When the earliest pending job of the run becomes due; None when none is pending."""
        async with self._turn():
            found = await self._conn.execute(
                sa.select(sa.func.min(jobs.c.next_attempt_at))
                .join(
                    run_jobs, sa.and_(run_jobs.c.job_id == jobs.c.id, run_jobs.c.run_id == run_id)
                )
                .where(jobs.c.state == JobState.PENDING.value)
            )
            value = found.scalar()
            await self._conn.commit()
        return None if value is None else float(value)

    async def apply(
        self, run_id: int, outcomes: Sequence[Outcome], *, now: float, max_attempts: int
    ) -> None:
        """Store the outcomes of calls, and count them, in one transaction."""
        if not outcomes:
            return

        def statements(conn: Connection) -> None:
            _apply_outcomes(conn, outcomes, now=now, max_attempts=max_attempts)
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    calls=runs.c.calls + sum(o.called for o in outcomes),
                    rate_limited=runs.c.rate_limited
                    + sum(o.kind is OutcomeKind.RETRY and o.status == 429 for o in outcomes),
                    retries=runs.c.retries + sum(o.kind is OutcomeKind.RETRY for o in outcomes),
                    updated_at=now,
                )
            )

        await self._write(statements)

    async def settled_rows(self, run_id: int) -> int:
        """How many of the run's rows already have a final status (or failed)."""
        async with self._turn():
            found = await self._conn.execute(
                sa.select(sa.func.count())
                .select_from(run_rows)
                .outerjoin(jobs, jobs.c.id == run_rows.c.job_id)
                .where(
                    run_rows.c.run_id == run_id,
                    sa.or_(run_rows.c.job_id.is_(None), jobs.c.state.in_(_SETTLED_STATES)),
                )
            )
            count = int(found.scalar_one())
            await self._conn.commit()
        return count

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
        async with self._turn():
            found = [(r.type, r.code, r.label) for r in await self._conn.execute(query)]
            await self._conn.commit()
        return found

    # -- reading ------------------------------------------------------------------------

    async def counts(self, run_id: int | None = None) -> RunCounts | None:
        """Counts for a run (default: the one most recently worked on)."""
        async with self._turn():
            conn = self._conn
            query = sa.select(runs)
            query = (
                query.where(runs.c.id == run_id)
                if run_id is not None
                else query.order_by(runs.c.updated_at.desc(), runs.c.id.desc()).limit(1)
            )
            run = (await conn.execute(query)).first()
            if run is None:
                await conn.commit()
                return None
            found = await conn.execute(
                sa.select(jobs.c.state, sa.func.count().label("n"))
                .join(run_jobs, run_jobs.c.job_id == jobs.c.id)
                .where(run_jobs.c.run_id == run.id)
                .group_by(jobs.c.state)
            )
            by_state = {row.state: int(row.n) for row in found}
            rows, invalid = (
                await conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.count().filter(run_rows.c.job_id.is_(None)),
                    ).where(run_rows.c.run_id == run.id)
                )
            ).one()
            await conn.commit()
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
            stop_kind=run.stop_kind,
            stop_reason=run.stop_reason,
            updated_at=run.updated_at,
        )

    async def output_columns(self, run_id: int) -> list[str]:
        """Every flat column the run's results fill, in order of first appearance."""
        async with self._turn():
            found = await self._conn.execute(
                sa.select(results.c.columns, sa.func.min(results.c.job_id).label("first"))
                .join(run_jobs, run_jobs.c.job_id == results.c.job_id)
                .where(run_jobs.c.run_id == run_id)
                .group_by(results.c.columns)
                .order_by(sa.text("first"))
            )
            signatures = [row.columns for row in found]
            await self._conn.commit()
        ordered: dict[str, None] = {}
        for signature in signatures:
            ordered.update(dict.fromkeys(json.loads(signature)))
        return list(ordered)

    async def output_rows(self, run_id: int) -> AsyncIterator[OutputRow]:
        """Every row of the run, in input order, with its job's state and result.

        Read a page at a time by row number (the primary key), as plain tuples: a million
        rows stream in flat memory without paying for a result object per row.
        """
        page = (
            sa.select(
                run_rows.c.row_no,
                run_rows.c.job_id,
                jobs.c.state,
                results.c.body,
                sa.func.coalesce(run_rows.c.note, jobs.c.last_error),
            )
            .select_from(run_rows)
            .outerjoin(jobs, jobs.c.id == run_rows.c.job_id)
            .outerjoin(results, results.c.job_id == run_rows.c.job_id)
            .where(
                run_rows.c.run_id == sa.bindparam("run"), run_rows.c.row_no > sa.bindparam("after")
            )
            .order_by(run_rows.c.row_no)
            .limit(_OUTPUT_PAGE)
        )
        states = {state.value: state for state in JobState}
        after = -1
        async with self._engine.connect() as conn:
            compiled = page.compile(dialect=conn.dialect)
            order = compiled.positiontup or []

            def fetch(sync: Connection, after: int) -> list[Any]:
                values = {**compiled.params, "run": run_id, "after": after}  # + LIMIT's own
                return list(sync.exec_driver_sql(compiled.string, tuple(values[k] for k in order)))

            while True:
                with anyio.CancelScope(shield=True):  # see _turn
                    rows = await conn.run_sync(fetch, after)
                if not rows:
                    break
                for row_no, job_id, state, body, error in rows:
                    yield OutputRow(row_no, job_id, states.get(state), body, error)
                after = rows[-1][0]


_OUTPUT_PAGE = 5000


def _enqueue_fresh(
    conn: Connection,
    run_id: int,
    entries: Sequence[RowEntry],
    now: float,
    known: OrderedDict[str, int],
) -> None:
    """Record rows the run does not hold yet: their jobs (shared by fingerprint), how many
    rows wait on each job, and the rows themselves. ``known`` maps fingerprints to job ids
    already in the store (jobs are never deleted), so repeated lookups cost no statement."""
    ids = {
        e.lookup.fingerprint: known[e.lookup.fingerprint]
        for e in entries
        if e.lookup is not None and e.lookup.fingerprint in known
    }
    by_fingerprint = {
        e.lookup.fingerprint: e.lookup
        for e in entries
        if e.lookup is not None and e.lookup.fingerprint not in ids
    }
    if by_fingerprint:
        _insert_many(
            conn,
            sqlite_insert(jobs).on_conflict_do_nothing(index_elements=["fingerprint"]),
            _JOB_COLUMNS,
            [
                (
                    fp,
                    lookup.api,
                    lookup.origin,
                    lookup.endpoint,
                    lookup.params_json(),
                    JobState.PENDING.value,
                    0,
                    0.0,
                    now,
                )
                for fp, lookup in by_fingerprint.items()
            ],
        )
        found = conn.execute(
            sa.select(jobs.c.fingerprint, jobs.c.id).where(
                jobs.c.fingerprint.in_(list(by_fingerprint))
            )
        )
        for row in found:
            ids[row.fingerprint] = known[row.fingerprint] = row.id
        while len(known) > _KNOWN_JOBS:
            known.popitem(last=False)
    rows_per_job = Counter(e.lookup.fingerprint for e in entries if e.lookup is not None)
    if rows_per_job:
        upsert = sqlite_insert(run_jobs)
        _insert_many(
            conn,
            upsert.on_conflict_do_update(
                index_elements=["run_id", "job_id"],
                set_={"rows": run_jobs.c.rows + upsert.excluded.rows},
            ),
            ("run_id", "job_id", "rows"),
            [(run_id, ids[fp], count) for fp, count in rows_per_job.items()],
        )
    _insert_many(
        conn,
        run_rows.insert(),
        ("run_id", "row_no", "job_id", "note"),
        [
            (run_id, e.row_no, ids[e.lookup.fingerprint] if e.lookup is not None else None, e.note)
            for e in entries
        ],
    )


_KNOWN_JOBS = 50_000  # fingerprints whose job ids the store remembers while enqueueing

_JOB_COLUMNS = (
    "fingerprint",
    "api",
    "origin",
    "endpoint",
    "params",
    "state",
    "attempts",
    "next_attempt_at",
    "updated_at",
)


def _insert_many(
    conn: Connection, statement: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """An INSERT of many rows, compiled once for the connection's dialect and sent as plain
    tuples: SQLAlchemy's per-row parameter handling would otherwise cost more than SQLite
    does. ``rows`` hold values in the order of ``columns``."""
    if not rows:
        return
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
    order = [columns.index(name) for name in compiled.positiontup]
    conn.exec_driver_sql(compiled.string, [tuple(row[i] for i in order) for row in rows])


def _apply_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], *, now: float, max_attempts: int
) -> None:
    """A fixed handful of executemany statements, however many outcomes: with aiosqlite
    every statement is a trip to its thread, so statements per outcome would cap the rate."""
    by_kind: dict[OutcomeKind, list[Outcome]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append(outcome)
    job_id: sa.BindParameter[int] = sa.bindparam("b_id")
    released = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    final = [
        *by_kind.get(OutcomeKind.DONE, []),
        *by_kind.get(OutcomeKind.NOT_FOUND, []),
        *by_kind.get(OutcomeKind.INVALID, []),
    ]
    if final:
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                state=sa.bindparam("b_state"),
                attempts=jobs.c.attempts + 1,
                last_status=sa.bindparam("b_status"),
                last_error=sa.bindparam("b_error"),
                **released,
            ),
            [
                {
                    "b_id": o.job_id,
                    "b_state": _FINAL_STATE[o.kind].value,
                    "b_status": o.status,
                    "b_error": o.error,
                }
                for o in final
            ],
        )
    gone = [*by_kind.get(OutcomeKind.NOT_FOUND, []), *by_kind.get(OutcomeKind.INVALID, [])]
    if gone:  # a refreshed lookup that no longer answers keeps no stale result
        conn.execute(
            results.delete().where(results.c.job_id == job_id), [{"b_id": o.job_id} for o in gone]
        )
    done = by_kind.get(OutcomeKind.DONE, [])
    if done:
        insert = sqlite_insert(results)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["job_id"],
                set_={c: insert.excluded[c] for c in ("status", "body", "columns", "fetched_at")},
            ),
            [
                {
                    "job_id": o.job_id,
                    "status": o.status or 200,
                    "body": o.body,
                    "columns": json.dumps(list(o.columns)),
                    "fetched_at": now,
                }
                for o in done
            ],
        )
    retry = by_kind.get(OutcomeKind.RETRY, [])
    if retry:
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                state=sa.case(
                    (jobs.c.attempts + 1 >= max_attempts, JobState.FAILED.value),
                    else_=JobState.PENDING.value,
                ),
                attempts=jobs.c.attempts + 1,
                next_attempt_at=sa.bindparam("b_next"),
                last_status=sa.bindparam("b_status"),
                last_error=sa.bindparam("b_error"),
                **released,
            ),
            [
                {
                    "b_id": o.job_id,
                    "b_next": o.next_attempt_at,
                    "b_status": o.status,
                    "b_error": o.error,
                }
                for o in retry
            ],
        )
    release = by_kind.get(OutcomeKind.RELEASE, [])
    if release:  # never sent, so no attempt is counted
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(state=JobState.PENDING.value, **released),
            [{"b_id": o.job_id} for o in release],
        )


def _lock_beside(path: Path) -> int:
    """Hold an exclusive OS lock on ``<store>.lock``; the OS drops it if the process dies."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreBusyError(
            f"another bulkfetch process is working on {path}; wait for it to finish, "
            "or give this run its own --db"
        ) from None
    return fd


def _reason(exc: SQLAlchemyError) -> str:
    if isinstance(exc, OperationalError) and exc.orig is not None:
        return str(exc.orig)
    return exc.__class__.__name__
