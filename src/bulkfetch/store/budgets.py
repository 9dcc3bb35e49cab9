"""One rate budget per API key, shared by every worker on the store (PostgreSQL): calls go
out on one grid of slots ``1/rate`` apart on the database's clock, whoever sends them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.records import SlotGrant, SlotRequest
from bulkfetch.store.schema import rate_budgets

__all__ = ["Budgets"]


class Budgets:
    """The keys' rate budgets (``store.budgets``)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def open(self, key_id: str, ceiling: float | None) -> None:
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

        await self._access.write(statements)

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

        return await self._access.write(statements)

    async def stop_of(self, key_id: str) -> tuple[str, str] | None:
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

        return await self._access.read(statements)

    async def stop(self, key_id: str, kind: str, reason: str) -> None:
        """Record a quota or key stop on the key's budget: every worker stops sending."""

        def statements(conn: Connection) -> None:
            conn.execute(
                rate_budgets.update()
                .where(rate_budgets.c.key_id == key_id, rate_budgets.c.stop_kind.is_(None))
                .values(stop_kind=kind, stop_reason=reason)
            )

        await self._access.write(statements)


def _now_expression(conn: Connection) -> Any:
    """The database's clock, in UNIX seconds: one clock for workers on many hosts."""
    if conn.dialect.name == "postgresql":
        return sa.func.extract("epoch", sa.func.clock_timestamp())
    return (sa.func.julianday("now") - 2440587.5) * 86400.0


def _database_now(conn: Connection) -> float:
    return float(conn.execute(sa.select(_now_expression(conn))).scalar_one())


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
