"""The queue's statements: claiming and leasing jobs, and storing the outcomes of calls, a
fixed handful of executemany statements whatever their number (enqueueing rows and their
jobs: :mod:`bulkfetch.store.enqueue_sql`)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.jobs import JobState, Outcome, OutcomeKind
from bulkfetch.store.compiled import execute
from bulkfetch.store.schema import jobs, results, run_jobs, runs

__all__ = [
    "apply_outcomes",
    "cap_room",
    "count_calls",
    "due_jobs",
    "expired_leases",
    "lease_job",
    "release_expired",
    "renew_leases",
]

_FINAL_STATE = {
    OutcomeKind.DONE: JobState.DONE,
    OutcomeKind.NOT_FOUND: JobState.NOT_FOUND,
    OutcomeKind.INVALID: JobState.INVALID,
}


def cap_room(conn: Connection, run_id: int) -> int | None:
    """How many more lookups the run may send under its cap on billed units (None: it has
    none): the cap, less the units billed and possibly billed, less its lookups in flight
    (each may be billed). With a cap, the run's row stays locked (PostgreSQL) until the
    claim commits: workers of one run claim in turn, and never share the same room."""
    capped = sa.select(runs.c.max_units).where(runs.c.id == run_id)
    if conn.execute(capped).scalar() is None:
        return None
    run = conn.execute(
        sa.select(runs.c.max_units, runs.c.billed, runs.c.maybe_billed, runs.c.reclaimed)
        .where(runs.c.id == run_id)
        .with_for_update()
    ).one()
    in_flight = conn.execute(
        sa.select(sa.func.count())
        .select_from(run_jobs)
        .join(jobs, jobs.c.id == run_jobs.c.job_id)
        .where(run_jobs.c.run_id == run_id, jobs.c.state == JobState.IN_FLIGHT.value)
    ).scalar_one()
    return int(run.max_units - run.billed - run.maybe_billed - run.reclaimed - in_flight)


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

_release_job = (  # not answered about (never sent, a 429), so no attempt is counted
    jobs.update()
    .where(_leased_by_owner)
    .values(state=JobState.PENDING.value, next_attempt_at=sa.bindparam("next"), **_released)
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
        billed=runs.c.billed + sa.bindparam("billed"),
        maybe_billed=runs.c.maybe_billed + sa.bindparam("maybe_billed"),
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
        [
            {"id": o.job_id, "now": now, "owner": owner, "next": o.next_attempt_at}
            for o in by_kind[OutcomeKind.RELEASE]
        ],
    )


@functools.lru_cache(maxsize=1024)
def _columns_json(columns: tuple[str, ...]) -> str:
    """Results of one shape share their column list: serialise it once."""
    return json.dumps(list(columns))
