"""A SQLite store's file: where it may be made, for whom, how it is told from another
program's database, and the lock that keeps it to one process at a time.

A store is its owner's alone, and marked as bulkfetch's: made with mode 0o600 (SQLite gives
its ``-wal`` and ``-shm`` the same), as is its lock, and with ``PRAGMA application_id`` set
to :data:`APPLICATION_ID`. An existing file that is not a store is refused (a
:class:`~bulkfetch.errors.UsageError`) before a byte is written to it or beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

from bulkfetch.errors import StoreBusyError, StoreError, UsageError

__all__ = ["APPLICATION_ID", "check_ours", "check_place", "create_private", "lock_beside"]

# The mark in a SQLite store's header (PRAGMA application_id): "bulk" in ASCII.
APPLICATION_ID = 0x62756C6B


def check_place(name: str, path: Path) -> None:
    """Refuse, before anything is made, a store path that is a folder or in no folder."""
    if path.is_dir():
        raise UsageError(f"cannot use {name} as the store: it is a folder; give --db a file name")
    folder = path.parent
    if not folder.is_dir():
        given = Path(name).parent
        shown = given if given.resolve() == folder else folder
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(
            f"cannot make the store {name}: the folder {shown} {what}; give --db a file in "
            "a folder that exists"
        )


def create_private(path: Path) -> bool:
    """Make a new store's file, for its owner's eyes only: it will hold every input row and
    answer, and SQLite gives the files it makes beside it the same permissions. False if
    the file exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


_SQLITE_HEADER = b"SQLite format 3\x00"


def check_ours(name: str, path: Path) -> None:
    """Refuse an existing, non-empty file that is not a store, writing nothing to it or
    beside it."""
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_HEADER):
        raise _not_ours(name, "is not a SQLite database")
    found = int.from_bytes(header[68:72], "big")
    if found == APPLICATION_ID:
        return
    if found != 0:
        raise _not_ours(name, f"has application_id 0x{found:08x} of another program")
    tables = _tables_unless_a_store(name, path)
    if tables is not None:
        listed = ", ".join(tables[:8]) + (", ..." if len(tables) > 8 else "")
        what = f"tables: {listed}" if tables else "no tables"
        raise _not_ours(name, f"is a SQLite database of another program ({what})")


def _tables_unless_a_store(name: str, path: Path) -> list[str] | None:
    """None if an unmarked SQLite file is a store: an earlier bulkfetch's (it set no
    application_id, but made the ``meta`` table with the schema's version), or one whose
    mark is still in the log a killed process left. Else the file's tables."""
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    logged = wal.exists() and wal.stat().st_size > 0
    had_shm = shm.exists()
    # With no log to read, immutable: SQLite then makes no -wal or -shm beside a file in
    # WAL mode (mode=ro alone makes them, and leaves them). A killed process's log holds
    # commits not yet in the file: mode=ro reads them, through the -shm (made if missing).
    uri = path.as_uri() + ("?mode=ro" if logged else "?mode=ro&immutable=1")
    tables: list[str] | None = []
    try:
        reader = sqlite3.connect(uri, uri=True)
        try:
            tables = _tables_unless_marked(reader)
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise _not_ours(name, f"cannot be read as SQLite ({exc})") from None
    finally:
        if tables is not None and not had_shm:
            shm.unlink(missing_ok=True)  # what reading it made beside another's file
    return tables


def _tables_unless_marked(reader: sqlite3.Connection) -> list[str] | None:
    if reader.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
        return None
    query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
    tables = [str(name) for (name,) in reader.execute(query) if not name.startswith("sqlite_")]
    if "meta" in tables:
        with contextlib.suppress(sqlite3.Error):  # another program's table called meta
            if reader.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone():
                return None
    return tables


def _not_ours(name: str, what: str) -> UsageError:
    return UsageError(
        f"cannot use {name} as the store: it {what}, and is left as it was. Give --db a new "
        "file (or a store bulkfetch made)"
    )


def lock_beside(path: Path) -> int:
    """Hold an exclusive OS lock on ``<store>.lock``; the OS drops it if the process dies."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreBusyError(
            f"another bulkfetch process is working on {path}; wait for it to finish, "
            "or give this run its own --db"
        ) from None
    return fd
