"""Prometheus metrics of runs (--metrics-port): scraped from a real process during its run
and after, and from four workers on PostgreSQL, against the emulator's ledger."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulkfetch.errors import ConnectError
from bulkfetch.jobs import Outcome, OutcomeKind
from bulkfetch.metrics import Metrics
from bulkfetch.samples import write_postcode_file
from bulkfetch.spend import Spend
from tests.acceptance.reliability.helpers import enrich_command
from tests.conftest import StartEmulator, bulkfetch_command, cli_env, run_cli
from tests.waiting import wait_until

_SERVED = re.compile(r"metrics: http://([\d.]+):(\d+)/metrics")


class Served:
    """A process of the CLI serving its metrics; its standard error in a file."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        self._file = log.open("w")
        self.process = subprocess.Popen(command, stderr=self._file, env=cli_env(), text=True)
        wait_until(lambda: _SERVED.search(self.err()), what="the metrics' address")
        host, port = _SERVED.findall(self.err())[0]
        self.url = f"http://{host}:{port}/metrics"

    def err(self) -> str:
        return self.log.read_text()

    def scrape(self) -> dict[str, float]:
        """Each sample's value summed over its labels, by sample name."""
        with urllib.request.urlopen(self.url, timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain")
            text = answer.read().decode()
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
        return found

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._file.close()


@contextmanager
def serving(*commands: tuple[list[str], Path]) -> Iterator[list[Served]]:
    with ExitStack() as stack:
        started = []
        for command, log in commands:
            served = Served(command, log)
            stack.callback(served.close)
            started.append(served)
        yield started


def test_the_counters_count_what_the_spend_counts() -> None:
    """The same outcomes counted by a meter and by a Spend give the same figures."""
    outcomes = [
        Outcome(1, OutcomeKind.DONE, 200, billed=1),
        Outcome(2, OutcomeKind.RELEASE, 429, rate_limited=True),
        Outcome(3, OutcomeKind.RETRY, 500),
        Outcome(4, OutcomeKind.RELEASE, called=False, unconnected=True),
        Outcome(5, OutcomeKind.RETRY, None, maybe_billed=1),
    ]
    spend = Spend()
    spend.add(outcomes)
    metrics = Metrics()
    metrics.run(7, "crystalroof", "occupation").count(outcomes, rows_pending=3)
    text = metrics.text()
    for name, value in (("requests", spend.requests), ("billed_units", spend.units),
                        ("rate_limited", spend.rate_limited), ("retries", spend.retries),
                        ("connect_failures", spend.connect_failures),
                        ("possibly_billed_twice", spend.maybe_billed_twice)):  # fmt: skip
        line = f'bulkfetch_{name}_total{{api="crystalroof",dataset="occupation",run="7"}}'
        assert f"{line} {float(value)}" in text
    assert 'bulkfetch_failures_total{api="crystalroof",dataset="occupation",run="7"} 2.0' in text
    assert 'bulkfetch_rows_pending{api="crystalroof",dataset="occupation",run="7"} 3.0' in text


def test_a_metrics_address_that_cannot_be_is_refused(tmp_path: Path) -> None:
    """--metrics-port nonsense: exit 2 before anything."""
    source = write_postcode_file(tmp_path / "in.csv", 5, seed=1)
    ran = run_cli("enrich", source, "--column", "postcode", "--out", tmp_path / "o.csv",
                  "--metrics-port", "nine")  # fmt: skip
    assert ran.returncode == 2
    assert "HOST:PORT" in ran.stderr
    assert not (tmp_path / "bulkfetch.db").exists()


@pytest.mark.slow
def test_a_run_is_scraped_while_it_works_and_ends_equal_to_the_ledger(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Scraped during the run: Prometheus text; after it (--metrics-linger), billed units and
    429s equal the ledger's, and every request's latency is in the histogram."""
    # 429s at random too, so there are some however well the run is paced.
    emulator = start_emulator("--rate-limit", "20", "--throttle-rate", "0.05", "--seed", "4")
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=9)
    command = enrich_command(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--rate",
                             "30", "--metrics-port", "0", "--metrics-linger", "60")  # fmt: skip
    with serving((command, tmp_path / "err.log")) as (run,):
        wait_until(lambda: run.scrape().get("bulkfetch_billed_units_total"), what="a count")
        during = run.scrape()
        assert 0 < during["bulkfetch_billed_units_total"] < 200
        wait_until(lambda: "200 rows:" in run.err(), what="the run's end", timeout=120)
        after = run.scrape()
    ledger = emulator.ledger()
    assert after["bulkfetch_billed_units_total"] == ledger["billed_total"] > 0
    assert after["bulkfetch_rate_limited_total"] == ledger["by_status"].get("429", 0) > 0
    assert after["bulkfetch_requests_total"] == ledger["requests"]
    assert after["bulkfetch_answer_latency_seconds_count"] == ledger["requests"]
    assert after["bulkfetch_calls_in_flight"] == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_four_workers_each_serve_their_own_and_sum_to_the_ledger(
    start_emulator: StartEmulator, postgres_url: str, tmp_path: Path
) -> None:
    """A run enqueued with --no-work, four workers each serving metrics: their billed units
    and 429s summed equal the ledger's."""
    emulator = start_emulator("--rate-limit", "40", "--seed", "6")
    source = write_postcode_file(tmp_path / "in.csv", 400, seed=10)
    enqueued = subprocess.run(
        enrich_command(emulator, source, tmp_path / "o.csv", postgres_url, "--no-work"),
        capture_output=True, text=True, env=cli_env(), check=False, timeout=120,
    )  # fmt: skip
    assert enqueued.returncode == 0, enqueued.stderr
    worker = bulkfetch_command("work", "--db", postgres_url, "--rate", "60", "--metrics-port",
                               "0", "--metrics-linger", "120")  # fmt: skip
    logs = [(worker, tmp_path / f"worker{i}.log") for i in range(4)]
    with serving(*logs) as workers:
        for each in workers:
            wait_until(lambda: "worked runs:" in each.err(), timeout=180)  # noqa: B023
        scraped = [each.scrape() for each in workers]
    ledger = emulator.ledger()
    billed = sum(one.get("bulkfetch_billed_units_total", 0.0) for one in scraped)
    limited = sum(one.get("bulkfetch_rate_limited_total", 0.0) for one in scraped)
    assert billed == ledger["billed_total"] > 0
    assert limited == ledger["by_status"].get("429", 0)
    assert sum(one.get("bulkfetch_requests_total", 0.0) > 0 for one in scraped) >= 2


def test_a_call_that_never_connected_has_no_latency() -> None:
    """A connection that never opened: not in the latency histogram, and not in flight."""

    class Unreachable:
        async def fetch(self, lookups: object) -> object:
            raise ConnectError("connection refused", host="127.0.0.1")

    meter = Metrics().run(1, "crystalroof", "occupation")
    timed = meter.adapter(Unreachable())  # type: ignore[arg-type]
    with pytest.raises(ConnectError):
        asyncio.run(timed.fetch([]))
    text = meter._metrics.text()
    labels = 'api="crystalroof",dataset="occupation",run="1"'
    assert f"bulkfetch_answer_latency_seconds_count{{{labels}}} 0.0" in text
    assert f"bulkfetch_calls_in_flight{{{labels}}} 0.0" in text


@pytest.mark.slow
def test_a_signal_while_lingering_ends_it_and_keeps_the_exit_code(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """-q still says where the metrics are; SIGTERM in the linger after a cap's stop ends the
    process at once with the cap's exit code, 7, and no traceback."""
    emulator = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 50, seed=9)
    command = enrich_command(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "-q",
                             "--max-calls", "5", "--metrics-port", "0", "--metrics-linger",
                             "300")  # fmt: skip
    with serving((command, tmp_path / "err.log")) as (run,):
        wait_until(lambda: "stopped:" in run.err(), what="the cap's stop")
        assert run.scrape()["bulkfetch_billed_units_total"] == 5
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=30) == 7
    assert "Traceback" not in run.err()
