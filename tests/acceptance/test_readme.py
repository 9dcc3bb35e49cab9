"""The README says what the code does: its library examples run as written, against the
emulator, and every exception it names imports from bulkfetch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bulkfetch
from bulkfetch.samples import write_postcode_file
from tests.conftest import Emulator, cli_env

README = Path(__file__).resolve().parents[2] / "README.md"


def library_examples() -> list[str]:
    """The Python blocks of the README's library section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Library use") : text.index("## Command line")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_every_exception_the_readme_names_imports_from_bulkfetch() -> None:
    """The README's exceptions and the package's exported ones are the same list."""
    named = set(re.findall(r"`(\w+Error)`", README.read_text(encoding="utf-8")))
    exported = {name for name in bulkfetch.__all__ if name.endswith("Error")}
    assert named == exported
    for name in named:
        assert issubclass(getattr(bulkfetch, name), bulkfetch.BulkfetchError)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(3))
def test_the_library_examples_run_as_written(
    emulator: Emulator, tmp_path: Path, index: int
) -> None:
    """Each example runs as written against the emulator (at its own port here), to the end,
    and prints what it says."""
    examples = library_examples()
    assert len(examples) == 3
    code = examples[index]
    assert code.count("http://127.0.0.1:8710") == 1  # the emulator `bulkfetch emulate` starts
    code = code.replace("http://127.0.0.1:8710", emulator.url)
    write_postcode_file(tmp_path / "postcodes.csv", 20, seed=1)
    (tmp_path / "codes.csv").write_text("soc\n15-1252\n29-1141\n")
    (tmp_path / "example.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    if index == 0:  # one lookup, a dataset, then six items in input order
        items = printed[2:]
        assert [line.split()[0] for line in items] == ["0", "1", "2", "3", "4", "5"]
        assert [" invalid " in line for line in items] == [False, False, True, True, False, False]
    elif index == 1:  # the file's statuses, its calls, and whether it is complete
        statuses, calls, complete = printed[0].rsplit(" ", 2)
        counted = ast.literal_eval(statuses)
        assert sum(counted.values()) == 20
        assert set(counted) <= {"ok", "not_found"}
        assert counted["ok"] > 0
        assert (int(calls), complete) == (20, "True")
    else:
        assert printed[-1].startswith("{")
        assert "'ok': 2" in printed[-1]
