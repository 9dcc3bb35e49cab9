"""Numbers on the command line: inf, nan, negatives and sizes nothing can work with are
refused with argparse's one-line error, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from bulkfetch.cli.app import _parser
from bulkfetch.cli.emulate import burst, latency
from bulkfetch.cli.options import (
    concurrency,
    count,
    duration,
    fraction,
    port,
    positive_float,
    positive_int,
    rate,
    seconds,
)

NOT_FINITE = ["inf", "-inf", "nan", "NaN", "Infinity", "1e999"]


@pytest.mark.parametrize("parse", [positive_float, rate, seconds, fraction])
@pytest.mark.parametrize("text", [*NOT_FINITE, "-1", "", "x"])
def test_real_numbers_refuse_what_is_not_finite_or_negative(
    parse: Callable[[str], float], text: str
) -> None:
    """``--rate``, ``--timeout``, ``--lease``, ``--slow-seconds``, the fault rates: no inf,
    no nan, nothing below 0."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


def test_zero_is_refused_only_where_it_means_nothing() -> None:
    """A timeout of 0 is refused; 0 seconds of slowness, or a fault rate of 0, are not."""
    with pytest.raises(argparse.ArgumentTypeError, match="above 0"):
        positive_float("0")
    assert seconds("0") == 0.0
    assert fraction("0") == 0.0
    assert fraction("1") == 1.0
    assert positive_float("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError):
        fraction("1.5")


def test_a_rate_too_slow_to_be_a_pace_is_refused() -> None:
    """``--rate 1e-320``: a plan's time for it is infinite; a call in 11 days is the least."""
    for too_slow in ("0", "1e-320", "0.0000009"):
        with pytest.raises(argparse.ArgumentTypeError, match="at least 1e-06"):
            rate(too_slow)
    assert rate("0.000001") == 1e-6
    assert rate("2.5") == 2.5


@pytest.mark.parametrize("parse", [positive_int, count, concurrency, port])
@pytest.mark.parametrize("text", [*NOT_FINITE, "-1", "1.5", ""])
def test_whole_numbers_refuse_what_is_not_a_whole_number_or_negative(
    parse: Callable[[str], int], text: str
) -> None:
    """``--concurrency``, ``--max-calls``, ``--quota``, ``--port``, ``--seed``..."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


def test_whole_numbers_keep_to_what_works() -> None:
    """0 where it means something; no more than the store holds, than a machine can have
    in flight, or than a port can be."""
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        positive_int("0")
    assert count("0") == 0
    assert port("0") == 0
    assert positive_int(str(2**63 - 1)) == 2**63 - 1
    for parse, too_big in [(positive_int, 2**63), (concurrency, 10_001), (port, 65536)]:
        with pytest.raises(argparse.ArgumentTypeError, match="at most"):
            parse(str(too_big))


@pytest.mark.parametrize("text", ["inf", "nan", "-1d", "1e5s", "9" * 400 + "w", "12x"])
def test_durations_refuse_what_is_not_a_finite_length_of_time(text: str) -> None:
    """``--max-age``: a number and a unit, finite however many digits it has."""
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)
    assert duration("0s") == 0.0
    assert duration("2w") == 1_209_600.0


@pytest.mark.parametrize("text", ["nan,1", "0,inf", "-1,2", "2,1", "x", "1,"])
def test_latency_takes_two_finite_numbers_in_order(text: str) -> None:
    """``--latency MIN,MAX``: both finite, 0 or more, MIN no more than MAX."""
    with pytest.raises(argparse.ArgumentTypeError):
        latency(text)
    assert latency("0.05,0.2") == (0.05, 0.2)
    assert latency("0.5") == (0.5, 0.5)


@pytest.mark.parametrize("text", ["4", "inf,1", "4,nan", "-4,1", "1,4"])
def test_a_burst_takes_two_finite_numbers_no_longer_than_its_period(text: str) -> None:
    """``--burst-429 EVERY,SECONDS``: both finite, 0 or more, SECONDS no more than EVERY."""
    with pytest.raises(argparse.ArgumentTypeError):
        burst(text)
    assert burst("4,0.5") == (4.0, 0.5)
    assert burst("0,0") == (0.0, 0.0)


def test_the_parser_refuses_an_infinite_rate_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``enrich ... --rate inf``: exit 2 and one line saying why, no traceback."""
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(
            ["enrich", "x.csv", "--column", "c", "--out", "o.csv", "--rate", "inf"]
        )
    assert exited.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    why = "argument --rate: must be a finite number of at least 1e-06; got 'inf'"
    assert errors == [f"bulkfetch enrich: error: {why}"]
    assert "Traceback" not in err


def test_the_emulator_parses_its_pairs_and_defaults() -> None:
    """``bulkfetch emulate``: the pairs parsed to numbers; the defaults, none."""
    args = _parser().parse_args(["emulate", "--latency", "0.05,0.2", "--port", "0"])
    assert args.latency == (0.05, 0.2)
    assert args.burst_429 == (0.0, 0.0)
    assert args.port == 0
