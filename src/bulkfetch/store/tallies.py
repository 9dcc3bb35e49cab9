"""What a run's calls did each second (``store.tallies``): counted in a process as they
land, added to the store's rows of those seconds, and read back for the run's report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.store.access import Access
from bulkfetch.store.compiled import insert_many
from bulkfetch.store.schema import run_seconds

__all__ = ["Second", "Tallies"]

_COLUMNS = ("run_id", "second", "calls", "rate_limited", "failed", "answered", "latency", "pace")


@dataclass(slots=True)
class Second:
    """One second's calls of a run: sent, answered 429, failed, answered (and their
    seconds, summed), and the pace they went out at (None: no limit)."""

    calls: int = 0
    rate_limited: int = 0
    failed: int = 0
    answered: int = 0
    latency: float = 0.0
    pace: float | None = None


class Tallies:
    """The store's per-second counts of its runs' calls."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def add(self, run_id: int, seconds: Mapping[int, Second]) -> None:
        """Add these seconds' counts to what the store has of them (a worker's and another's
        of the same second add up)."""
        if not seconds:
            return
        rows = [
            (run_id, at, s.calls, s.rate_limited, s.failed, s.answered, s.latency, s.pace)
            for at, s in sorted(seconds.items())
        ]

        def statements(conn: Connection) -> None:
            insert_many(conn, _add, _COLUMNS, rows)

        await self._access.write(statements)

    async def of(self, run_id: int) -> list[tuple[int, Second]]:
        """Every second the run sent calls in, in order, with its counts."""

        def statements(conn: Connection) -> Sequence[Any]:
            return conn.execute(
                sa.select(*[run_seconds.c[name] for name in _COLUMNS[1:]])
                .where(run_seconds.c.run_id == run_id)
                .order_by(run_seconds.c.second)
            ).all()

        return [(int(row[0]), Second(*row[1:])) for row in await self._access.read(statements)]


def _add(insert: Any) -> Any:
    upsert = insert(run_seconds)
    c, new = run_seconds.c, upsert.excluded
    return upsert.on_conflict_do_update(
        index_elements=["run_id", "second"],
        set_={
            "calls": c.calls + new.calls,
            "rate_limited": c.rate_limited + new.rate_limited,
            "failed": c.failed + new.failed,
            "answered": c.answered + new.answered,
            "latency": c.latency + new.latency,
            "pace": sa.func.coalesce(new.pace, c.pace),
        },
    )
