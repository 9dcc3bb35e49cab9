"""The store's SQLite files: marked as bulkfetch's, others' files refused untouched, its
owner's alone, synced at every commit, and a --db that cannot be made refused at once."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkfetch.errors import UsageError
from bulkfetch.samples import write_postcode_file
from bulkfetch.store import RunSpec, Store
from bulkfetch.store.migrations import SCHEMA_VERSION
from bulkfetch.store.sqlite_file import APPLICATION_ID
from tests.conftest import run_cli

SPEC = RunSpec(run_key="k1", api="crystalroof", endpoint="a/b", description="test run")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def header_mark(path: Path) -> int:
    """The application_id in the file's own header (not its log): bytes 68-71."""
    with open(path, "rb") as handle:
        return int.from_bytes(handle.read(100)[68:72], "big")


def mark_of(path: Path) -> int:
    """The application_id SQLite reads, its log included."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA application_id").fetchone()[0])


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


# An earlier bulkfetch's store made, then its process killed before a checkpoint: the file
# holds no table yet, its -wal beside it holds the store's meta table.
MADE_THEN_KILLED = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)")
conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (sys.argv[2],))
conn.commit()
os._exit(9)
"""


def killed_earlier_store(path: Path) -> Path:
    command = [sys.executable, "-c", MADE_THEN_KILLED, str(path), str(SCHEMA_VERSION)]
    subprocess.run(command, check=False)
    assert path.with_name(path.name + "-wal").stat().st_size > 0
    return path


def sqlite_file(path: Path, *, journal: str = "delete", application_id: int = 0) -> Path:
    """Another program's database: two tables of its own, closed."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute(f"PRAGMA application_id={application_id}")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER)")
    conn.execute("INSERT INTO users (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, whatever the test runner's; put back after."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.parametrize("journal", ["delete", "wal"])
async def test_a_sqlite_database_of_another_program_is_refused_untouched(
    tmp_path: Path, journal: str
) -> None:
    """Another program's SQLite file: refused, naming its tables, byte-identical, and no
    -wal, -shm or .lock made beside it."""
    path = sqlite_file(tmp_path / "app.db", journal=journal)
    before = digest(path)
    with pytest.raises(UsageError, match=r"another program \(tables: users, orders\)"):
        await Store.open(path)
    with pytest.raises(UsageError, match="Give --db a new file"):
        await Store.open(path, exclusive=False)
    assert digest(path) == before
    assert names(tmp_path) == ["app.db"]


async def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    """A text file given as the store: refused as no SQLite database, byte-identical."""
    path = tmp_path / "notes.txt"
    path.write_text("name,address\nAda,1 Main St\n" * 10)
    before = digest(path)
    with pytest.raises(UsageError, match="is not a SQLite database"):
        await Store.open(path)
    assert digest(path) == before
    assert names(tmp_path) == ["notes.txt"]


async def test_a_sqlite_file_marked_by_another_program_is_refused(tmp_path: Path) -> None:
    """A SQLite file whose application_id is another's: refused, naming it."""
    path = sqlite_file(tmp_path / "other.db", application_id=0x12345678)
    before = digest(path)
    with pytest.raises(UsageError, match="has application_id 0x12345678 of another program"):
        await Store.open(path)
    assert digest(path) == before
    assert names(tmp_path) == ["other.db"]


async def test_a_store_of_an_earlier_bulkfetch_opens_and_gets_the_mark(tmp_path: Path) -> None:
    """A store with no application_id (as earlier versions made) but the store's tables
    opens with its runs, and a run marks it."""
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        await store.runs.begin(SPEC, now=1.0)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA application_id=0")  # closed: written through to the file
    assert header_mark(path) == 0
    async with await Store.open(path, exclusive=False) as reader:
        assert len(await reader.runs.listing()) == 1
    assert mark_of(path) == 0  # a reader writes nothing
    async with await Store.open(path) as store:
        assert len(await store.runs.listing()) == 1
    assert header_mark(path) == APPLICATION_ID


async def test_an_earlier_store_left_by_a_killed_process_opens(tmp_path: Path) -> None:
    """An unmarked store whose tables are still only in the log a killed process left
    (its -wal beside it) is recognised as a store, opened, and marked."""
    path = killed_earlier_store(tmp_path / "s.db")
    async with await Store.open(path) as store:
        assert await store.runs.listing() == []
    assert mark_of(path) == APPLICATION_ID


async def test_a_new_store_is_marked_in_its_own_header(tmp_path: Path) -> None:
    """A new store carries bulkfetch's application_id in the file itself from the start,
    not only in its log."""
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        await store.runs.begin(SPEC, now=1.0)
        assert header_mark(path) == APPLICATION_ID
    assert mark_of(path) == APPLICATION_ID == 0x62756C6B


async def test_an_empty_file_is_a_new_store(tmp_path: Path) -> None:
    """A 0-byte file (made with touch) becomes a store, marked."""
    path = tmp_path / "s.db"
    path.touch()
    async with await Store.open(path) as store:
        await store.runs.begin(SPEC, now=1.0)
    assert header_mark(path) == APPLICATION_ID


async def test_the_store_syncs_its_log_at_every_commit(tmp_path: Path) -> None:
    """The store's own connection runs PRAGMA synchronous=FULL (2): a counted commit
    outlives a power cut."""
    async with await Store.open(tmp_path / "s.db") as store:
        found = await store._access.database.run(
            lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar()
        )
    assert found == 2


@pytest.mark.usefixtures("umask_022")
async def test_a_new_stores_files_are_its_owners_alone(tmp_path: Path) -> None:
    """Under umask 022 the store, its lock, its -wal and its -shm are all mode 0o600."""
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        await store.runs.begin(SPEC, now=1.0)
        found = modes(tmp_path)
    assert found == {"s.db": 0o600, "s.db.lock": 0o600, "s.db-wal": 0o600, "s.db-shm": 0o600}


@pytest.mark.parametrize("where", ["missing/s.db", "a-folder"])
def test_a_db_that_cannot_be_made_is_a_usage_error(tmp_path: Path, where: str) -> None:
    """--db in a folder that does not exist, or naming a folder: exit 2 and one clear
    line, before anything is made."""
    (tmp_path / "a-folder").mkdir()
    source = write_postcode_file(tmp_path / "in.csv", 5, seed=1)
    db, out = tmp_path / where, tmp_path / "out.csv"
    done = run_cli(
        "enrich", source, "--column", "postcode", "--out", out, "--db", db,
        "--base-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    expected = "the folder" if where.startswith("missing") else "it is a folder"
    assert lines[0].startswith("bulkfetch: error: ")
    assert expected in lines[0]
    assert str(db.parent if where.startswith("missing") else db) in lines[0]
    assert names(tmp_path) == ["a-folder", "in.csv"]
    assert list((tmp_path / "a-folder").iterdir()) == []
