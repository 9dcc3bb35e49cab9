"""Bad input files: a clear error, or exactly one output row per input row; never a crash."""

from __future__ import annotations

import csv
import json
import random
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import postcodes
from tests.acceptance.reliability.helpers import assert_clean_exit, enrich_command, run
from tests.conftest import Emulator, cli_env

pytestmark = [pytest.mark.reliability]


def enrich(
    emulator: Emulator, tmp_path: Path, content: bytes, *extra: str, column: str = "postcode"
) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    command = enrich_command(emulator, source, tmp_path / "out.csv", tmp_path / "s.db", *extra)
    command[command.index("--column") + 1] = column
    result = run(command)
    assert_clean_exit(result)
    return result


def output_rows(tmp_path: Path) -> list[list[str]]:
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_empty_file(emulator: Emulator, tmp_path: Path) -> None:
    """No header at all: a usage error that says so."""
    result = enrich(emulator, tmp_path, b"")
    assert result.returncode == 2
    assert "empty" in result.stderr


def test_header_only(emulator: Emulator, tmp_path: Path) -> None:
    """No rows: an output with the header (occupation's documented columns) and no rows,
    exit 0, no call."""
    result = enrich(emulator, tmp_path, b"id,postcode\n")
    assert result.returncode == 0, result.stderr
    [header] = output_rows(tmp_path)
    assert header[:6] == [
        "id",
        "postcode",
        "lookup",
        "status",
        "error",
        "occupation.residents.Total",
    ]
    assert len(header) == 6 + 9 + 9 + 1
    assert header[-1] == "occupation.data_date"
    assert emulator.ledger()["requests"] == 0


def test_missing_column(emulator: Emulator, tmp_path: Path) -> None:
    """The error names the column asked for and the columns there are."""
    result = enrich(emulator, tmp_path, b"id,post code\n1,W6 0WW\n")
    assert result.returncode == 2
    assert "'postcode'" in result.stderr
    assert "'id', 'post code'" in result.stderr


def test_bom_and_crlf(emulator: Emulator, tmp_path: Path) -> None:
    """A UTF-8 byte-order mark and Windows line ends: read as plain CSV."""
    result = enrich(emulator, tmp_path, b"\xef\xbb\xbfpostcode,id\r\nW6 0WW,1\r\nSW1A 1AA,2\r\n")
    assert result.returncode == 0, result.stderr
    rows = output_rows(tmp_path)
    assert rows[0][:4] == ["postcode", "id", "lookup", "status"]
    assert [r[:4] for r in rows[1:]] == [
        ["W6 0WW", "1", "W6 0WW", "ok"],
        ["SW1A 1AA", "2", "SW1A 1AA", "ok"],
    ]


def test_latin_1(emulator: Emulator, tmp_path: Path) -> None:
    """Latin-1 bytes: a clear error naming the row and byte, pointing at --encoding (no
    guess at one); with it, the text is kept."""
    content = "name,postcode\nCafé Rouge,W6 0WW\nNaïve,N1 9GU\n".encode("latin-1")
    refused = enrich(emulator, tmp_path, content)
    assert refused.returncode == 2
    assert "data row 1 (byte 17)" in refused.stderr
    assert "--encoding" in refused.stderr
    assert "latin-1" not in refused.stderr
    result = enrich(emulator, tmp_path, content, "--encoding", "latin-1")
    assert result.returncode == 0, result.stderr
    assert [r[0] for r in output_rows(tmp_path)[1:]] == ["Café Rouge", "Naïve"]


def test_quoted_fields_with_newlines_and_commas(emulator: Emulator, tmp_path: Path) -> None:
    """Embedded newlines, commas and quotes survive, field for field."""
    content = b'address,postcode\n"1 High St,\nLondon",W6 0WW\n"The ""Old"" Mill, Lane",N1 9GU\n'
    result = enrich(emulator, tmp_path, content)
    assert result.returncode == 0, result.stderr
    rows = output_rows(tmp_path)
    assert [r[0] for r in rows[1:]] == ["1 High St,\nLondon", 'The "Old" Mill, Lane']
    assert [r[3] for r in rows[1:]] == ["ok", "ok"]


def test_ragged_rows(emulator: Emulator, tmp_path: Path) -> None:
    """Short rows are padded; a long row keeps its extra fields in its last column."""
    content = b"postcode,a,b\nW6 0WW\nN1 9GU,1,2,3,4\nSW1A 1AA,x,y\n"
    result = enrich(emulator, tmp_path, content)
    assert result.returncode == 0, result.stderr
    rows = output_rows(tmp_path)
    assert len(rows) == 4
    assert [r[:5] for r in rows[1:]] == [
        ["W6 0WW", "", "", "W6 0WW", "ok"],
        ["N1 9GU", "1", "2,3,4", "N1 9GU", "ok"],
        ["SW1A 1AA", "x", "y", "SW1A 1AA", "ok"],
    ]


def test_a_column_of_blanks(emulator: Emulator, tmp_path: Path) -> None:
    """Every row invalid, every row written, no call made."""
    result = enrich(emulator, tmp_path, b"id,postcode\n1,\n2,  \n3,\n")
    assert result.returncode == 0, result.stderr
    assert [r[2:4] for r in output_rows(tmp_path)[1:]] == [["", "invalid"]] * 3
    assert emulator.ledger()["requests"] == 0


def test_duplicate_header_names(emulator: Emulator, tmp_path: Path) -> None:
    """Both same-named columns are kept (CSV) and told apart (JSON Lines); a --column that
    names a duplicated header is refused as ambiguous."""
    content = b"name,postcode,name\nA,W6 0WW,B\n"
    result = enrich(emulator, tmp_path, content)
    assert result.returncode == 0, result.stderr
    assert output_rows(tmp_path)[1][:5] == ["A", "W6 0WW", "B", "W6 0WW", "ok"]
    result = enrich(emulator, tmp_path, content, "--format", "jsonl")
    assert json.loads((tmp_path / "out.csv").read_text())["input"] == {
        "name": "A",
        "postcode": "W6 0WW",
        "name (2)": "B",
    }
    ambiguous = enrich(emulator, tmp_path, b"postcode,postcode\nW6 0WW,N1 9GU\n")
    assert ambiguous.returncode == 2
    assert "more than once" in ambiguous.stderr


@pytest.mark.slow
def test_a_million_rows(emulator: Emulator, tmp_path: Path) -> None:
    """1,000,000 rows (1,000 distinct postcodes, 1% malformed): 1,000,000 output rows, in
    order, one call per distinct postcode."""
    rng = random.Random(1_000_000)
    pool = list(postcodes(1000, seed=7))
    with open(tmp_path / "in.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "postcode"])
        for i in range(1_000_000):
            writer.writerow([i, "not-a-postcode" if rng.random() < 0.01 else rng.choice(pool)])
    command = enrich_command(
        emulator,
        tmp_path / "in.csv",
        tmp_path / "out.csv",
        tmp_path / "s.db",
        "--concurrency",
        "32",
    )
    # A process of its own: a million rows must not swell the test runner.
    result = subprocess.run(
        command, env=cli_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    count = 0
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for count, row in enumerate(reader, 1):
            if count % 99_991 == 0:
                assert row[0] == str(count - 1)
    assert count == 1_000_000
    assert emulator.ledger()["requests"] == 1000
