"""The store's statements: built once with SQLAlchemy Core, compiled once per dialect,
and sent to the driver as plain tuples. Building, compiling and binding through SQLAlchemy
on every call would cost more than the database does, at thousands of lookups a second."""

from __future__ import annotations

import functools
import json
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bulkfetch.jobs import JobState, Outcome, OutcomeKind
from bulkfetch.store.records import RowEntry
from bulkfetch.store.schema import jobs, rate_budgets, results, run_jobs, run_rows, runs

__all__ = [
    "apply_outcomes",
    "count_calls",
    "due_jobs",
    "enqueue_fresh",
    "execute",
    "expired_leases",
    "insert_budget",
    "insert_run",
    "lease_job",
    "output_page",
    "release_expired",
    "renew_leases",
]

_FINAL_STATE = {
    OutcomeKind.DONE: JobState.DONE,
    OutcomeKind.NOT_FOUND: JobState.NOT_FOUND,
    OutcomeKind.INVALID: JobState.INVALID,
}


def enqueue_fresh(
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
            _insert_job,
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
        _insert_many(
            conn,
            _count_rows_of_job,
            ("run_id", "job_id", "rows"),
            [(run_id, ids[fp], count) for fp, count in rows_per_job.items()],
        )
    _insert_many(
        conn,
        _insert_row,
        ("run_id", "row_no", "job_id", "note", "fields"),
        [
            (
                run_id,
                e.row_no,
                ids[e.lookup.fingerprint] if e.lookup is not None else None,
                e.note,
                json.dumps(list(e.fields), ensure_ascii=False, separators=(",", ":")),
            )
            for e in entries
        ],
    )


def _insert_job(insert: Any) -> Any:
    return insert(jobs).on_conflict_do_nothing(index_elements=["fingerprint"])


def _count_rows_of_job(insert: Any) -> Any:
    upsert = insert(run_jobs)
    return upsert.on_conflict_do_update(
        index_elements=["run_id", "job_id"],
        set_={"rows": run_jobs.c.rows + upsert.excluded.rows},
    )


_insert_row = run_rows.insert()

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
    """An INSERT of many rows, sent as plain tuples (see :func:`_execute`). ``rows`` hold
    values in the order of ``columns``."""
    if not rows:
        return
    compiled = _compile(conn, statement, columns)
    order = [columns.index(name) for name in compiled.order]
    conn.exec_driver_sql(compiled.sql, [tuple(row[i] for i in order) for row in rows])


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...]  # the bound parameters' names, in the order the SQL takes them
    fixed: dict[str, Any]  # values the statement itself binds (literals in its clauses)

    def values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        fixed = self.fixed
        return tuple(params[k] if k in params else fixed[k] for k in self.order)


_COMPILED: dict[tuple[str, Any, tuple[str, ...]], _Compiled] = {}


def _compile(conn: Connection, build: Any, columns: Sequence[str] = ()) -> _Compiled:
    """``build`` (a statement, or a function of the dialect's INSERT that makes one)
    compiled once per dialect."""
    key = (conn.dialect.name, build, tuple(columns))
    found = _COMPILED.get(key)
    if found is None:
        statement = build(_insert_for(conn)) if callable(build) else build
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns) or None)
        # A parameter the statement leaves open must be given: none falls back to NULL.
        required = {name for name, bind in compiled.binds.items() if bind.required}
        found = _COMPILED[key] = _Compiled(
            compiled.string,
            tuple(compiled.positiontup or ()),
            {k: v for k, v in compiled.params.items() if k not in required},
        )
    return found


