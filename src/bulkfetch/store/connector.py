"""How the store reaches its database, and runs its work there one transaction at a time.

The store's work is written as plain functions of a SQLAlchemy :class:`Connection`; a
:class:`Database` runs each in one transaction, committed when it returns and rolled back
when it raises.

SQLite runs on the event loop's own thread: its transactions take a millisecond or two,
less than a hop to a database thread costs while the loop is busy with HTTP (a driver
thread such as aiosqlite's takes three or four hops a statement, each waiting for the loop
and then for the GIL, which the busy loop holds for up to 5 ms at a time: 5 ms a commit,
measured, against 0.6 ms inline). Its log is synced at every commit (WAL with
``synchronous=FULL``), so that a commit the run has counted outlives a power cut, not only
a killed process: with NORMAL the last commits can go with the power, and their answers be
fetched and billed again uncounted. The sync is paid once a commit, not once a call: the
engine stores every outcome that landed meanwhile in one. At an API's pace that costs
nothing measurable; with no limit at all, on a local emulator, about a fifth of the lookups
a second, the loop waiting for the disk (``benchmarks/durability.py``).

A SQLite store is its owner's alone and marked as bulkfetch's; another program's file is
refused untouched (:mod:`bulkfetch.store.sqlite_file`). One process works on a SQLite
store at a time: it holds an OS lock on ``<store>.lock``.

PostgreSQL is reached through asyncpg, whose work is network I/O on the loop itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.lowlevel
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bulkfetch.errors import StoreError
from bulkfetch.store.sqlite_file import (
    APPLICATION_ID,
    check_ours,
    check_place,
    create_private,
    lock_beside,
)

if TYPE_CHECKING:  # a server database's driver is imported when one is opened
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["SYNCHRONOUS", "Database", "open_database"]

T = TypeVar("T")

# What a SQLite commit waits for. FULL: the log synced at each commit. A module setting so
# that benchmarks/durability.py can run the same engine on NORMAL (synced at checkpoints).
SYNCHRONOUS = "FULL"


class Database(Protocol):
    """One connection to the store's database."""

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes may work on the store at the same time."""
        ...

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in one transaction: committed if it returns, rolled back if not."""
        ...

    async def close(self) -> None: ...

    def discard(self) -> None:
        """After :meth:`close`: remove what opening it created (a new SQLite file and the
        files beside it); nothing for a database that was there before."""
        ...


async def open_database(target: str, *, exclusive: bool) -> Database:
    """The database at a path or SQLAlchemy URL.

    ``exclusive``: for SQLite, hold the store's lock, as a run must (``bulkfetch status``
    reads without it, beside a run in progress).
    """
    if "://" not in target:
        return _InlineSqlite.open(target, exclusive=exclusive)
    try:
        url = make_url(target)
    except ArgumentError:
        # Not quoted: a URL may hold a password.
        raise StoreError(
            "cannot read the store URL; give a file path or postgresql://user@host/database"
        ) from None
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise StoreError("a SQLite store needs a file: give --db a path")
        return _InlineSqlite.open(url.database, exclusive=exclusive)
    if url.get_backend_name() == "postgresql":
        return await _AsyncDriver.open(url.set(drivername="postgresql+asyncpg"))
    raise StoreError(
        f"the store must be a SQLite file or a PostgreSQL URL, not {url.get_backend_name()}"
    )


