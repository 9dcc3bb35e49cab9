"""An API's reference data (the Labor Market's regions, say), kept per origin, so that the
checks before a run cost no request."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.store.access import Access
from bulkfetch.store.schema import reference

__all__ = ["Reference"]


class Reference:
    """Reference data by origin and name (``store.reference``): JSON values."""

    def __init__(self, access: Access) -> None:
        self._access = access

    async def get(self, origin: str, name: str) -> Any | None:
        """The value kept under ``name`` for an origin; None if never fetched."""

        def statements(conn: Connection) -> str | None:
            found: str | None = conn.execute(
                sa.select(reference.c.body).where(
                    reference.c.origin == origin, reference.c.name == name
                )
            ).scalar()
            return found

        body = await self._access.read(statements)
        return None if body is None else json.loads(body)

    async def put(self, origin: str, name: str, value: Any, *, now: float) -> None:
        """Keep ``value`` (JSON-able) under ``name`` for an origin, replacing what was."""

        def statements(conn: Connection) -> None:
            where = sa.and_(reference.c.origin == origin, reference.c.name == name)
            conn.execute(reference.delete().where(where))
            conn.execute(
                reference.insert().values(
                    origin=origin, name=name, body=json.dumps(value), fetched_at=now
                )
            )

        await self._access.write(statements)
