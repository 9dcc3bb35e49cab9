"""Money beside units: exact Decimal arithmetic, the places a price implies, the currency's
label, and --max-spend as a cap in units (floor, never one unit over)."""

from __future__ import annotations

import argparse
from decimal import Decimal

import pytest

from bulkfetch.cli.options import amount, currency
from bulkfetch.cli.running import cap_of, price_of
from bulkfetch.errors import UsageError
from bulkfetch.spend import Price, Spend


def test_units_times_price_is_exact() -> None:
    """453 x 0.02 is 9.06, 3 x 0.1 is 0.30, and 25 digits x 2**63-1 loses no digit."""
    assert Price(Decimal("0.02")).of(453) == Decimal("9.06")
    assert Price(Decimal("0.1")).cost(3) == "0.30"
    long = Decimal("0.1234567890123456789012345")
    exact = Price(long).of(2**63 - 1)
    assert f"{exact:f}" == "1138687895536349070.0007380038242075930337415"
    assert exact != long * (2**63 - 1)  # the default context's product, rounded


@pytest.mark.parametrize(
    ("price", "units", "shown"),
    [
        ("0.02", 453, "9.06"),
        ("0.020", 450, "9.00"),  # trailing zeros imply no more places
        ("2", 3, "6.00"),  # at least 2
        ("0.5", 1, "0.50"),
        ("0.0125", 3, "0.0375"),  # the price's 4 places
        ("0.0125", 0, "0.0000"),
        ("100", 7, "700.00"),
    ],
)
def test_money_is_shown_to_the_places_the_price_implies(price: str, units: int, shown: str) -> None:
    """As many decimals as the price has, at least 2: never rounded, never in exponent form."""
    assert Price(Decimal(price)).cost(units) == shown


def test_the_currency_label_follows_the_number() -> None:
    """``9.06 GBP`` with a currency, ``9.06`` without; a labelled amount keeps its places."""
    assert Price(Decimal("0.02"), "GBP").cost(453) == "9.06 GBP"
    assert Price(Decimal("0.02")).cost(453) == "9.06"
    assert Price(Decimal("0.02"), "USD").shown(Decimal("1.005")) == "1.005 USD"


@pytest.mark.parametrize(
    ("money", "price", "units"),
    [
        ("50", "0.02", 2500),  # never 2501 (50 / 0.02 in floats is 2500.0000000000005)
        ("1.00", "0.02", 50),
        ("1.00", "0.03", 33),  # 0.99 spent at most: below the money
        ("0.9999", "0.02", 49),
        ("0.01", "0.02", 0),
        ("1", "0.000000000000000000000000000001", 10**30),
    ],
)
def test_the_units_money_pays_for_are_rounded_down(money: str, price: str, units: int) -> None:
    """floor(money / price), exactly: the cap never buys a unit the money does not cover."""
    bought = Price(Decimal(price)).units_within(Decimal(money))
    assert bought == units
    assert Price(Decimal(price)).of(bought) <= Decimal(money)


@pytest.mark.parametrize("price", ["0", "-0.02", "NaN", "Infinity"])
def test_a_price_is_finite_and_above_zero(price: str) -> None:
    """Zero, a negative, nan or inf is no price."""
    with pytest.raises(ValueError, match="finite number above 0"):
        Price(Decimal(price))


@pytest.mark.parametrize(
    "text", ["0", "0.00", "-1", "inf", "nan", "1e3", "", "x", "0,02", "1" * 31]
)
def test_an_amount_is_a_plain_number_above_zero(text: str) -> None:
    """--price and --max-spend: digits and a point, above 0; no exponent, inf or nan."""
    with pytest.raises(argparse.ArgumentTypeError):
        amount(text)


def test_an_amount_is_read_exactly() -> None:
    """The decimal as written, never through a float."""
    assert amount("0.02") == Decimal("0.02")
    assert amount(".5") == Decimal("0.5")
    assert str(amount("0.1")) == "0.1"


@pytest.mark.parametrize("text", ["", "G B P", "GBP\n", "\x1b[31m", "X" * 13])
def test_a_currency_is_a_short_printable_label(text: str) -> None:
    """No spaces, control characters or escapes: a label printed after a number."""
    with pytest.raises(argparse.ArgumentTypeError):
        currency(text)


def _args(**given: object) -> argparse.Namespace:
    defaults = {"price": None, "currency": None, "max_spend": None, "max_calls": None}
    return argparse.Namespace(**{**defaults, **given})


def test_the_cap_is_the_smaller_of_max_calls_and_what_max_spend_buys() -> None:
    """--max-spend 50 at 0.02 is 2500 units; with --max-calls 100, 100; with 9000, 2500."""
    for max_calls, cap in ((None, 2500), (100, 100), (9000, 2500)):
        args = _args(price=Decimal("0.02"), max_spend=Decimal("50"), max_calls=max_calls)
        assert cap_of(args, price_of(args)) == cap
    args = _args(price=Decimal("0.02"), max_calls=7)
    assert cap_of(args, price_of(args)) == 7
    huge = _args(price=Decimal("0.000001"), max_spend=Decimal("1" * 30))
    assert cap_of(huge, price_of(huge)) == 2**63 - 1  # what the store holds: no cap at all


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"max_spend": Decimal("50")}, "--max-spend needs --price"),
        ({"currency": "GBP"}, "--currency needs --price"),
        ({"max_spend": Decimal("0.01"), "price": Decimal("0.02")}, "pays for no unit"),
    ],
)
def test_money_that_cannot_be_reckoned_is_a_usage_error(
    given: dict[str, object], says: str
) -> None:
    """No price for --max-spend or --currency, or a max-spend below one unit: refused."""
    args = _args(**given)
    with pytest.raises(UsageError, match=says):
        cap_of(args, price_of(args))


def test_a_spend_described_with_a_price_shows_money_beside_units() -> None:
    """Billed units and possibly billed twice get their money; without a price, none."""
    spend = Spend(units=453, requests=460, maybe_billed_twice=2)
    priced = spend.describe(price=Price(Decimal("0.02"), "GBP"))
    assert priced.startswith("453 billed lookups (9.06 GBP) in 460 requests;")
    assert priced.endswith("2 possibly billed twice (up to 0.04 GBP)")
    assert "GBP" not in spend.describe()
    assert "(" not in spend.describe().split(";")[0]
