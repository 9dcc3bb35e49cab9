"""Keys stay in memory; files are the user's and nobody else's; the emulator stays local."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bulkfetch.emulator.server import GATE, EmulatorConfig, build_app
from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import assert_no_secret, enrich_command, run
from tests.conftest import KEY, Emulator, StartEmulator, bulkfetch_command, cli_env, run_cli

pytestmark = [pytest.mark.reliability]


def test_no_key_on_the_progress_display_or_anywhere_under_failures(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """A terminal's progress bar, faults, a revoked key and a spent quota: the key is in no
    byte printed, stored or written."""
    emulator = start_emulator("--fail-rate", "0.1", "--truncate-rate", "0.05", "--quota", "150")
    source = write_postcode_file(tmp_path / "in.csv", 300, seed=51, malformed_rate=0.05)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--rate", "100")
    on_terminal = run(command, TTY_COMPATIBLE="1", COLUMNS="200")
    assert on_terminal.returncode == 3
    assert "calls/s" in on_terminal.stderr  # the bar was drawn
    emulator.configure(quota=None, key_status={KEY: 401})
    revoked = run(command, TTY_COMPATIBLE="1")
    assert revoked.returncode == 4
    jsonl = run([*command[:-2], "--format", "jsonl"])
    status = run_cli("status", "--db", db)
    assert_no_secret(
        tmp_path,
        on_terminal.stdout,
        on_terminal.stderr,
        revoked.stderr,
        jsonl.stderr,
        status.stdout,
    )


@pytest.mark.slow
def test_files_are_never_world_writable(emulator: Emulator, tmp_path: Path) -> None:
    """Even under umask 000, the store, its lock, its journal and the output are not
    writable by others."""
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=52)
    command = enrich_command(emulator, source, tmp_path / "out.csv", tmp_path / "s.db")
    done = subprocess.run(
        command, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=lambda: os.umask(0),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    made = [p for p in tmp_path.iterdir() if p.name != "in.csv"]
    assert {p.name for p in made} >= {"out.csv", "s.db", "s.db.lock"}
    for path in made:
        assert not path.stat().st_mode & stat.S_IWOTH, path


@pytest.mark.slow
def test_the_emulator_listens_on_loopback_only() -> None:
    """``bulkfetch emulate`` binds 127.0.0.1 by default, as the kernel's socket table shows."""
    command = bulkfetch_command("emulate", "--port", "0")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            assert url.startswith("http://127.0.0.1:")
            port = int(url.rsplit(":", 1)[1])
            listening = [
                line.split()[1]
                for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
            ]
            assert listening == [f"0100007F:{port:04X}"]
        finally:
            process.terminate()


async def control(host: str, content_type: str) -> tuple[int, int]:
    """A POST to the emulator's config by Host ``host``, as ``content_type``: its status,
    and the quota the emulator has after it."""
    app = build_app(EmulatorConfig())
    async with TestClient(TestServer(app)) as client:
        answer = await client.post(
            "/_emulator/config",
            data=json.dumps({"quota": 7}),
            headers={"Host": host, "Content-Type": content_type},
        )
        return answer.status, app[GATE].config.quota or 0


async def test_the_emulators_controls_take_json_from_a_loopback_host_only() -> None:
    """A form post, or a request by another site's name (DNS rebinding), changes nothing."""
    assert await control("127.0.0.1:8710", "application/json") == (200, 7)
    assert await control("localhost", "application/json") == (200, 7)
    assert await control("127.0.0.1:8710", "text/plain") == (415, 0)
    assert await control("127.0.0.1:8710", "application/x-www-form-urlencoded") == (415, 0)
    assert await control("evil.example:8710", "application/json") == (403, 0)
    assert await control("[::1", "application/json") == (403, 0)
