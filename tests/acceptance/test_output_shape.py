"""The output's shape: one header whether a run stopped early or finished, one naming rule
for one dataset and several, snake-case names, the looked-up value, and a pass exported as
its command wrote it. The real CLI against the real emulator."""

from __future__ import annotations

import csv
import os
import stat
import threading
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.test_enrich import enrich, read_csv
from tests.conftest import Emulator, run_cli

TWO = ("--dataset", "occupation", "--dataset", "income")


def header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def test_a_pass_stopped_before_a_dataset_answered_has_the_finished_header(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A cap that stops a pass before income's first answer writes income's columns all
    the same: the header is the finished run's."""
    source = write_postcode_file(tmp_path / "in.csv", 60, seed=4)
    capped = enrich(emulator, source, tmp_path / "early.csv", tmp_path / "a.db", *TWO,
                    "--max-calls", "10")  # fmt: skip
    assert capped.returncode == 7, capped.stderr
    early = read_csv(tmp_path / "early.csv")
    assert {row["income.status"] for row in early} == {"pending"}
    done = enrich(emulator, source, tmp_path / "done.csv", tmp_path / "b.db", *TWO)
    assert done.returncode == 0, done.stderr
    assert header(tmp_path / "early.csv") == header(tmp_path / "done.csv")
    assert "income.totalMeanAnnualIncome" in header(tmp_path / "early.csv")


def test_one_dataset_is_named_as_it_is_beside_others(emulator: Emulator, tmp_path: Path) -> None:
    """occupation alone and occupation beside income: the same column names for its values."""
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=8)
    db = tmp_path / "s.db"
    assert enrich(emulator, source, tmp_path / "one.csv", db).returncode == 0
    assert enrich(emulator, source, tmp_path / "two.csv", db, *TWO).returncode == 0
    one, two = header(tmp_path / "one.csv"), header(tmp_path / "two.csv")
    values = [name for name in one if name.startswith("occupation.")]
    assert len(values) == 9 + 9 + 2
    assert set(values) <= set(two)
    for name in ("one.csv", "two.csv"):
        rows = read_csv(tmp_path / name)
        assert all(row["lookup"] or row["status"] == "invalid" for row in rows), name


def test_snake_case_names_are_plain_and_distinct(emulator: Emulator, tmp_path: Path) -> None:
    """--column-names snake: every added name lower-case letters, digits and _, none twice,
    the input's own names kept; the rows the same as with names as they are."""
    source = tmp_path / "in.csv"
    source.write_text("Post Code,lookup\nW6 0WW,mine\nnope,x\n")
    db = tmp_path / "s.db"
    common = (source, "--column", "Post Code", "--db", db, "--base-url", emulator.url, *TWO)
    plain = run_cli("enrich", *common, "--out", tmp_path / "plain.csv")
    assert plain.returncode == 0, plain.stderr
    snake = run_cli("enrich", *common, "--out", tmp_path / "snake.csv", "--column-names", "snake")
    assert snake.returncode == 0, snake.stderr
    names = header(tmp_path / "snake.csv")
    assert names[:5] == ["Post Code", "lookup", "lookup_", "status", "error"]
    assert "occupation_residents_1_managers_directors_and_senior_officials" in names
    assert "income_total_mean_annual_income_rank" in names
    added = names[2:]
    assert len(set(added)) == len(added)
    assert all(name.replace("_", "").isalnum() and name == name.lower() for name in added)
    body = (tmp_path / "snake.csv").read_text().splitlines()[1:]
    assert body == (tmp_path / "plain.csv").read_text().splitlines()[1:]
    rows = read_csv(tmp_path / "snake.csv")
    assert [(r["lookup"], r["lookup_"], r["status"]) for r in rows] == [
        ("mine", "W6 0WW", "ok"),
        ("x", "", "invalid"),
    ]


@pytest.mark.slow
def test_export_of_a_pass_writes_what_its_command_wrote(emulator: Emulator, tmp_path: Path) -> None:
    """export --run 1,2 (or 2,1) writes the pass's output byte for byte, as CSV and in snake
    case; runs not of one pass are refused before anything is written."""
    source = write_postcode_file(tmp_path / "in.csv", 80, seed=6, malformed_rate=0.05)
    db, out = tmp_path / "s.db", tmp_path / "out.csv"
    assert enrich(emulator, source, out, db, *TWO).returncode == 0
    again = tmp_path / "again.csv"
    exported = run_cli("export", "--db", db, "--run", "1,2", "--out", again)
    assert exported.returncode == 0, exported.stderr
    assert again.read_bytes() == out.read_bytes()
    reordered = tmp_path / "reordered.csv"
    assert run_cli("export", "--db", db, "--run", "2,1", "--out", reordered).returncode == 0
    assert reordered.read_bytes() == out.read_bytes()  # the pass's order, its names
    snake_out = tmp_path / "snake.csv"
    assert enrich(emulator, source, snake_out, db, *TWO, "--column-names", "snake").returncode == 0
    snake_again = tmp_path / "snake-again.csv"
    exported = run_cli("export", "--db", db, "--run", "1,2", "--out", snake_again,
                       "--column-names", "snake")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert snake_again.read_bytes() == snake_out.read_bytes()
    other = write_postcode_file(tmp_path / "other.csv", 10, seed=7)
    assert enrich(emulator, other, tmp_path / "o.csv", db).returncode == 0
    refused = run_cli("export", "--db", db, "--run", "1,3", "--out", tmp_path / "x.csv")
    assert refused.returncode == 2
    assert "not over the same input" in refused.stderr
    assert not (tmp_path / "x.csv").exists()


def test_runs_whose_answers_fill_several_lines_are_not_exported_side_by_side(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Two CIP runs over one input (national, California): refused side by side, exit 2."""
    source = tmp_path / "cip.csv"
    source.write_text("cip\n11.0701\n52.0201\n")
    db = tmp_path / "s.db"
    for region in ((), ("--region", "CA")):
        common = ("--column", "cip", "--db", db, "--base-url", emulator.url, *region)
        done = run_cli("labor-market", source, "--by", "cip", "--out", tmp_path / "o.csv", *common)
        assert done.returncode == 0, done.stderr
    refused = run_cli("export", "--db", db, "--run", "1,2", "--out", tmp_path / "x.csv")
    assert refused.returncode == 2
    assert "export it on its own" in " ".join(refused.stderr.split())


def test_an_output_that_is_not_a_regular_file_is_written_through(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--out a named pipe (as /dev/null is a device): written through it, and still a pipe
    after, never renamed over."""
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
    reader.start()
    source = write_postcode_file(tmp_path / "in.csv", 10, seed=2)
    done = enrich(emulator, source, fifo, tmp_path / "s.db")
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert read[0].decode().splitlines()[0].startswith("id,postcode,note,lookup,status")
    assert len(read[0].decode().splitlines()) == 11
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
