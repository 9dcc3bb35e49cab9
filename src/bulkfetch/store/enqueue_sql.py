"""The enqueue's statements: input rows and their jobs recorded, for a run or for every run
of a pass over one input, a fixed handful of executemany statements a chunk whatever its
size."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch import speedups
from bulkfetch.jobs import JobState, Lookup
from bulkfetch.store.compiled import execute, insert_many
from bulkfetch.store.records import RowEntry
from bulkfetch.store.schema import jobs, run_jobs, run_rows

__all__ = ["enqueue_fresh"]


def enqueue_fresh(
    conn: Connection,
    batches: Sequence[tuple[int, Sequence[RowEntry]]],
    now: float,
    known: OrderedDict[str, int],
) -> None:
    """Record rows runs do not hold yet (a run's, or each run's of a pass over one input):
    their jobs (shared by fingerprint), how many rows of each run wait on each job, and the
    rows themselves, a statement each for all the runs. ``known`` maps fingerprints to job
    ids already in the store (jobs are never deleted), so repeated lookups cost no
    statement."""
    ids: dict[str, int] = {}
    new: dict[str, Lookup] = {}
    for _, entries in batches:
        for entry in entries:
            lookup = entry.lookup
            if lookup is None:
                continue
            fingerprint = lookup.fingerprint
            if fingerprint in ids or fingerprint in new:
                continue
            job_id = known.get(fingerprint)
            if job_id is None:
                new[fingerprint] = lookup
            else:
                ids[fingerprint] = job_id
    if new:
        last = conn.execute(_last_job).scalar() or 0
        insert_many(
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
                for fp, lookup in new.items()
            ],
        )
        # The jobs made now have ids above the last before (the store's lock, or the
        # sequence, gives them in order): read back in id order, by the primary key, not
        # looked for by fingerprint. A lookup another run made meanwhile is looked for.
        for fingerprint, job_id in execute(conn, _jobs_after, {"after": last}).all():
            if fingerprint in new:
                ids[fingerprint] = known[fingerprint] = job_id
        wanted = [fingerprint for fingerprint in new if fingerprint not in ids]
        for at in range(0, len(wanted), _IDS_A_STATEMENT):
            some = wanted[at : at + _IDS_A_STATEMENT]
            for fingerprint, job_id in conn.execute(_job_ids, {"some": some}).all():
                ids[fingerprint] = known[fingerprint] = job_id
        while len(known) > _KNOWN_JOBS:
            known.popitem(last=False)
    rows_per_job: Counter[tuple[int, int]] = Counter()
    rows: list[tuple[int, int, int | None, str | None, str | None]] = []
    dumps = speedups.dumps
    for run_id, entries in batches:
        for entry in entries:
            job_id = None if entry.lookup is None else ids[entry.lookup.fingerprint]
            if job_id is not None:
                rows_per_job[run_id, job_id] += 1
            fields = entry.fields
            rows.append(
                (
                    run_id,
                    entry.row_no,
                    job_id,
                    entry.note,
                    None if fields is None else dumps(list(fields)),
                )
            )
    if rows_per_job:
        insert_many(
            conn,
            _count_rows_of_job,
            ("run_id", "job_id", "rows"),
            [(run_id, job_id, count) for (run_id, job_id), count in rows_per_job.items()],
        )
    insert_many(conn, _insert_row, ("run_id", "row_no", "job_id", "note", "fields"), rows)


def _insert_job(insert: Any) -> Any:
    return insert(jobs).on_conflict_do_nothing(index_elements=["fingerprint"])


def _count_rows_of_job(insert: Any) -> Any:
    upsert = insert(run_jobs)
    return upsert.on_conflict_do_update(
        index_elements=["run_id", "job_id"],
        set_={"rows": run_jobs.c.rows + upsert.excluded.rows},
    )


_insert_row = run_rows.insert()

_job_ids = sa.select(jobs.c.fingerprint, jobs.c.id).where(
    jobs.c.fingerprint.in_(sa.bindparam("some", expanding=True))
)
_last_job = sa.select(sa.func.max(jobs.c.id))
_jobs_after = sa.select(jobs.c.fingerprint, jobs.c.id).where(jobs.c.id > sa.bindparam("after"))

_KNOWN_JOBS = 50_000  # fingerprints whose job ids the store remembers while enqueueing
_IDS_A_STATEMENT = 5000  # fingerprints asked for at once (both databases bound 32,766)

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
