"""Another program's file given as the store: refused before any call, left as it was."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import assert_clean_exit, enrich_command, run
from tests.conftest import Emulator

pytestmark = [pytest.mark.reliability]


def test_another_programs_database_is_refused_before_any_call(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`--db app.db` naming another program's SQLite database (in WAL mode, as many are):
    exit 2 naming its tables, no request sent, the file byte-identical and nothing made
    beside it; a new --db then runs."""
    source = write_postcode_file(tmp_path / "in.csv", 30, seed=61)
    app = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(app)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, address TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER)")
        conn.execute("INSERT INTO users (name, address) VALUES ('Ada', '1 Main St')")
        conn.commit()
    before = hashlib.sha256(app.read_bytes()).hexdigest()
    out = tmp_path / "out.csv"

    refused = run(enrich_command(emulator, source, out, app))
    assert refused.returncode == 2, refused.stderr
    assert "another program (tables: users, orders)" in refused.stderr
    assert "Give --db a new file" in refused.stderr
    assert_clean_exit(refused)
    assert emulator.ledger()["requests"] == 0
    assert hashlib.sha256(app.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "in.csv"]

    fixed = run(enrich_command(emulator, source, out, tmp_path / "s.db"))
    assert fixed.returncode == 0, fixed.stderr
