"""Q12, output: a run's output written from the store, by bulkfetch (``export_run``, what
``bulkfetch export`` runs and ``Run.write`` after ``bulkfetch enrich``: one ordered scan of
the run's rows with their answers; CSV, and JSON Lines) beside a plain Python
``csv.reader`` -> ``csv.writer`` copy of the same file (the CSV output: its rows and
columns), in one run; and, for scale, beside the same copy of the input file (three short
columns a row where the output has twenty-five). The run holds 1,000,000 distinct
CrystalRoof occupation postcodes, every one answered with a body as the emulator answers it
(its nine groups, their total and their ranks: twenty value columns). Building that store
is setup, not timed: the input enqueued by ``Run.begin`` (``enrich``'s column, no call),
then its jobs claimed and their outcomes stored by the store's own ``queue.claim`` and
``queue.apply``, as the engine stores them, 20,000 a transaction. Each figure is the best
of two, interleaved. Target: CSV output at least 0.3 of the copy of the output."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import table
from bulkfetch import CrystalRoof
from bulkfetch.apis.crystalroof.client import OCCUPATION
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.apis.crystalroof.emulator import dataset_data
from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.io.flatten import flatten
from bulkfetch.io.formats import open_source
from bulkfetch.io.sinks import OutputFormat
from bulkfetch.jobs import Lookup, Outcome, OutcomeKind
from bulkfetch.run import Run
from bulkfetch.run.worker import export_run
from bulkfetch.samples import write_postcode_file
from bulkfetch.store import Store

BATCH = 20_000  # jobs claimed and answered in one transaction while building the store


def _body(lookup: Lookup) -> str:
    """The body the emulator sends for an occupation lookup (``area_type=oa``)."""
    data = dataset_data(OCCUPATION, "oa", parse_location(lookup.param("location")), {})
    return json.dumps({"data": data, "dataDate": "2021-03-21", "refreshedDate": "2021-03-21"})


async def build(source: Path, db: Path) -> int:
    """A store whose run of ``source`` is fully answered; the run's id. Not timed."""
    async with CrystalRoof("bench-key") as api, await Store.open(db) as store:
        column = LocationColumns("postcode")  # as `bulkfetch enrich --column postcode` reads it
        operation = api.operation("occupation", {})
        run = await Run.begin(store, operation, open_source(source), column=column)
        columns: tuple[str, ...] = ()
        while True:
            now = time.time()
            claim = await store.queue.claim(
                run.id, owner="bench", limit=BATCH, now=now, lease_seconds=3600
            )
            if not claim.jobs:
                return run.id
            outcomes = []
            for job in claim.jobs:
                body = _body(job.lookup)
                # As the client's fetch keeps them (every answer here is of one shape).
                columns = columns or tuple(flatten(json.loads(body)["data"]))
                done = Outcome(job.id, OutcomeKind.DONE, 200, body, columns, settles=job.rows)
                outcomes.append(done)
            await store.queue.apply(run.id, outcomes, now=now, max_attempts=5, owner="bench")


def plain_copy(source: Path, out: Path) -> float:
    """Seconds the peer takes: a CSV file read and written again by Python's csv."""
    began = time.perf_counter()
    with source.open(newline="") as reading, out.open("w", newline="") as writing:
        csv.writer(writing).writerows(csv.reader(reading))
    return time.perf_counter() - began


async def _export(db: Path, run_id: int, out: Path) -> None:
    async with await Store.open(db, exclusive=False) as store:
        output: OutputFormat = "jsonl" if out.suffix == ".jsonl" else "csv"
        await export_run(store, run_id, out, output_format=output)


def ours(db: Path, run_id: int, out: Path) -> float:
    """Seconds bulkfetch takes to write the run's output (the store opened, then written)."""
    began = time.perf_counter()
    asyncio.run(_export(db, run_id, out))
    return time.perf_counter() - began


def measure(rows: int = 1_000_000) -> tuple[str, bool]:
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        source = write_postcode_file(folder / "in.csv", rows, seed=12)
        run_id = asyncio.run(build(source, folder / "s.db"))
        db, out, copy = folder / "s.db", folder / "out.csv", folder / "copy.csv"
        for _ in range(2):  # each twice, interleaved, its best kept: the machine is noisy
            timed = {
                "input copy": plain_copy(source, copy),
                "csv": ours(db, run_id, out),
                "output copy": plain_copy(out, copy),
                "jsonl": ours(db, run_id, folder / "out.jsonl"),
            }
            best = {k: min(v, best.get(k, v)) for k, v in timed.items()}
    peer, small = best["output copy"], best["input copy"]
    figures = [
        [name, f"{rows / best[key]:,.0f}", f"{peer / best[key]:.3f}", f"{small / best[key]:.3f}"]
        for name, key in (("CSV", "csv"), ("JSON Lines", "jsonl"))
    ]
    text = table(
        ["bulkfetch output", "rows/s", "of the output's copy", "of the input's copy"], figures
    )
    ok = peer / best["csv"] >= 0.3
    return (
        f"{rows:,} rows, all answered. Plain csv copy of the CSV output: {rows / peer:,.0f}"
        f" rows/s; of the input file: {rows / small:,.0f} rows/s.\n\n{text}\n\n"
        f"Target CSV at least 0.3 of the output's copy: {'met' if ok else 'missed'}."
    ), ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(measure(parser.parse_args().rows)[0])
