"""Q11, enqueue: a file's rows into the store (each row kept with its fields, one job per
distinct lookup), by bulkfetch (``Run.begin`` with ``enrich``'s column, no call) beside
plain Python ``sqlite3`` ``executemany`` of the same rows into a rows table and a unique jobs
table, committing every 2,000 rows as bulkfetch does, in one run. Target: at least 0.3 of
the peer."""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.common import table
from bulkfetch import CrystalRoof
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.io.formats import open_source
from bulkfetch.run import Run
from bulkfetch.run.enqueue import CHUNK
from bulkfetch.samples import write_postcode_file
from bulkfetch.store import Store


def plain_enqueue(source: Path, db: Path, datasets: int = 1) -> float:
    """Seconds the peer takes: parse, a fingerprint a row and dataset, two executemany a
    chunk; a job and a row a dataset, the row's fields kept once (with the first)."""
    began = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("create table jobs (id integer primary key, fingerprint text unique, params text)")
    con.execute(
        "create table rows (run integer, row_no integer, job text, fields text,"
        " primary key (run, row_no))"
    )
    jobs: list[tuple[str, str]] = []
    rows: list[tuple[int, int, str, str | None]] = []

    def flush() -> None:
        con.executemany("insert or ignore into jobs (fingerprint, params) values (?, ?)", jobs)
        con.executemany("insert into rows values (?, ?, ?, ?)", rows)
        con.commit()
        jobs.clear()
        rows.clear()

    with source.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row_no, fields in enumerate(reader):
            kept: str | None = ",".join(fields)
            for run in range(1, datasets + 1):
                fingerprint = hashlib.sha256(f"{run}:{fields[0]}".encode()).hexdigest()
                jobs.append((fingerprint, fields[0]))
                rows.append((run, row_no, fingerprint, kept))
                kept = None
            if len(rows) >= CHUNK * datasets:
                flush()
    flush()
    con.close()
    return time.perf_counter() - began


async def _ours(source: Path, db: Path) -> float:
    began = time.perf_counter()
    async with CrystalRoof("bench-key") as api, await Store.open(db) as store:
        column = LocationColumns("postcode")  # as `bulkfetch enrich --column postcode` reads it
        await Run.begin(store, api.operation("occupation", {}), open_source(source), column=column)
    return time.perf_counter() - began


def measure(rows: int = 1_000_000) -> tuple[str, bool]:
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        source = write_postcode_file(folder / "in.csv", rows, seed=5)
        plain = plain_enqueue(source, folder / "plain.db")
        ours = asyncio.run(_ours(source, folder / "ours.db"))
    ratio = plain / ours
    text = table(
        ["rows (all distinct)", "plain sqlite3 rows/s", "bulkfetch rows/s", "of the peer"],
        [[f"{rows:,}", f"{rows / plain:,.0f}", f"{rows / ours:,.0f}", f"{ratio:.3f}"]],
    )
    ok = ratio >= 0.3
    return f"{text}\n\nTarget at least 0.3 of the peer: {'met' if ok else 'missed'}.", ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(measure(parser.parse_args().rows)[0])
