"""Hostile inputs and memory: each case is an input built to make bulkfetch hold far more
than any lookup needs (a 100 MB field or line, a workbook that unpacks to gigabytes), run
through the real command line in a child process, whose peak resident memory is read when
it ends (``os.wait4``), beside its exit code and the first line of its standard error.
(The child is started by a small launcher of its own: a child this process started would
count this process's own peak in its ``ru_maxrss``, since Popen's vfork and the exec after
it carry the parent's high-water mark over.)
Target: every case under 500 MB, with the exit it expects (2, a usage error, for a file
refused; 0 for the worst workbook still accepted; 1 for a run whose answers are all over
the answer bound, each lookup failed saying so).

The table is open to more cases (hostile HTTP answers, say): append a :class:`Case` to
``CASES``, whose ``run`` builds what it needs in the folder it is given and returns
:func:`run_cli`'s :class:`Result` (or one of its own making).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.handmade import MAIN, write_workbook
from tests.hostile import serving

from benchmarks.common import ENV, table

TARGET_MB = 500
_MB = 1 << 20


@dataclass(frozen=True)
class Result:
    """How one command ended: its peak resident memory, exit code and standard error."""

    peak_rss_mb: float
    exit_code: int
    stderr: str
    input_bytes: int = 0  # the size of the hostile input, if it is a file

    @property
    def first_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[0] if lines else ""


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Path], Result]  # given a folder of its own
    exit_code: int = 2  # the exit that means the input was handled as it should be


# Runs ARGV, its output to /dev/null, and prints its peak RSS (KB) and exit code: being
# small, and spawning without a fork of its own memory, it leaves the child only its own.
_LAUNCHER = """
import os, sys
null = os.open(os.devnull, os.O_WRONLY)
to_null = [(os.POSIX_SPAWN_DUP2, null, 1)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=to_null)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_cli(workdir: Path, *args: str | Path, input_file: Path | None = None) -> Result:
    """``bulkfetch ARGS`` in a child process, to its end; its standard error goes to a file
    (a pipe could fill and stall it while this waits)."""
    command = [sys.executable, "-m", "bulkfetch", *map(str, args)]
    with open(workdir / "stderr.txt", "w+", encoding="utf-8", errors="replace") as err:
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command],
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            check=True,
        )
        err.seek(0)
        stderr = err.read()
    kilobytes, exit_code = map(int, launched.stdout.split())
    size = input_file.stat().st_size if input_file is not None else 0
    return Result(kilobytes / 1024, exit_code, stderr, size)


def plan(workdir: Path, source: Path) -> Result:
    """``enrich --plan`` reads the whole input and makes no call."""
    return run_cli(
        workdir, "enrich", source, "--column", "postcode", "--out", workdir / "out.csv",
        "--db", workdir / "s.db", "--plan", input_file=source,
    )  # fmt: skip


def _write(path: Path, pieces: Iterable[bytes]) -> Path:
    with open(path, "wb") as handle:
        for piece in pieces:
            handle.write(piece)
    return path


