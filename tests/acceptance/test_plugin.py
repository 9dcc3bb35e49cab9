"""A third API is one package: the toy plugin in ``tests/plugins/echo``, installed with pip,
is a subcommand that enqueues, works (also under ``bulkfetch work`` on PostgreSQL), resumes
and exports, with no change outside its package."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import bulkfetch_command, cli_env

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "echo"
WORDS = ["apple", "Banana", "xylophone", "cherry", "apple", "not a word", "date"] * 30


def test_the_plugin_is_small_and_knows_only_bulkfetch_plugin() -> None:
    """The echo plugin: at most 100 lines, at most 10 names of bulkfetch, all from
    bulkfetch.plugin, and no CLI, emulator, argparse, rich or aiohttp."""
    sources = list((PLUGIN / "src").rglob("*.py"))
    lines = sum(len(path.read_text().splitlines()) for path in sources)
    names: set[str] = set()
    modules: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module)
                if node.module.startswith("bulkfetch"):
                    names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    assert lines <= 100
    assert len(names) <= 10, names
    assert {m for m in modules if m.startswith("bulkfetch")} == {"bulkfetch.plugin"}
    assert not modules & {"argparse", "rich", "aiohttp", "bulkfetch.cli", "bulkfetch.emulator"}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed with pip into a folder of its own (what PYTHONPATH adds)."""
    build = tmp_path_factory.mktemp("echo")
    shutil.copytree(PLUGIN, build / "source")  # pip builds in the tree: not in ours
    target = build / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target,
         build / "source"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return target


def env(plugin_path: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(plugin_path), os.environ.get("PYTHONPATH")) if p)
    return cli_env(PYTHONPATH=path, ECHO_KEY="echo-secret", **extra)


def run(plugin_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bulkfetch_command(*args),
        env=env(plugin_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Echo:
    """``bulkfetch emulate`` with the plugin installed: it mounts the plugin's route."""

    def __init__(self, plugin_path: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            bulkfetch_command("emulate", "--port", "0", *options),
            stdout=subprocess.PIPE,
            text=True,
            env=env(plugin_path),
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def ledger(self) -> Mapping[str, object]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_emulator/ledger", timeout=10) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def echo(plugin_path: Path) -> Iterator[Echo]:
    emulator = Echo(plugin_path, "--quota", "2")
    yield emulator
    emulator.close()


def words_file(tmp_path: Path) -> Path:
    source = tmp_path / "words.csv"
    source.write_text("word\n" + "".join(f"{w}\n" for w in WORDS))
    return source


@pytest.mark.slow
def test_the_plugin_is_a_command_that_runs_resumes_and_exports(
    plugin_path: Path, echo: Echo, tmp_path: Path
) -> None:
    """Listed in --help; stopped by its quota (exit 3), resumed with more, exported from
    the store alone, every distinct word billed once."""
    assert "echo" in run(plugin_path, "--help").stdout
    source, out, db = words_file(tmp_path), tmp_path / "o.csv", tmp_path / "s.db"
    command = ("echo", source, "--column", "word", "--out", out, "--db", db,
               "--base-url", echo.url)  # fmt: skip
    stopped = run(plugin_path, *command)
    assert stopped.returncode == 3, stopped.stderr
    assert "package of calls is used up" in stopped.stderr
    _configure(echo, {"quota": None})
    resumed = run(plugin_path, *command)
    assert resumed.returncode == 0, resumed.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "word,lookup,status,error,word_,upper,length"
    assert rows[1] == "apple,apple,ok,,apple,APPLE,5"
    assert rows[3] == "xylophone,xylophone,not_found,not found,,,"
    assert rows[6].startswith("not a word,,invalid,not a word: 'not a word'")
    assert len(rows) == len(WORDS) + 1
    ledger = echo.ledger()
    assert ledger["billed_twice"] == 0
    assert ledger["billed_total"] == 5  # apple, banana, xylophone, cherry, date

    exported = run(plugin_path, "export", "--db", db, "--run", "1", "--out", tmp_path / "e.csv")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "e.csv").read_bytes() == out.read_bytes()
    assert "echo-secret" not in db.read_bytes().decode("latin-1")


@pytest.mark.slow
@pytest.mark.postgres
def test_the_plugin_is_worked_by_workers_on_postgres(
    plugin_path: Path, postgres_url: str, tmp_path: Path
) -> None:
    """Enqueued with --no-work, worked by two ``bulkfetch work`` processes that find the
    plugin through its entry point, exported: the SQLite run's output."""
    echo = Echo(plugin_path)
    try:
        source = words_file(tmp_path)
        single = run(plugin_path, "echo", source, "--column", "word", "--out",
                     tmp_path / "single.csv", "--db", tmp_path / "s.db",
                     "--base-url", echo.url)  # fmt: skip
        assert single.returncode == 0, single.stderr
        enqueued = run(plugin_path, "echo", source, "--column", "word", "--out",
                       tmp_path / "unused.csv", "--db", postgres_url, "--base-url", echo.url,
                       "--no-work")  # fmt: skip
        assert enqueued.returncode == 0, enqueued.stderr
        workers = [
            subprocess.Popen(
                bulkfetch_command("work", "--db", postgres_url, "--concurrency", "2"),
                env=env(plugin_path),
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            assert worker.returncode == 0, stderr
        exported = run(plugin_path, "export", "--db", postgres_url, "--run", "1", "--out",
                       tmp_path / "pg.csv")  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        assert (tmp_path / "pg.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    finally:
        echo.close()


def _configure(echo: Echo, changes: dict[str, object]) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{echo.url}/_emulator/config",
        data=json.dumps(changes).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
