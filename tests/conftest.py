"""Shared fixtures: the real emulator in a subprocess, a hostile server on a thread, and the
real CLI (in a subprocess, or in this process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from benchmarks.common import scratch_database

from bulkfetch.cli import main
from tests.hostile import Hostile, serving

KEY = "sk-test-5e3c1f0a9b"
PLATFORM_KEY = "pk_test_9f8e7d6c5b"
CUSTOMER_KEY = "ck_live_1a2b3c4d"


@dataclass
class Emulator:
    """A running ``bulkfetch emulate`` process."""

    url: str
    process: subprocess.Popen[str]

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_emulator/ledger", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> None:
        request = urllib.request.Request(
            f"{self.url}/_emulator/config",
            data=json.dumps(changes).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


class StartEmulator(Protocol):
    def __call__(self, *options: str) -> Emulator: ...


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start emulators with the given CLI options; each is stopped after the test."""
    started: list[Emulator] = []

    def start(*options: str) -> Emulator:
        process = subprocess.Popen(
            [sys.executable, "-m", "bulkfetch", "emulate", "--port", "0", *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("emulator listening on "), line
        emulator = Emulator(line.split()[-1], process)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.process.terminate()
        emulator.process.wait(timeout=10)
        if emulator.process.stdout is not None:
            emulator.process.stdout.close()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> Emulator:
    """An emulator with default settings."""
    return start_emulator()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    env.update(
        {"CRYSTALROOF_API_KEY": KEY, "LMI_PLATFORM_KEY": PLATFORM_KEY, "PYTHONUNBUFFERED": "1"},
        **extra,
    )
    return env


_KEY_VARIABLES = {"CRYSTALROOF_API_KEY", "LMI_PLATFORM_KEY", "LMI_CUSTOMER_KEY"}


def bulkfetch_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "bulkfetch", *map(str, args)]


def run_cli(
    *args: str | Path, timeout: float = 120, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion, capturing its output."""
    return subprocess.run(
        bulkfetch_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**(env or {})),
        check=False,
    )


@dataclass(frozen=True)
class Ran:
    """What a command run in this process did: its exit code and what it printed."""

    code: int
    out: str
    err: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The real command line, ``bulkfetch.cli.main(argv)``, in this process, with the test
    keys in its environment (``run(*args, VARIABLE=value)`` sets more)."""
    for name, value in cli_env().items():
        if name in (*_KEY_VARIABLES, "PYTHONUNBUFFERED"):
            monkeypatch.setenv(name, value)

    def run(*args: str | Path, **env: str) -> Ran:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capfd.readouterr()
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capfd.readouterr()
        return Ran(code, out, err)

    return run


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    """A server that misbehaves as the test says (see :mod:`tests.hostile`)."""
    with serving() as server:
        yield server


# -- PostgreSQL ---------------------------------------------------------------------------

POSTGRES_VARIABLE = "BULKFETCH_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of the test's own, dropped after it.

    The server comes from ``BULKFETCH_TEST_POSTGRES_URL`` (``.ci/run`` sets it); without it
    the test is skipped, and says why.
    """
    base = os.environ.get(POSTGRES_VARIABLE)
    if not base:
        pytest.skip(f"{POSTGRES_VARIABLE} is not set: the PostgreSQL tests need a server")
    with scratch_database(base, "bulkfetch_test") as url:
        yield url
