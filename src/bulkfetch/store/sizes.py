"""What a plan asks the store before a run: which of its lookups the store holds (and has
answered), how many rows of a run it holds, and what the answers of a kind of lookup take
in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.jobs import JobState
from bulkfetch.store.access import Access
from bulkfetch.store.schema import ANSWERED_STATES, FINAL_STATES, jobs, results, runs

__all__ = ["AnswerSizes", "Sizes"]

SAMPLE = 20_000  # the last answered jobs of each answered state looked at for their sizes


@dataclass(frozen=True, slots=True)
class AnswerSizes:
    """The answers of one kind of lookup among the store's last: how many were answered,
    and the characters of what was kept of them (bodies and their column lists)."""

    answered: int
    kept_chars: int

    @property
    def per_lookup(self) -> float:
        """What an answered lookup of the kind keeps, on average (none kept for some)."""
        return self.kept_chars / self.answered


class Sizes:
    """The store as a plan measures it (``store.sizes``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def held(self, fingerprints: Sequence[str], since: float | None) -> tuple[int, int]:
        """How many of these lookups the store holds a job for, and how many of those it
        has a final answer for (answered at or after ``since``, when given: an older
        answer is to be fetched again)."""

        def statements(conn: Connection) -> tuple[int, int]:
            final: sa.ColumnElement[bool] = jobs.c.state.in_(FINAL_STATES)
            if since is not None:
                final = sa.and_(
                    final,
                    sa.or_(jobs.c.state.not_in(ANSWERED_STATES), jobs.c.updated_at >= since),
                )
            present, answered = conn.execute(
                sa.select(sa.func.count(), sa.func.count().filter(final)).where(
                    jobs.c.fingerprint.in_(list(fingerprints))
                )
            ).one()
            return int(present), int(answered)

        return await self._access.read(statements)

    async def rows_held(self, run_key: str) -> int:
        """How many input rows the run of this key holds (0: no such run)."""

        def statements(conn: Connection) -> int:
            found = conn.execute(
                sa.select(runs.c.rows_enqueued).where(runs.c.run_key == run_key)
            ).scalar()
            return int(found or 0)

        return await self._access.read(statements)

    async def answers(self, api: str, origin: str, endpoint: str) -> AnswerSizes | None:
        """What the answers of this kind of lookup keep, from the store's last answered
        jobs (a bounded look, by the index of states: not a scan of a big store); None if
        none of those is of the kind."""

        def statements(conn: Connection) -> AnswerSizes | None:
            size = sa.func.length(results.c.body) + sa.func.length(results.c.columns)
            kind = (api, origin, endpoint)
            seen: list[tuple[int, int]] = []  # (job id, what it keeps) of the kind
            since = 0  # the ids from which the newest of both states are all looked at
            for state in (JobState.DONE, JobState.NOT_FOUND):
                newest = (
                    sa.select(jobs.c.id, jobs.c.api, jobs.c.origin, jobs.c.endpoint)
                    .where(jobs.c.state == state.value)
                    .order_by(jobs.c.id.desc())
                    .limit(SAMPLE)
                    .subquery()
                )
                found = conn.execute(
                    sa.select(newest, sa.func.coalesce(size, 0))
                    .select_from(newest)
                    .outerjoin(results, results.c.job_id == newest.c.id)
                ).all()
                if len(found) == SAMPLE:
                    since = max(since, min(row[0] for row in found))
                seen += [(row[0], row[4]) for row in found if tuple(row[1:4]) == kind]
            # Each state's over the same ids, as they came: not the older of one of them.
            kept = [chars for job_id, chars in seen if job_id >= since]
            return AnswerSizes(len(kept), sum(kept)) if kept else None

        return await self._access.read(statements)
