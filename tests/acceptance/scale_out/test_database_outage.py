"""Workers outlive their database: a PostgreSQL server of the test's own (never the one the
other tests share) restarted or stopped under three ``bulkfetch work`` processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import assert_clean_exit
from tests.acceptance.scale_out.test_workers import (
    LIMIT,
    StartWorkers,
    assert_single_process_output,
    enqueue,
    export,
    finish,
    start_workers,  # noqa: F401 (a fixture, on this module's postgres_url)
)
from tests.conftest import Emulator, StartEmulator
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BIN = Path("/usr/lib/postgresql/15/bin")
WORKERS, CONCURRENCY = 3, 8  # start_workers gives each --concurrency 8

Control = Callable[..., None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Control]]:
    """A PostgreSQL server in a temporary folder on a free port, run as ``postgres``; its
    URL, and ``pg_ctl`` for it. Removed after the test."""
    if os.geteuid() != 0 or not (BIN / "pg_ctl").exists() or shutil.which("su") is None:
        pytest.skip("needs root, su and PostgreSQL 15's initdb and pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="bulkfetch-pg-"))
    shutil.chown(folder, "postgres")
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"

    def pg_ctl(*args: str) -> None:
        command = " ".join([str(BIN / "pg_ctl"), "-D", f"{folder}/data", "-w", *args])
        subprocess.run(
            ["su", "postgres", "-c", f"{command} -o '{options}' -l {folder}/log"],
            check=True,
            capture_output=True,
        )

    subprocess.run(
        ["su", "postgres", "-c", f"{BIN / 'initdb'} -D {folder}/data -A trust -U postgres"],
        check=True,
        capture_output=True,
    )
    pg_ctl("start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", pg_ctl
    finally:
        subprocess.run(
            ["su", "postgres", "-c", f"{BIN / 'pg_ctl'} -D {folder}/data -m immediate stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(own_postgres: tuple[str, Control]) -> str:
    """The workers' store (``start_workers`` takes it from here): the test's own server."""
    return own_postgres[0]


def _outage(pg_ctl: Control, how: str, emulator: Emulator) -> None:
    if how == "stopped for a while":
        pg_ctl("-m", "fast", "stop")
        # The outage lasts until the workers have sent nothing for 10 s: they must wait for
        # the store they cannot write, and ride it out.
        quiet = _Quiet(emulator, seconds=10)
        wait_until(quiet, timeout=60, what="the workers to stop sending")
        pg_ctl("start")
    else:
        pg_ctl("-m", how.split()[-1], "restart")


class _Quiet:
    """True once the emulator has answered no request for ``seconds``."""

    def __init__(self, emulator: Emulator, *, seconds: float) -> None:
        self._emulator = emulator
        self._seconds = seconds
        self._last = (-1, 0.0)  # requests, and when that count was first seen

    def __call__(self) -> bool:
        requests, now = self._emulator.ledger()["requests"], time.monotonic()
        if requests != self._last[0]:
            self._last = (requests, now)
        return now - self._last[1] >= self._seconds


@pytest.mark.parametrize("how", ["restart -m fast", "restart -m immediate", "stopped for a while"])
def test_workers_outlive_their_database(
    own_postgres: tuple[str, Control],
    start_emulator: StartEmulator,
    start_workers: StartWorkers,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    how: str,
) -> None:
    """Three workers, 600 lookups at 40/s, the server restarted (fast, immediate) or stopped
    for 20 s a third of the way in: every worker exits 0, every row is final, the output is
    a single process's, and lookups billed twice are at most the workers' concurrency."""
    url, pg_ctl = own_postgres
    source = write_postcode_file(tmp_path / "in.csv", 600, seed=21)
    emulator = start_emulator("--rate-limit", str(LIMIT))
    enqueue(emulator, source, url)
    workers = start_workers(WORKERS, "logs", "--lease", "10")
    wait_until(lambda: emulator.ledger()["billed_total"] >= 200, what="200 calls billed")
    _outage(pg_ctl, how, emulator)
    codes = finish(workers, timeout=150)
    said = [path.read_text() for path in sorted((tmp_path / "logs").iterdir())]
    assert codes == [0] * WORKERS, said
    assert all("Traceback" not in text for text in said), said
    exported = export(url, tmp_path / "out.csv")
    assert_clean_exit(exported)
    assert exported.returncode == 0, exported.stderr  # every row final
    assert emulator.ledger()["billed_twice"] <= WORKERS * CONCURRENCY
    assert_single_process_output(start_emulator, source, tmp_path)
