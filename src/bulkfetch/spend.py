"""What calls cost: billed units as the provider bills them, and what went with them.

A unit is one lookup the API answered about itself (ok, or not found): CrystalRoof bills a
call, the Labor Market API a code, and one request may carry 25 codes. A success whose
body cannot be read was paid for all the same: billed. A refusal (the input invalid, 429, a
server error, a stop) is not billed. An answer lost after its request
was sent (timed out, cut off, the connection closed) may have been billed: its retry may
bill it again, so it counts as possibly billed twice, as do the lookups a process had in
flight when it died.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from bulkfetch.jobs import Outcome, OutcomeKind

__all__ = ["Spend"]


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

    def describe(self, unit: str = "billed lookups") -> str:
        """One line of words: ``12 billed lookups in 12 requests; 3 from the store; ...``."""
        return (
            f"{self.units} {unit} in {self.requests} requests; {self.from_store} from the"
            f" store (not billed); {self.rate_limited} answered 429, {self.retries} retried;"
            f" {self.connect_failures} connection failures (not billed);"
            f" {self.maybe_billed_twice} possibly billed twice"
        )
