"""What the reliability tests share: commands, reference outputs, the secret check."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import CUSTOMER_KEY, KEY, PLATFORM_KEY, Emulator, bulkfetch_command, cli_env

SECRETS = (KEY, PLATFORM_KEY, CUSTOMER_KEY)


def enrich_command(
    emulator: Emulator, source: Path, out: Path, db: Path | str, *extra: str
) -> list[str]:
    return bulkfetch_command(
        "enrich", source, "--column", "postcode", "--out", out, "--db", db,
        "--base-url", emulator.url, *extra,
    )  # fmt: skip


def run(command: list[str], timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """Run to the end, bounded in time: a hang fails the test instead of stalling the suite."""
    return subprocess.run(
        command, env=cli_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


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