def _repeated(piece: bytes, total: int) -> Iterable[bytes]:
    """``piece`` repeated to ``total`` bytes, a megabyte at a time."""
    block = piece * max(1, _MB // len(piece))
    for _ in range(total // len(block)):
        yield block


# -- Files ------------------------------------------------------------------------------


def csv_field(workdir: Path) -> Result:
    """One quoted field of 100 MB, over a million short lines."""
    body = _repeated(b"x" * 99 + b"\n", 100 * _MB)
    return plan(workdir, _write(workdir / "in.csv", [b'id,postcode\n1,"', *body, b'"\n']))


def csv_line(workdir: Path) -> Result:
    """One line of 100 MB with no line break in it, its fields each 99 characters."""
    body = _repeated(b"y" * 99 + b",", 100 * _MB)
    return plan(workdir, _write(workdir / "in.csv", [b"id,postcode\n1,W6 0WW,", *body, b"\n"]))


def jsonl_line(workdir: Path) -> Result:
    """A valid object on a line of 100 MB."""
    head = b'{"postcode": "W6 0WW"}\n{"postcode": "'
    body = _repeated(b"z", 100 * _MB)
    return plan(workdir, _write(workdir / "in.jsonl", [head, *body, b'"}\n']))


def jsonl_keys(workdir: Path) -> Result:
    """2,000,000 lines, each a key of its own: as many columns."""
    lines = (b'{"postcode": "W6 0WW", "k%d": 1}\n' % i for i in range(2_000_000))
    return plan(workdir, _write(workdir / "in.jsonl", lines))


# A header, and one row that reads shared string 1.
_ROWS = '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>'


def _workbook(path: Path, strings: Iterable[bytes], styles: bytes | None = None) -> Path:
    """A workbook as Excel writes one: the header's shared string, then ``strings``."""
    header = [b"<si><t>postcode</t></si>"]
    return write_workbook(path, _ROWS, itertools.chain(header, strings), styles=styles)


def xlsx_string(workdir: Path) -> Result:
    """One shared string of 200 MB, packed into some 200 KB."""
    string = [b"<si><t>", *_repeated(b"a", 200 * _MB), b"</t></si>"]
    return plan(workdir, _workbook(workdir / "in.xlsx", string))


def xlsx_styles(workdir: Path) -> Result:
    """1,000,000 empty cell formats in xl/styles.xml, packed into some 9 KB."""
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs>'.encode()
    styles += b"<xf/>" * 1_000_000 + b"</cellXfs></styleSheet>"
    return plan(workdir, _workbook(workdir / "in.xlsx", [b"<si><t>W6 0WW</t></si>"], styles))


def _tiny(count: int) -> Iterable[bytes]:
    """``count`` shared strings of two characters each, which pack only 7 times."""
    alphabet = [bytes([c]) for c in range(0x30, 0x7B) if chr(c).isalnum()]
    pairs = [b"<si><t>%s%s</t></si>" % (a, b) for a in alphabet for b in alphabet]
    for start in range(0, count, len(pairs)):
        yield b"".join(pairs[: min(len(pairs), count - start)])


def xlsx_many_strings(workdir: Path) -> Result:
    """3,000,000 tiny shared strings (54 MB, a 7 MB file): no zip bomb, but past the budget
    of what openpyxl may hold."""
    return plan(workdir, _workbook(workdir / "in.xlsx", _tiny(3_000_000)))


def xlsx_accepted(workdir: Path) -> Result:
    """2,000,000 tiny shared strings, the most of them under the budget: read, as the worst
    a workbook that is accepted may cost."""
    return plan(workdir, _workbook(workdir / "in.xlsx", _tiny(2_000_000)))


def parquet_cell(workdir: Path) -> Result:
    """One text cell of 200 MB in a Parquet file, packed by zstd into a few KB (written by
    a process of its own: pyarrow's memory pool keeps what it took)."""
    path = workdir / "in.parquet"
    write = (
        "import sys, pyarrow as pa, pyarrow.parquet as pq; "
        "codes = pa.array(['W6 0WW', 'p' * (200 << 20)], type=pa.large_string()); "
        "pq.write_table(pa.table({'postcode': codes}), sys.argv[1], compression='zstd')"
    )
    subprocess.run([sys.executable, "-c", write, path], check=True)
    return plan(workdir, path)


# -- Answers ----------------------------------------------------------------------------


def _answers(mode: str, size: int = 0) -> Callable[[Path], Result]:
    """A run of 16 lookups, 16 at once, against a server whose every answer is ``mode``:
    each over the answer bound (10 MB by default), so each lookup fails (exit 1)."""

    def case(workdir: Path) -> Result:
        source = workdir / "in.csv"
        source.write_text("postcode\n" + "".join(f"W6 0W{chr(65 + i)}\n" for i in range(16)))
        with serving() as server:
            server.behave(mode, size=size)
            return run_cli(
                workdir, "enrich", source, "--column", "postcode", "--out", workdir / "o.csv",
                "--db", workdir / "s.db", "--base-url", server.url, "--concurrency", "16",
                "--max-attempts", "1",
            )  # fmt: skip

    return case


CASES: list[Case] = [
    Case("CSV: one quoted field of 100 MB", csv_field),
    Case("CSV: one line of 100 MB", csv_line),
    Case("JSON Lines: one line of 100 MB", jsonl_line),
    Case("JSON Lines: 2,000,000 distinct keys", jsonl_keys),
    Case("xlsx: a 200 MB shared string", xlsx_string),
    Case("xlsx: 1,000,000 cell formats", xlsx_styles),
    Case("xlsx: 3,000,000 tiny shared strings", xlsx_many_strings),
    Case("xlsx: 2,000,000 tiny shared strings (accepted)", xlsx_accepted, exit_code=0),
    Case("Parquet: one cell of 200 MB", parquet_cell),
    Case("Answers of 120 MB, 16 at once", _answers("huge", 120 * _MB), exit_code=1),
    Case("Answers that never end, 16 at once", _answers("endless"), exit_code=1),
]


def _size(n: int) -> str:
    return f"{n / _MB:,.1f} MB" if n >= _MB else f"{n / 1024:,.0f} KB"


def measure(only: str = "") -> tuple[str, bool]:
    rows, ok = [], True
    for case in CASES:
        if only and only.lower() not in case.name.lower():
            continue
        print(f"  {case.name}...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as workdir:
            result = case.run(Path(workdir))
        held = result.peak_rss_mb < TARGET_MB and result.exit_code == case.exit_code
        ok &= held
        said = result.first_line.replace("|", "\\|").replace(workdir, "…")
        rows.append(
            [
                case.name,
                _size(result.input_bytes) if result.input_bytes else "",
                f"{result.peak_rss_mb:,.0f}",
                f"{result.exit_code} ({case.exit_code} expected)",
                said if len(said) <= 160 else said[:159] + "…",
                "yes" if held else "**no**",
            ]
        )
    header = ["case", "input", "peak RSS (MB)", "exit", "first line of stderr", "held"]
    verdict = "met" if ok else "missed"
    return (
        f"{table(header, rows)}\n\nTarget every case under {TARGET_MB} MB with the exit "
        f"it expects: {verdict}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the cases whose name holds this")
    print(measure(parser.parse_args().only)[0])
