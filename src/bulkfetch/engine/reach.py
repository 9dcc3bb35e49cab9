"""Whether the API can be reached at all, told from the connections that open or do not.

A request whose connection never opened (refused, an unknown host, a TLS failure) reached
nobody: it is not a call, nothing was billed, and it costs its lookup no attempt. It says
something about every lookup, though: sending pauses for all of them. After a backoff one
request goes out alone, as a probe, while the others wait for what it meets. A connection
that opens ends the pause; ``attempts`` failures in a row (each a probe, or the first
failure) give the API up, and the run stops naming the host, with every lookup still to do.

Requests that were already on their way when a failure was seen are part of that same
failure, whatever they meet: counting them would give the API up in the blink of the one
moment it was unreachable.
"""

from __future__ import annotations

import anyio

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import ConnectError

__all__ = ["Reachability"]


class Reachability:
    """Pauses sending while no connection opens; gives up after ``attempts`` failures."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self._attempts = attempts
        self._base = backoff_base
        self._cap = backoff_cap
        self._clock = clock or SystemClock()
        self._failures = 0  # failures in a row
        self._since = 0.0  # monotonic time of the first of them
        self._failed_at = float("-inf")  # of the last
        self._retry_at = 0.0
        self._probing = False
        self._changed = anyio.Event()
        self.gave_up: str | None = None  # why, once the API is given up

    @property
    def paused(self) -> bool:
        return self._failures > 0

    async def admit(self) -> bool:
        """Wait while sending is paused; while a probe is out, wait for what it meets.
        True: the caller is the probe, to send now. False: the pause is over (send when
        your turn comes), or the API was given up (the caller's stop takes over)."""
        while self._failures and self.gave_up is None:
            now = self._clock.monotonic()
            if now < self._retry_at:
                await self._clock.sleep(self._retry_at - now)
            elif not self._probing:
                self._probing = True
                return True
            else:
                await self._changed.wait()
        return False

    def connected(self) -> None:
        """A connection opened (whatever the answer): the API can be reached."""
        if self._failures:
            self._failures = 0
            self._probing = False
            self._wake()

    def failed(self, error: ConnectError, sent_at: float) -> None:
        """A request sent at ``sent_at`` (monotonic) met no connection."""
        if sent_at <= self._failed_at:
            return  # on its way before the last failure: part of it
        now = self._clock.monotonic()
        if not self._failures:
            self._since = now
        self._failures += 1
        self._failed_at = now
        self._probing = False
        if self._failures >= self._attempts:
            self.gave_up = (
                f"{error.message}: no connection opened in {self._failures} tries over "
                f"{now - self._since:.1f} s"
            )
        else:
            self._retry_at = now + min(self._cap, self._base * 2.0 ** (self._failures - 1))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