class _InlineSqlite:
    """SQLite through the standard library's driver, on the event loop's thread."""

    dialect = "sqlite"
    shared = False  # one process at a time: it holds the lock

    def __init__(
        self, engine: sa.Engine, conn: Connection, lock_fd: int | None, made: list[Path]
    ) -> None:
        self._engine = engine
        self._conn = conn
        self._lock_fd = lock_fd
        self._made = made  # files that opening it created

    @classmethod
    def open(cls, name: str, *, exclusive: bool) -> _InlineSqlite:
        path = Path(name).resolve()
        check_place(name, path)
        beside = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", ".lock")]
        made = [p for p in (path, *beside) if not p.exists()] if not path.exists() else []
        if not made and path.stat().st_size > 0:
            check_ours(name, path)  # before the lock file, or anything, is made
        lock_fd = lock_beside(path) if exclusive else None
        try:
            if made and not create_private(path):
                made = []  # made meanwhile by another: checked as any existing file
                if path.stat().st_size > 0:
                    check_ours(name, path)
            # The mark goes on a new store, and on an earlier one when a run opens it (a
            # reader beside a run, such as status, leaves that to the run).
            fresh = path.stat().st_size == 0
            pragmas = functools.partial(_sqlite_pragmas, mark=exclusive or fresh)
            engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
            sa.event.listen(engine, "connect", pragmas)
            conn = engine.connect()
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            for made_path in made:  # nothing of the store is in them yet
                made_path.unlink(missing_ok=True)
            raise
        return cls(engine, conn, lock_fd, made)

    def discard(self) -> None:
        for path in self._made:
            path.unlink(missing_ok=True)

    async def run(self, work: Callable[[Connection], T]) -> T:
        # A checkpoint first: a caller looping over store work still lets other tasks
        # (a signal's handler among them) run, and a cancellation lands before the work,
        # never inside it.
        await anyio.lowlevel.checkpoint()
        try:
            result = work(self._conn)
            self._conn.commit()
        except BaseException:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.rollback()
            raise
        return result

    async def close(self) -> None:
        self._conn.close()
        self._engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


# How long a server database may be gone (restarting, stopped) before a run or a worker
# gives up with the store's exit code; until then, its store calls wait and try again.
OUTAGE_SECONDS = 60.0


class _AsyncDriver:
    """A server database through SQLAlchemy's asyncio extension (asyncpg)."""

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection) -> None:
        self._engine = engine
        self._conn = conn
        url = engine.url
        self._where = f"{url.host}:{url.port or 5432}/{url.database}"  # never a password
        self._lock = anyio.Lock()
        self.dialect = engine.dialect.name
        self.shared = True

    @classmethod
    async def open(cls, url: sa.URL) -> _AsyncDriver:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            conn = await engine.connect()
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, conn)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction. A connection lost (the server restarted, or is
        down for a while) is made again, with backoff, and the transaction run again, for
        up to ``OUTAGE_SECONDS``: meanwhile every other store call waits behind this one,
        so the engine sends nothing it could not store."""
        # Shielded: a transaction abandoned half-way would leave the connection unusable.
        # Store work is short; a stop waits for it.
        with anyio.CancelScope(shield=True):
            async with self._lock:
                result = await self._until_answered(work)
        return result

    async def _until_answered(self, work: Callable[[Connection], T]) -> T:
        lost_since: float | None = None
        delay = 0.1
        while True:
            try:
                result = await self._conn.run_sync(work)
                await self._conn.commit()
                return result
            except BaseException as exc:
                with contextlib.suppress(SQLAlchemyError):
                    await self._conn.rollback()
                if not self._lost(exc):
                    raise
                now = anyio.current_time()
                lost_since = now if lost_since is None else lost_since
                if now - lost_since >= OUTAGE_SECONDS:
                    raise StoreError(
                        f"the database at {self._where} has not answered for "
                        f"{OUTAGE_SECONDS:.0f} s: {exc.__class__.__name__}. What was stored "
                        "is kept; once it is back, run the same command (or start the "
                        "workers) again"
                    ) from exc
            await anyio.sleep(delay)
            delay = min(2.0 * delay, 2.0)

    def _lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the connection to the server was lost or cannot be made (as
        opposed to a statement the server refused)."""
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return True
        orig = getattr(exc, "orig", None)
        if isinstance(orig, OSError):
            return True
        # Connection exceptions (08...), and the server shutting down or starting up.
        state = str(getattr(orig, "sqlstate", None) or "")
        if state.startswith("08") or state in {"57P01", "57P02", "57P03"}:
            return True
        return orig is not None and self._engine.dialect.is_disconnect(orig, None, None)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._conn.close()
            await self._engine.dispose()

    def discard(self) -> None:
        """A server's database was there before: nothing of it is removed."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, mark: bool) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout rides out a reader's brief lock.
    cursor.execute("PRAGMA busy_timeout=10000")
    if mark and cursor.execute("PRAGMA application_id").fetchone()[0] == 0:
        # Before WAL: a new file gets its mark in place, in its first page, so that even a
        # process killed before the first checkpoint leaves a file that says whose it is.
        # An earlier bulkfetch's store, which has none, gets it through its log.
        cursor.execute(f"PRAGMA application_id={APPLICATION_ID}")
    # WAL lets the output be read while a run writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