def _insert_for(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert


def execute(conn: Connection, build: Any, params: dict[str, Any] | Sequence[dict[str, Any]]) -> Any:
    """Run a statement of the work loop with named parameters (one dict, or many for an
    executemany). Compiled once and sent to the driver as plain tuples: building, compiling
    and binding through SQLAlchemy on every call would cost more than the database does."""
    compiled = _compile(conn, build)
    if isinstance(params, dict):
        return conn.exec_driver_sql(compiled.sql, compiled.values(params))
    if not params:
        return None
    return conn.exec_driver_sql(compiled.sql, [compiled.values(p) for p in params])


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

# -- the work loop's statements -----------------------------------------------------------

due_jobs = (
    sa.select(
        jobs.c.id,
        jobs.c.api,
        jobs.c.origin,
        jobs.c.endpoint,
        jobs.c.params,
        jobs.c.attempts,
        run_jobs.c.rows,
    )
    .join(run_jobs, run_jobs.c.job_id == jobs.c.id)
    .where(
        run_jobs.c.run_id == sa.bindparam("run"),
        jobs.c.state == JobState.PENDING.value,
        jobs.c.next_attempt_at <= sa.bindparam("now"),
    )
    .order_by(jobs.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    # PostgreSQL: workers claiming at once each take other jobs; SQLite ignores it.
    .with_for_update(of=jobs, skip_locked=True)
)

lease_job = (
    jobs.update()
    .where(jobs.c.id == sa.bindparam("id"))
    .values(
        state=JobState.IN_FLIGHT.value,
        lease_owner=sa.bindparam("owner"),
        lease_expires_at=sa.bindparam("expires"),
        updated_at=sa.bindparam("now"),
    )
)

_released: dict[str, Any] = {
    "lease_owner": None,
    "lease_expires_at": None,
    "updated_at": sa.bindparam("now"),
}

# An outcome lands only while its worker holds the lease: a worker that lost it (stalled
# past the lease, its job claimed again by another) must not overwrite that one's work.
_leased_by_owner = sa.and_(
    jobs.c.id == sa.bindparam("id"), jobs.c.lease_owner == sa.bindparam("owner")
)

_settle_job = (
    jobs.update()
    .where(_leased_by_owner)
    .values(
        state=sa.bindparam("state"),
        attempts=jobs.c.attempts + 1,
        last_status=sa.bindparam("status"),
        last_error=sa.bindparam("error"),
        **_released,
    )
)

_retry_job = (
    jobs.update()
    .where(_leased_by_owner)
    .values(
        state=sa.case(
            (jobs.c.attempts + 1 >= sa.bindparam("max_attempts"), JobState.FAILED.value),
            else_=JobState.PENDING.value,
        ),
        attempts=jobs.c.attempts + 1,
        next_attempt_at=sa.bindparam("next"),
        last_status=sa.bindparam("status"),
        last_error=sa.bindparam("error"),
        **_released,
    )
)

_release_job = (  # never sent, so no attempt is counted
    jobs.update().where(_leased_by_owner).values(state=JobState.PENDING.value, **_released)
)

renew_leases = (
    jobs.update()
    .where(jobs.c.state == JobState.IN_FLIGHT.value, jobs.c.lease_owner == sa.bindparam("owner"))
    .values(lease_expires_at=sa.bindparam("until"))
)

expired_leases = (
    sa.select(jobs.c.id)
    .where(
        jobs.c.state == JobState.IN_FLIGHT.value,
        jobs.c.lease_expires_at < sa.bindparam("now"),
    )
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)

release_expired = (
    jobs.update()
    .where(jobs.c.id == sa.bindparam("id"), jobs.c.state == JobState.IN_FLIGHT.value)
    .values(
        state=JobState.PENDING.value,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=sa.bindparam("now"),
    )
)


def insert_budget(insert: Any) -> Any:
    """A key's budget, unless it exists."""
    return (
        insert(rate_budgets)
        .values(
            key_id=sa.bindparam("key_id"),
            ceiling=sa.bindparam("ceiling"),
            rate=sa.bindparam("ceiling"),
            next_slot=0.0,
            resume_at=0.0,
            updated_at=sa.bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["key_id"])
    )


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
            created_at=sa.bindparam("now"),
            updated_at=sa.bindparam("now"),
            rows_enqueued=0,
            enqueue_complete=False,
            calls=0,
            rate_limited=0,
            retries=0,
            reclaimed=0,
            connect_failures=0,
        )
        .on_conflict_do_nothing(index_elements=["run_key"])
    )


_forget_result = results.delete().where(results.c.job_id == sa.bindparam("id"))


def _store_result(insert: Any) -> Any:
    statement = insert(results).values(
        job_id=sa.bindparam("id"),
        status=sa.bindparam("status"),
        body=sa.bindparam("body"),
        columns=sa.bindparam("columns"),
        fetched_at=sa.bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=["job_id"],
        set_={c: statement.excluded[c] for c in ("status", "body", "columns", "fetched_at")},
    )


count_calls = (
    runs.update()
    .where(runs.c.id == sa.bindparam("run"))
    .values(
        calls=runs.c.calls + sa.bindparam("calls"),
        rate_limited=runs.c.rate_limited + sa.bindparam("limited"),
        retries=runs.c.retries + sa.bindparam("retries"),
        connect_failures=runs.c.connect_failures + sa.bindparam("unconnected"),
        updated_at=sa.bindparam("now"),
    )
)


def apply_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], *, now: float, max_attempts: int, owner: str
) -> None:
    """A fixed handful of executemany statements, however many outcomes: a statement costs
    far more than a row of one (and a round trip on PostgreSQL)."""
    by_kind: dict[OutcomeKind, list[Outcome]] = {kind: [] for kind in OutcomeKind}
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    final = [
        *by_kind[OutcomeKind.DONE],
        *by_kind[OutcomeKind.NOT_FOUND],
        *by_kind[OutcomeKind.INVALID],
    ]
    execute(
        conn,
        _settle_job,
        [
            {
                "id": o.job_id,
                "state": _FINAL_STATE[o.kind].value,
                "status": o.status,
                "error": o.error,
                "now": now,
                "owner": owner,
            }
            for o in final
        ],
    )
    # A final answer with a body (a 200; a not-found that carries warnings) keeps it; one
    # without (a refreshed lookup that no longer answers) keeps no stale result.
    kept = [o for o in final if o.body is not None]
    gone = [o for o in final if o.body is None]
    execute(conn, _forget_result, [{"id": o.job_id} for o in gone])
    execute(
        conn,
        _store_result,
        [
            {
                "id": o.job_id,
                "status": o.status or 200,
                "body": o.body,
                "columns": _columns_json(o.columns),
                "now": now,
            }
            for o in kept
        ],
    )
    execute(
        conn,
        _retry_job,
        [
            {
                "id": o.job_id,
                "next": o.next_attempt_at,
                "status": o.status,
                "error": o.error,
                "max_attempts": max_attempts,
                "now": now,
                "owner": owner,
            }
            for o in by_kind[OutcomeKind.RETRY]
        ],
    )
    execute(
        conn,
        _release_job,
        [{"id": o.job_id, "now": now, "owner": owner} for o in by_kind[OutcomeKind.RELEASE]],
    )


@functools.lru_cache(maxsize=1024)
def _columns_json(columns: tuple[str, ...]) -> str:
    """Results of one shape share their column list: serialise it once."""
    return json.dumps(list(columns))
