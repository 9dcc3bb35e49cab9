"""Statements built once with SQLAlchemy Core, compiled once per dialect, and sent to the
driver as plain tuples: building, compiling and binding through SQLAlchemy on every call
would cost more than the database does, at thousands of lookups a second."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["execute", "insert_many"]


def insert_many(
    conn: Connection, statement: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """An INSERT of many rows, sent as plain tuples (see :func:`_execute`). ``rows`` hold
    values in the order of ``columns``."""
    if not rows:
        return
    compiled = _compile(conn, statement, columns)
    if compiled.order == tuple(columns):  # the SQL takes them in their order: as they are
        conn.exec_driver_sql(compiled.sql, list(rows))
        return
    order = [columns.index(name) for name in compiled.order]
    conn.exec_driver_sql(compiled.sql, [tuple(row[i] for i in order) for row in rows])


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...]  # the bound parameters' names, in the order the SQL takes them
    fixed: dict[str, Any]  # values the statement itself binds (literals in its clauses)
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]  # a mapping's values in that order

    def values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """The statement's parameters from ``params`` (which override what it binds)."""
        return self.pick({**self.fixed, **params} if self.fixed else params)


def _picker(order: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """``order``'s values of a mapping, as a tuple (in C: thousands of rows a commit)."""
    if len(order) == 1:
        (name,) = order
        return lambda params: (params[name],)
    return operator.itemgetter(*order) if order else lambda _params: ()


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
        order = tuple(compiled.positiontup or ())
        found = _COMPILED[key] = _Compiled(
            compiled.string,
            order,
            {k: v for k, v in compiled.params.items() if k not in required},
            _picker(order),
        )
    return found


def _insert_for(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL's imported only for it)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


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
