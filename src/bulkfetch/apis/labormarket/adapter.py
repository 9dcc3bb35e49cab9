"""What a bulk run of one kind of Labor Market code (SOC or CIP) calls and writes: the
engine's adapter and the run's writer, over the client that sends (its session, pacing,
keys, and what it learnt of CIP attribution are shared by every kind it runs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bulkfetch.adapter import Reply
from bulkfetch.apis.labormarket import answers
from bulkfetch.apis.labormarket.wire import MAX_CODES, By
from bulkfetch.jobs import Lookup
from bulkfetch.pacing.limiter import RateLimiter

if TYPE_CHECKING:
    from bulkfetch.apis.labormarket.client import LaborMarket

__all__ = ["Codes"]


class Codes:
    """The adapter and writer of one kind of code: 25 codes a request (CIP codes one a
    request, and one request at a time, until an answer shows they say which input code
    each occupation matched; one a request if it shows they do not); a CIP answer's
    occupations a line each."""

    fixed_columns = ("regionType", "region", "warnings")

    def __init__(self, client: LaborMarket, by: By) -> None:
        self.client = client
        self.by = by

    def __repr__(self) -> str:
        return f"Codes({self.client!r}, by={self.by!r})"

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def batch_size(self) -> int:
        if self.by == "cip" and self.client.cip_attribution is not True:
            return 1
        return MAX_CODES

    @property
    def probing(self) -> bool:
        """CIP codes while no answer has shown whether occupations name their codes: the
        engine sends them one at a time until one does (or shows they do not)."""
        return self.by == "cip" and self.client.cip_attribution is None

    @property
    def expands_rows(self) -> bool:
        return self.by == "cip"

    @property
    def rate_key(self) -> str:
        return self.client.rate_key

    @property
    def notices(self) -> Sequence[str]:
        return self.client.notices

    @property
    def pacer(self) -> RateLimiter:
        """The client's own pacing, which its single calls share."""
        return self.client.pacer

    @property
    def origin(self) -> str:
        return self.client.origin

    def spec(self) -> dict[str, Any]:
        return {**self.client.spec(), "by": self.by}

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        return await self.client.fetch(lookups)

    def working(self, land: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        return self.client.working(land)

    async def close(self) -> None:
        await self.client.close()

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        return answers.output_rows(body)

    def output_document(self, body: str) -> Mapping[str, Any]:
        return answers.output_document(body)
