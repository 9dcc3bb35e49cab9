"""Hostile input files through the real command line: a usage error on one line, exit 2,
and nothing left behind; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.reliability.helpers import assert_clean_exit, enrich_command, run
from tests.conftest import Emulator

pytestmark = [pytest.mark.reliability]


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (b"[" * 200_000, "line 2 is JSON nested too deeply"),
        (b'{"postcode": "\xff\xfe"}', "line 2 is not UTF-8"),
    ],
    ids=["nested-200000-deep", "invalid-utf-8"],
)
def test_a_malformed_json_lines_input(
    emulator: Emulator, tmp_path: Path, line: bytes, said: str
) -> None:
    """Exit 2, one line on stderr naming the line; no traceback, store, output or call."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"postcode": "W6 0WW"}\n' + line + b'\n{"postcode": "N1 9GU"}\n')
    result = run(enrich_command(emulator, source, tmp_path / "out.csv", tmp_path / "s.db"))
    assert_clean_exit(result)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert said in lines[0]
    assert str(source) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    assert emulator.ledger()["requests"] == 0
