"""A PostgreSQL database of a test's (or a benchmark's) own, on a server it is given."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import sqlalchemy as sa

__all__ = ["scratch_database"]


@contextmanager
def scratch_database(server: str, prefix: str) -> Iterator[str]:
    """A fresh database of its own on the PostgreSQL ``server`` (a URL), dropped after."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.make_url(server).set(drivername="postgresql")

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
