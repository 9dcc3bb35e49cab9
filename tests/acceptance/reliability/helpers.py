"""What the reliability tests share: commands, reference outputs, the secret check."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CUSTOMER_KEY, KEY, PLATFORM_KEY, Emulator, bulkfetch_command, run_cli

SECRETS = (KEY, PLATFORM_KEY, CUSTOMER_KEY)


def enrich_command(
    emulator: Emulator, source: Path, out: Path, db: Path | str, *extra: str
) -> list[str]:
    return bulkfetch_command(
        "enrich", source, "--column", "postcode", "--out", out, "--db", db,
        "--base-url", emulator.url, *extra,
    )  # fmt: skip


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """A ``bulkfetch`` command (``bulkfetch_command``'s list) run to its end in this process
    (``run_cli``), with ``env`` added to its environment. Where a process of its own is the
    point (a kill, a signal, a limit on the process), the tests start one."""
    assert command[: len(PREFIX)] == PREFIX, command
    return run_cli(*command[len(PREFIX) :], env=env)


PREFIX = bulkfetch_command()


def reference(emulator: Emulator, source: Path, workdir: Path, *extra: str) -> bytes:
    """The output of an uninterrupted, fault-free run (on its own emulator and store)."""
    workdir.mkdir(exist_ok=True)
    out = workdir / "reference.csv"
    done = run(enrich_command(emulator, source, out, workdir / "reference.db", *extra))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def assert_no_secret(directory: Path, *printed: str) -> None:
    """No key in any byte of the files under ``directory`` or of what was printed."""
    text = "".join(printed)
    for secret in SECRETS:
        assert secret not in text
        for path in directory.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def assert_clean_exit(result: subprocess.CompletedProcess[str]) -> None:
    """No unhandled exception reached the user."""
    assert "Traceback" not in result.stderr, result.stderr


def billed_more(emulator: Emulator, more: int) -> Callable[[], bool]:
    """Whether ``more`` calls than now have been billed."""
    target = emulator.ledger()["billed_total"] + more
    return lambda: bool(emulator.ledger()["billed_total"] >= target)


def rows_but_lookup(path: Path) -> list[object]:
    """An output's rows without their lookup (and its columns without a dataset's name)."""
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        return [{k: v for k, v in line.items() if k != "lookup"} for line in lines]
    header, *rows = csv.reader(path.read_text(encoding="utf-8").splitlines())
    at = header.index("lookup")
    names = [name.removeprefix("occupation.") for name in header]
    return [[*row[:at], *row[at + 1 :]] for row in [names, *rows]]
