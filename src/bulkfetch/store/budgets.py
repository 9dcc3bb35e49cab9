"""One rate budget per API key, shared by every worker on the store (PostgreSQL): the
pacing's state in one row, handed to one worker at a time under the row's lock, on the
database's clock. The store keeps that state; what is in it is the pacing's business."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.store.access import Access
from bulkfetch.store.compiled import execute
from bulkfetch.store.records import BudgetState, SlotDecision, SlotGrant
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

    async def take_slot(
        self, key_id: str, decide: Callable[[BudgetState], SlotDecision]
    ) -> SlotGrant:
        """The key's next send slot: ``decide`` is handed the budget as it stands, under
        the row's lock (one worker at a time), and its decision is kept. A stop some worker
        recorded is returned instead, with no decision asked for."""

        def statements(conn: Connection) -> SlotGrant:
            found = conn.execute(
                sa.select(rate_budgets, _now_expression(conn).label("now"))
                .where(rate_budgets.c.key_id == key_id)
                .with_for_update()
            ).one()
            now = float(found.now)
            if found.stop_kind is not None:
                return SlotGrant(now, now, found.rate, found.stop_kind, found.stop_reason)
            decision = decide(BudgetState(found.ceiling, found.pacing, now))
            conn.execute(
                rate_budgets.update()
                .where(rate_budgets.c.key_id == key_id)
                .values(pacing=decision.pacing, rate=decision.rate, updated_at=now)
            )
            return SlotGrant(decision.slot, now, decision.rate)

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
            updated_at=sa.bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["key_id"])
    )
