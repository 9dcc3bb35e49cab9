"""What calls cost: billed units as the provider bills them, and what went with them.

A unit is one lookup the API answered about itself (ok, or not found): CrystalRoof bills a
call, the Labor Market API a code, and one request may carry 25 codes. A success whose
body cannot be read was paid for all the same: billed. A refusal (the input invalid, 429, a
server error, a stop) is not billed. An answer lost after its request
was sent (timed out, cut off, the connection closed) may have been billed: its retry may
bill it again, so it counts as possibly billed twice, as do the lookups a process had in
flight when it died.

What units cost in money is the caller's to say (:class:`Price`: the store keeps none),
and is reckoned in :class:`~decimal.Decimal`, exactly: 453 units at 0.02 are 9.06.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from bulkfetch.jobs import Outcome, OutcomeKind

__all__ = ["Price", "Spend"]

# Products and whole quotients of finite decimals are exact at any size: with no limit on
# digits, a result that would round raises instead.
_EXACT = Context(
    prec=MAX_PREC,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, Inexact, Overflow, DivisionByZero],
)


@dataclass(frozen=True, slots=True)
class Price:
    """The price of a billed unit (a call; Labor Market: a code) and its currency, a label
    (``GBP``; None: the number alone). Money is shown to the places the price has (0.0125:
    4), at least 2: ``9.06 GBP``."""

    each: Decimal
    currency: str | None = None

    def __post_init__(self) -> None:
        if not (self.each.is_finite() and self.each > 0):
            raise ValueError(f"a price is a finite number above 0, not {self.each}")

    @property
    def places(self) -> int:
        exponent = self.each.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # a finite number's
        return max(2, -exponent)

    def of(self, units: int) -> Decimal:
        """What ``units`` cost, exactly, to :attr:`places`."""
        with localcontext(_EXACT):
            return (self.each * units).quantize(Decimal(1).scaleb(-self.places))

    def shown(self, amount: Decimal) -> str:
        """``12.34 GBP`` (``12.34`` with no currency), to :attr:`places` or more."""
        places = max(self.places, -min(0, _exponent(amount)))
        with localcontext(_EXACT):
            number = f"{amount.quantize(Decimal(1).scaleb(-places)):f}"
        return f"{number} {self.currency}" if self.currency else number

    def cost(self, units: int) -> str:
        """What ``units`` cost, as :meth:`shown`."""
        return self.shown(self.of(units))

    def units_within(self, money: Decimal) -> int:
        """The most units ``money`` pays for: floor(money / price), never rounded up."""
        with localcontext(_EXACT):
            return int(money // self.each)


def _exponent(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


@dataclass(slots=True)
class Spend:
    """Billed units and what went with them, for an invocation or a run so far."""

    units: int = 0  # billed: lookups the API answered about themselves
    requests: int = 0  # requests sent (a connection that never opened is not one)
    from_store: int = 0  # lookups the store had answered: units not spent
    rate_limited: int = 0  # answered 429
    retries: int = 0  # attempts that failed and were tried again (429s among them)
    connect_failures: int = 0  # no connection opened: not a request, not billed
    maybe_billed_twice: int = 0  # lost after sending, or in flight at a crash

    def add(self, outcomes: Iterable[Outcome]) -> None:
        """Count what a commit's outcomes spent."""
        for outcome in outcomes:
            self.units += outcome.billed
            self.requests += outcome.called
            self.connect_failures += outcome.unconnected
            self.maybe_billed_twice += outcome.maybe_billed
            # A request tried again: a failed attempt, or a 429 (which spends none).
            retried = outcome.kind is OutcomeKind.RETRY or outcome.rate_limited
            if retried and outcome.called:  # a request's, once
                self.retries += 1
                self.rate_limited += outcome.rate_limited

    def add_spend(self, other: Spend) -> None:
        """Count another's spend in this one."""
        for name, value in other.as_json().items():
            setattr(self, name, getattr(self, name) + value)

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    def describe(self, unit: str = "billed lookups", price: Price | None = None) -> str:
        """One line of words: ``12 billed lookups in 12 requests; 3 from the store; ...``;
        with a ``price``, the money beside the units billed and possibly billed twice."""
        billed = twice = ""
        if price is not None:
            billed = f" ({price.cost(self.units)})"
            twice = f" (up to {price.cost(self.maybe_billed_twice)})"
        return (
            f"{self.units} {unit}{billed} in {self.requests} requests; {self.from_store} from"
            f" the store (not billed); {self.rate_limited} answered 429, {self.retries}"
            f" retried; {self.connect_failures} connection failures (not billed);"
            f" {self.maybe_billed_twice} possibly billed twice{twice}"
        )
