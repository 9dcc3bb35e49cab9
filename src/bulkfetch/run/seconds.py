"""A run's calls counted by the second of the wall clock they were sent in (sent, answered
429, failed, answered and how long that took, the pace then), kept in the store a few times
a minute for the run's report (see :mod:`bulkfetch.report`)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bulkfetch.adapter import Observed
from bulkfetch.errors import ApiError, ConnectError, RateLimitedError
from bulkfetch.store import Second, Store

if TYPE_CHECKING:
    from bulkfetch.adapter import Adapter, Reply
    from bulkfetch.jobs import Lookup
    from bulkfetch.pacing import Pacer

__all__ = ["Seconds"]


class Seconds:
    """One process's counts of a run's calls, by second, until they are kept."""

    def __init__(self, store: Store, run_id: int, pacer: Pacer | None = None) -> None:
        self._store = store
        self._run_id = run_id
        self._pacer = pacer
        self._counts: dict[int, Second] = {}

    def adapter(self, adapter: Adapter) -> Adapter:
        """``adapter``, each of its calls counted in the second it was sent in."""
        return Observed(adapter, self._call)

    async def keep(self) -> None:
        """Add what was counted since the last time to the store's seconds."""
        counts, self._counts = self._counts, {}
        await self._store.tallies.add(self._run_id, counts)

    async def _call(self, adapter: Adapter, lookups: Sequence[Lookup]) -> Reply:
        """A fetch, counted when it ends (the dict it is counted in may have been kept and
        replaced while it was out) in the second it was sent in."""
        sent = int(time.time())
        rate = self._pacer.rate if self._pacer is not None else None
        pace = rate if rate is not None and math.isfinite(rate) else None
        began = time.perf_counter()
        answered = limited = failed = False
        try:
            reply = await adapter.fetch(lookups)
            answered = True
            return reply
        except ConnectError:
            sent = -1  # nobody was reached: no call
            raise
        except RateLimitedError:
            limited = answered = True  # an answer, of a 429
            raise
        except ApiError as exc:
            answered = exc.status is not None  # an answer, of an error
            failed = exc.status is None or exc.status >= 500
            raise
        except Exception:  # an answer the adapter cannot read: a call answered, and billed
            answered = True
            raise
        finally:  # a call abandoned (cancelled) was sent all the same
            if sent >= 0:
                second = self._counts.setdefault(sent, Second(pace=pace))
                second.calls += 1
                second.rate_limited += limited
                second.failed += failed
                if answered:
                    second.answered += 1
                    second.latency += time.perf_counter() - began
