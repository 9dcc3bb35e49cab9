"""Shared fixtures: the real emulator and a hostile server, each served from a thread of
the tests' own process, and the real CLI, in this process (``run_cli``, ``cli``) or in a
process of its own (``bulkfetch_command``, where a kill, a signal or a second process is
the point)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from bulkfetch.cli import emulate, main
from bulkfetch.cli.app import _parser
from bulkfetch.emulator import build_app
from tests.hostile import Hostile, serving
from tests.postgres import scratch_database
from tests.serving import on_a_thread

KEY = "sk-test-5e3c1f0a9b"
PLATFORM_KEY = "pk_test_9f8e7d6c5b"
CUSTOMER_KEY = "ck_live_1a2b3c4d"


@dataclass
class Emulator:
    """A running emulator: ``bulkfetch emulate``'s application, with its options, served
    from a thread of this process."""

    url: str
    stop: Callable[[], None]  # it stops answering (its port is free again)

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
    def __call__(self, *options: str | Path) -> Emulator: ...


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start emulators with ``bulkfetch emulate``'s options; each is stopped after the
    test (or when the test stops it)."""
    with contextlib.ExitStack() as started:

        def start(*options: str | Path) -> Emulator:
            args = _parser().parse_args(["emulate", "--port", "0", *map(str, options)])
            app = build_app(emulate.config_of(args), host=args.host)
            serving = contextlib.ExitStack()
            url = serving.enter_context(on_a_thread(app, port=args.port))
            started.callback(serving.close)
            return Emulator(url, serving.close)

        yield start


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
    *args: str | Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion in this process (``main(argv)``, with the environment a
    process of its own would get), capturing what it prints: an exception it would end on
    is its traceback on stderr and exit 1, as in a process."""
    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(cli_env(**(env or {})))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _exit_code(args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_process(
    *args: str | Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI run to its end in a process of its own, as a user runs it."""
    return subprocess.run(
        bulkfetch_command(*args),
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(**(env or {})),
        check=False,
    )


Runner = Callable[..., subprocess.CompletedProcess[str]]
# An invariant proven on a few hundred rows in this process (the fast tier), and on ten
# thousand in a process of its own (the full tier).
SIZES = [
    pytest.param(400, run_cli, id="400-in-this-process"),
    pytest.param(10_000, run_process, id="10000-in-a-process", marks=pytest.mark.slow),
]


def _exit_code(args: Sequence[str | Path]) -> int:
    try:
        main([str(arg) for arg in args])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception:
        traceback.print_exc()
        return 1
    return 0


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
        code = _exit_code(args)
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
