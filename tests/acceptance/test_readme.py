"""The README and the documentation say what the code does: their library examples run as
written, against the emulator, every exception they name imports from bulkfetch, and the
documentation site builds with no warning."""

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

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def library_examples() -> list[str]:
    """The Python blocks of the README's quickstart and of the library's page."""
    texts = [README.read_text(encoding="utf-8"), (ROOT / "docs/library.md").read_text("utf-8")]
    return [b for t in texts for b in re.findall(r"```python\n(.*?)```", t, flags=re.DOTALL)]


def test_every_exception_the_docs_name_imports_from_bulkfetch() -> None:
    """The exceptions the README and docs name and the package's exported ones: one list."""
    named = {e for page in PAGES for e in re.findall(r"`(\w+Error)`", page.read_text("utf-8"))}
    exported = {name for name in bulkfetch.__all__ if name.endswith("Error")}
    assert named == exported
    for name in named:
        assert issubclass(getattr(bulkfetch, name), bulkfetch.BulkfetchError)


def test_the_documentation_site_builds_with_no_warning(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the navigation, every link found."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "cli" / "index.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize("index", range(4))
def test_the_library_examples_run_as_written(
    emulator: Emulator, tmp_path: Path, index: int
) -> None:
    """Each example runs as written against the emulator (at its own port here), to the end,
    and prints what it says."""
    examples = library_examples()
    assert len(examples) == 4
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
    if index == 0:  # the README's quickstart: three items in input order
        assert [line.split()[:3] for line in printed] == [
            ["0", "W6", "0WW"],
            ["1", "sw1a1aa", "ok"],
            ["2", "nope", "invalid"],
        ]
    elif index == 1:  # one lookup, a dataset, then six items in input order
        items = printed[2:]
        assert [line.split()[0] for line in items] == ["0", "1", "2", "3", "4", "5"]
        assert [" invalid " in line for line in items] == [False, False, True, True, False, False]
    elif index == 2:  # the file's statuses, its calls, and whether it is complete
        statuses, calls, complete = printed[0].rsplit(" ", 2)
        counted = ast.literal_eval(statuses)
        assert sum(counted.values()) == 20
        assert set(counted) <= {"ok", "not_found"}
        assert counted["ok"] > 0
        assert (int(calls), complete) == (20, "True")
    else:
        assert printed[-1].startswith("{")
        assert "'ok': 2" in printed[-1]
