"""Inputs and outputs other than comma-separated CSV, through the real CLI: each gives what
the CSV path gives."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bulkfetch.io.flatten import flatten
from bulkfetch.samples import write_postcode_file
from tests.conftest import Emulator, bulkfetch_command, cli_env, run_cli


def arguments(emulator: Emulator, source: Path | str, out: Path | str, db: Path) -> list[str]:
    return [
        "enrich", str(source), "--column", "postcode", "--out", str(out), "--db", str(db),
        "--base-url", emulator.url, "--rate", "5000",  # no slow start: formats are the point
    ]  # fmt: skip


def enrich(
    emulator: Emulator, source: Path | str, out: Path | str, db: Path
) -> subprocess.CompletedProcess[str]:
    return run_cli(*arguments(emulator, source, out, db))


def piped(
    emulator: Emulator, out: Path | str, db: Path, stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    """The input on standard input, to a process of its own."""
    command = bulkfetch_command(*arguments(emulator, "-", out, db))
    return subprocess.run(
        command, input=stdin, capture_output=True, env=cli_env(), timeout=120, check=False
    )


@pytest.fixture
def rows(tmp_path: Path) -> list[list[str]]:
    """A CSV input of 300 rows (repeats, malformed postcodes), as its rows."""
    source = write_postcode_file(
        tmp_path / "in.csv", 300, seed=31, repeat_rate=0.1, malformed_rate=0.03
    )
    with open(source, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def reference(emulator: Emulator, tmp_path: Path, rows: list[list[str]]) -> bytes:
    """The CSV path's output."""
    done = enrich(emulator, tmp_path / "in.csv", tmp_path / "reference.csv", tmp_path / "s.db")
    assert done.returncode == 0, done.stderr
    return (tmp_path / "reference.csv").read_bytes()


def _write(path: Path, rows: list[list[str]]) -> Path:
    header, data = rows[0], rows[1:]
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        for row in rows:  # ids as numbers, as a spreadsheet holds them
            book.active.append([int(row[0]) if row[0].isdigit() else row[0], *row[1:]])
        book.save(path)
    elif path.suffix == ".parquet":
        columns: dict[str, list[object]] = {
            name: [row[i] for row in data] for i, name in enumerate(header)
        }
        columns["id"] = [int(str(v)) for v in columns["id"]]  # typed, as Parquet holds them
        pq.write_table(pa.table(columns), path)
    elif path.suffix == ".jsonl":
        lines = [
            json.dumps({**dict(zip(header, row, strict=True)), "id": int(row[0])}) for row in data
        ]
        path.write_text("\n".join(lines) + "\n")
    else:
        delimiter = {".tsv": "\t", ".txt": ";"}[path.suffix]
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


@pytest.mark.parametrize("name", ["in.xlsx", "in.parquet", "in.tsv", "semicolons.txt", "in.jsonl"])
def test_each_input_format_gives_the_csv_paths_output(
    emulator: Emulator, tmp_path: Path, rows: list[list[str]], reference: bytes, name: str
) -> None:
    """XLSX, Parquet, TSV, semicolon-delimited and JSON Lines inputs: the same output, and
    no call more (the store holds every answer)."""
    calls = emulator.ledger()["requests"]
    source = _write(tmp_path / name, rows)
    done = enrich(emulator, source, tmp_path / "out.csv", tmp_path / "s.db")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert emulator.ledger()["requests"] == calls


@pytest.mark.slow
def test_standard_input_and_standard_output(
    emulator: Emulator, tmp_path: Path, reference: bytes
) -> None:
    """``-`` in and ``-`` out: the same bytes; the same content piped again is the same
    run, which the store already finished."""
    content = (tmp_path / "in.csv").read_bytes()
    done = piped(emulator, "-", tmp_path / "s.db", content)
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference
    again = piped(emulator, tmp_path / "again.csv", tmp_path / "s.db", content)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.csv").read_bytes() == reference
    assert run_cli("status", "--db", tmp_path / "s.db").stdout.startswith("run 2: ")


def test_parquet_and_json_lines_outputs_hold_what_the_csv_holds(
    emulator: Emulator, tmp_path: Path, reference: bytes
) -> None:
    """Parquet (typed columns), JSON Lines (the nested answer) and XLSX (a workbook): row for
    row, value for value, what the CSV output says."""
    source = tmp_path / "in.csv"
    for out in ("out.parquet", "out.jsonl", "out.xlsx"):
        done = enrich(emulator, source, tmp_path / out, tmp_path / "s.db")
        assert done.returncode == 0, done.stderr
    expected = list(csv.DictReader(reference.decode().splitlines()))

    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == list(expected[0])
    assert table.schema.field("occupation.residents.Total").type == pa.int64()
    for want, got in zip(expected, table.to_pylist(), strict=True):
        assert {k: "" if v is None else str(v) for k, v in got.items()} == want

    book = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    try:
        header, *cells = book["output"].iter_rows(values_only=True)
    finally:
        book.close()  # a read-only workbook holds its file open until closed
    assert list(header) == list(expected[0])
    assert [{k: "" if v is None else str(v) for k, v in zip(header, row, strict=True)}
            for row in cells] == expected  # fmt: skip

    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(lines) == len(expected)
    for want, line in zip(expected, lines, strict=True):
        assert line["input"] == {k: want[k] for k in ("id", "postcode", "note")}
        assert (line["lookup"], line["status"]) == (want["lookup"], want["status"])
        assert line.get("error", "") == want["error"]
        values = flatten(line.get("data", {}))
        assert {k: str(v) for k, v in values.items()} == {
            k: want[f"occupation.{k}"] for k in values
        }


@pytest.mark.slow
def test_export_writes_the_same_bytes_anywhere_without_the_input(
    emulator: Emulator, tmp_path: Path, reference: bytes
) -> None:
    """From another folder, the input deleted: the run's own output, byte for byte."""
    (tmp_path / "in.csv").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        bulkfetch_command("export", "--db", tmp_path / "s.db", "--run", "1", "--out", "o.csv"),
        cwd=elsewhere,
        capture_output=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "o.csv").read_bytes() == reference
