"""Q13, one pass for several datasets: a file's rows enqueued for one CrystalRoof dataset,
and for three (occupation, income, flood risk) over the same file in one pass (``run_file``
with ``work=False``, ``enrich``'s column, no call), in one run; and the store's bytes an
input row after each (the SQLite file with its WAL); beside them, in the same run, the Q11
peer (plain ``sqlite3`` ``executemany`` into a rows table and a unique jobs table) making
the same rows and jobs for one dataset and for three, for the floor of what a job and a row
a dataset cost. Target: three datasets take no more than 1.5 times one's enqueue time."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import table
from benchmarks.enqueue import plain_enqueue
from bulkfetch import CrystalRoof
from bulkfetch.adapter import Operation
from bulkfetch.apis.crystalroof.catalogue import choose
from bulkfetch.apis.crystalroof.client import DatasetOperation
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.run import run_file
from bulkfetch.samples import write_postcode_file

DATASETS = ("occupation", "income", "flood-risk")


def store_bytes(db: Path) -> int:
    """A SQLite store's size on disk: the file, its write-ahead log and its index."""
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())


async def _enqueue(source: Path, db: Path, datasets: tuple[str, ...]) -> float:
    """Seconds to enqueue ``source`` for ``datasets`` in one pass, the store opened included."""
    async with CrystalRoof("bench-key") as api:
        operations: dict[str, Operation[Any]] = {
            name: DatasetOperation.of(api, choose(name, {})) for name in datasets
        }
        target: Operation[Any] | Mapping[str, Operation[Any]] = (
            operations if len(operations) > 1 else operations[datasets[0]]
        )
        began = time.perf_counter()
        await run_file(
            target,
            source,
            column=LocationColumns("postcode"),  # as `bulkfetch enrich --column postcode`
            out=db.with_suffix(".csv"),
            db=db,
            work=False,
        )
        return time.perf_counter() - began


def measure(rows: int = 1_000_000) -> tuple[str, bool]:
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        source = write_postcode_file(folder / "in.csv", rows, seed=13)
        one_db, three_db = folder / "one.db", folder / "three.db"
        one = asyncio.run(_enqueue(source, one_db, DATASETS[:1]))
        three = asyncio.run(_enqueue(source, three_db, DATASETS))
        sizes = {1: store_bytes(one_db) / rows, 3: store_bytes(three_db) / rows}
        peer = {n: plain_enqueue(source, folder / f"plain{n}.db", n) for n in (1, 3)}
        input_bytes = source.stat().st_size / rows
    ratio = three / one
    text = table(
        ["rows (all distinct)", "datasets", "enqueue", "rows/s", "store bytes a row", "peer"],
        [
            [
                f"{rows:,}",
                n,
                f"{seconds:.1f} s",
                f"{rows / seconds:,.0f}",
                f"{sizes[n]:,.0f}",
                f"{peer[n]:.1f} s",
            ]
            for n, seconds in ((1, one), (3, three))
        ],
    )
    ok = ratio <= 1.5
    return (
        f"{text}\n\nThe input: {input_bytes:.0f} bytes a row. Three datasets took {ratio:.2f}"
        f" times one's time (the peer {peer[3] / peer[1]:.2f}); target at most 1.5:"
        f" {'met' if ok else 'missed'}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(measure(parser.parse_args().rows)[0])
