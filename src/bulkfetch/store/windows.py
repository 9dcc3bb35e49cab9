"""What each key spent of its allowances over longer windows (a minute, an hour, a day, a
month), shared by every worker and every run on the store: one counter a key and unit,
counting the calls of the window it holds, taken under the rows' locks, one worker at a
time. Which window a moment is in, and what to do once one is spent, is the pacing's
business."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.records import Allowance
from bulkfetch.store.schema import rate_windows

__all__ = ["Windows"]


class Windows:
    """The keys' spend over longer windows (``store.windows``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def open(self, key_id: str, units: Sequence[str]) -> None:
        """Ready the key's counters of these units, before any :meth:`take` (a counter made
        now has counted nothing; one there already keeps what it counted)."""

        def statements(conn: Connection) -> None:
            execute(conn, insert_window, [{"key_id": key_id, "unit": unit} for unit in units])

        await self._access.write(statements)

    async def take(self, key_id: str, allowances: Sequence[Allowance]) -> list[str]:
        """Count one call in each allowance's window if every one has room, and give no
        unit; else count none, and give the units whose allowance is spent."""

        def statements(conn: Connection) -> list[str]:
            counted = _counted(conn, key_id, allowances, lock=True)
            pairs = list(zip(allowances, counted, strict=True))
            spent = [allowance.unit for allowance, (_, calls) in pairs if calls >= allowance.calls]
            if not spent:
                for allowance, (starts_at, calls) in pairs:
                    conn.execute(
                        rate_windows.update()
                        .where(
                            rate_windows.c.key_id == key_id,
                            rate_windows.c.unit == allowance.unit,
                        )
                        .values(starts_at=starts_at, calls=calls + 1)
                    )
            return spent

        return await self._access.write(statements)

    async def spent(self, key_id: str, allowances: Sequence[Allowance]) -> list[int]:
        """The calls counted so far in each allowance's window (0 for a key never seen)."""

        def statements(conn: Connection) -> list[int]:
            return [calls for _, calls in _counted(conn, key_id, allowances, lock=False)]

        return await self._access.read(statements)


def _counted(
    conn: Connection, key_id: str, allowances: Sequence[Allowance], *, lock: bool
) -> list[tuple[float, int]]:
    """Each allowance's window as the store counts it, and its calls so far: a counter of
    an earlier window counts none of this one; one of a later window (a worker whose clock
    is a little ahead moved it on) is the window a call joins now."""
    query = sa.select(rate_windows.c.unit, rate_windows.c.starts_at, rate_windows.c.calls).where(
        rate_windows.c.key_id == key_id
    )
    found = {
        row.unit: (float(row.starts_at), int(row.calls))
        for row in conn.execute(query.with_for_update() if lock else query)
    }
    counted = []
    for allowance in allowances:
        starts_at, calls = found.get(allowance.unit, (allowance.starts_at, 0))
        if starts_at < allowance.starts_at:
            starts_at, calls = allowance.starts_at, 0
        counted.append((starts_at, calls))
    return counted


def insert_window(insert: Any) -> Any:
    """A key's counter of a unit, unless it exists: at no window yet, with no call."""
    return (
        insert(rate_windows)
        .values(
            key_id=sa.bindparam("key_id"),
            unit=sa.bindparam("unit"),
            starts_at=0.0,
            calls=0,
        )
        .on_conflict_do_nothing(index_elements=["key_id", "unit"])
    )
