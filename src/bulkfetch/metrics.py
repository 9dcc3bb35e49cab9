"""A process's runs as Prometheus metrics, served at ``/metrics`` by the official client
library (the ``metrics`` extra): what ``--metrics-port`` serves on every command that makes
calls. Counters of requests, billed units, answers from the store, 429s, retries, failed
calls, connections that never opened and units possibly billed twice; gauges of calls in
flight, rows pending, the pace and the limit learnt; a histogram of answer latency. Each is
labelled by ``api``, ``run`` and ``dataset`` alone: a store's runs are few, so the series
are. A run counts what it spends as its calls land (:meth:`RunMeter.count`), from the same
outcomes as its spend, so the counters end equal to the spend it reports."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bulkfetch.adapter import Observed
from bulkfetch.errors import ApiError, ConnectError, UsageError
from bulkfetch.jobs import Lookup, Outcome, OutcomeKind

if TYPE_CHECKING:
    from bulkfetch.adapter import Adapter, Reply
    from bulkfetch.pacing import Pacer

__all__ = ["Metrics", "RunMeter"]

_LABELS = ("api", "run", "dataset")
# Seconds an answer takes: from a fast emulator's milliseconds to a slow provider's.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One process's metrics, in a registry of its own (none of the library's globals)."""

    def __init__(self) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise UsageError(
                "--metrics-port needs prometheus_client: pip install 'bulkfetch[metrics]'"
            ) from None
        self._prom = prom
        self.registry = prom.CollectorRegistry()

        def counter(name: str, what: str) -> Any:
            return prom.Counter(f"bulkfetch_{name}", what, _LABELS, registry=self.registry)

        def gauge(name: str, what: str) -> Any:
            return prom.Gauge(f"bulkfetch_{name}", what, _LABELS, registry=self.registry)

        self.requests = counter("requests", "requests sent to the API (a batch is one)")
        self.billed = counter("billed_units", "billable units the API answered about")
        self.from_store = counter("from_store", "lookups answered from the store: not billed")
        self.rate_limited = counter("rate_limited", "requests answered 429")
        self.retries = counter("retries", "requests tried again (a failed attempt or a 429)")
        self.failures = counter("failures", "requests that failed (5xx, timeouts, bad answers)")
        self.connect_failures = counter(
            "connect_failures", "requests whose connection never opened (not calls, not billed)"
        )
        self.maybe_billed = counter(
            "possibly_billed_twice", "units whose request was sent and its answer lost"
        )
        self.in_flight = gauge("calls_in_flight", "requests sent and not answered yet")
        self.pending = gauge("rows_pending", "input rows not settled yet")
        self.pace = gauge("pace_calls_per_second", "the rate calls go out at (NaN: no limit)")
        self.limit = gauge("learned_limit_calls_per_second", "the limit learnt from 429s")
        self.latency = prom.Histogram(
            "bulkfetch_answer_latency_seconds",
            "seconds from a request sent to its answer read",
            _LABELS,
            buckets=_LATENCY,
            registry=self.registry,
        )
        self._server: Any = None

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on a thread of its own; the port it listens on (0: a free one)."""
        try:
            server, _ = self._prom.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        """The metrics as Prometheus text, as ``/metrics`` serves them."""
        return str(self._prom.generate_latest(self.registry).decode())

    def run(self, run_id: int, api: str, dataset: str = "") -> RunMeter:
        """The meter of one run (``dataset``: its name in a pass, if any)."""
        return RunMeter(self, {"api": api, "run": str(run_id), "dataset": dataset})


class RunMeter:
    """One run's series: what its calls spend, as they land."""

    def __init__(self, metrics: Metrics, labels: dict[str, str]) -> None:
        self._metrics = metrics
        self._of = {name: getattr(metrics, name).labels(**labels) for name in _SERIES}
        self._latency = metrics.latency.labels(**labels)
        self._in_flight = metrics.in_flight.labels(**labels)
        self._pacer: Pacer | None = None

    def count(self, outcomes: Sequence[Outcome], rows_pending: int) -> None:
        """A commit's outcomes, counted as the run's spend counts them."""
        of = self._of
        for outcome in outcomes:
            called = outcome.called
            of["requests"].inc(called)
            of["billed"].inc(outcome.billed)
            of["connect_failures"].inc(outcome.unconnected)
            of["maybe_billed"].inc(outcome.maybe_billed)
            retried = outcome.kind is OutcomeKind.RETRY or outcome.rate_limited
            if retried and called:
                of["retries"].inc()
                of["rate_limited"].inc(outcome.rate_limited)
                of["failures"].inc(not outcome.rate_limited)
        of["pending"].set(rows_pending)
        self._paced()

    def reclaimed(self, lookups: int) -> None:
        """Lookups in flight when an earlier process died: sent again, possibly billed twice."""
        self._of["maybe_billed"].inc(lookups)

    def answered_from_store(self, lookups: int) -> None:
        self._of["from_store"].inc(lookups)

    def watch(self, pacer: Pacer | None) -> None:
        """The pacer whose rate and learnt limit the run's gauges show, as each commit
        lands (None: the run is done; its last figures stay)."""
        self._pacer = pacer
        self._paced()

    def _paced(self) -> None:
        if self._pacer is not None:
            self._of["pace"].set(_number(self._pacer.rate))
            self._of["limit"].set(_number(self._pacer.learned))

    def adapter(self, adapter: Adapter) -> Adapter:
        """``adapter``, its calls in flight and their latency measured."""
        return Observed(adapter, self._timed)

    async def _timed(self, adapter: Adapter, lookups: Sequence[Lookup]) -> Reply:
        """A fetch, in flight while it is; its latency if the API answered (a success or
        an error it sent: not a connection that never opened, nor a call abandoned)."""
        self._in_flight.inc()
        began = time.perf_counter()
        try:
            reply = await adapter.fetch(lookups)
        except ConnectError:
            raise
        except ApiError:
            self._latency.observe(time.perf_counter() - began)
            raise
        finally:
            self._in_flight.dec()
        self._latency.observe(time.perf_counter() - began)
        return reply


_SERIES = (
    "requests",
    "billed",
    "from_store",
    "rate_limited",
    "retries",
    "failures",
    "connect_failures",
    "maybe_billed",
    "pending",
    "pace",
    "limit",
)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
