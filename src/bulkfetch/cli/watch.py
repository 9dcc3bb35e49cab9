"""``--metrics-port``: a command's runs as Prometheus metrics at ``/metrics`` while it works
(see :mod:`bulkfetch.metrics`), and for ``--metrics-linger`` seconds after, for a last scrape
of a command that ends."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console

from bulkfetch.cli.terminal import say

if TYPE_CHECKING:
    from bulkfetch.metrics import Metrics

__all__ = ["Served", "add_options", "serving"]


def add_options(parser: argparse.ArgumentParser) -> None:
    """The metrics options of a command that makes calls."""
    parser.add_argument(
        "--metrics-port",
        metavar="[HOST:]PORT",
        type=_address,
        help="serve Prometheus metrics at http://HOST:PORT/metrics while the command works"
        " (HOST default 127.0.0.1; 0.0.0.0 for a scraper elsewhere; PORT 0: a free one, said"
        " on standard error); needs the metrics extra",
    )
    parser.add_argument(
        "--metrics-linger",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="with --metrics-port: serve that many seconds more once the command is done,"
        " for a last scrape of its final counts",
    )


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdecimal() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"give PORT or HOST:PORT (9464, 0.0.0.0:9464); got {text!r}"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be from 0 to 86400 seconds; got {text!r}")
    return value


class Served:
    """A command's metrics while they are served, and whether to linger after it."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self.linger = True  # False: the command stopped at once, or failed

    def stopped_at_once(self) -> None:
        self.linger = False


@contextmanager
def serving(args: argparse.Namespace, err: Console) -> Iterator[Served]:
    """The command's metrics, served while it runs (``metrics`` None: not asked for), and
    for ``--metrics-linger`` seconds after it ended well or stopped as asked; a signal
    then ends the wait, and the command's exit code is kept."""
    address: tuple[str, int] | None = getattr(args, "metrics_port", None)
    if address is None:
        yield Served(None)
        return
    from bulkfetch.metrics import Metrics  # prometheus_client: only when asked for

    metrics = Metrics()
    host, port = address
    port = metrics.serve(host, port)
    shown = f"[{host}]" if ":" in host else host
    say(
        err,
        f"metrics: http://{shown}:{port}/metrics",
        event="metrics",
        level=logging.WARNING,
        host=host,
        port=port,
    )  # a warning: said even with -q (a free port's number is needed)
    served = Served(metrics)
    try:
        yield served
        if served.linger and args.metrics_linger:
            _linger(args.metrics_linger)
    finally:
        metrics.close()


class _Ended(Exception):
    """A signal while lingering."""


def _linger(seconds: float) -> None:
    """Wait ``seconds``, or until SIGINT or SIGTERM, quietly."""

    def end(signum: int, frame: object) -> None:
        raise _Ended

    before = {sig: signal.signal(sig, end) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        time.sleep(seconds)
    except _Ended:
        pass
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
