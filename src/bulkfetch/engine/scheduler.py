"""The engine: claims jobs, paces calls, classifies answers, stores outcomes, stops cleanly.

It knows jobs, batches, limits, retries and stops; never a URL, a key or a body's shape.

::

    claimer --batches--> workers (one call each, paced by the limiter) --outcomes--> writer
                            ^                                                        |
                            +------ sends (one per call not yet stored) -------------+

A send is held from just before a call goes out until its outcome is committed, so the
calls made but not yet stored never exceed ``concurrency``: that bounds what a ``kill -9``
can cost in calls billed twice. The claimer leases about a second of calls at a time, and
the next second's once the workers start on their last chunk, so claims are few and large
and the workers never wait for one; while the adapter is probing, one batch at a time
(:mod:`bulkfetch.engine.claims`). The writer is the only task that stores outcomes; it
commits those that land together in one transaction (:mod:`bulkfetch.engine.commits`).
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from bulkfetch.adapter import Adapter
from bulkfetch.clock import Clock, SystemClock, wait_for
from bulkfetch.engine import claims
from bulkfetch.engine.arrivals import Arrivals
from bulkfetch.engine.classify import answered, failed, released
from bulkfetch.engine.commits import gather
from bulkfetch.engine.handoff import Handoff
from bulkfetch.engine.reach import Reachability
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.engine.stop import StopRequest, StopWaits, stop_kind
from bulkfetch.errors import (
    ApiError,
    BadResponseError,
    ConnectError,
    RateLimitedError,
    RejectedError,
    StopRunError,
)
from bulkfetch.jobs import Job, Outcome, StopKind
from bulkfetch.pacing import Pacer
from bulkfetch.store import Store

__all__ = ["OnOutcomes", "run_jobs"]


# Called after each commit: rows of the run it settled, and the outcomes stored.
OnOutcomes = Callable[[int, Sequence[Outcome]], None]


@dataclass(frozen=True, slots=True)
class _Done:
    """A batch's outcomes, whether its worker holds a send for it, and how many calls it
    made (a refused batch is split and sent again)."""

    outcomes: list[Outcome]
    sent: bool
    calls: int = 0


@dataclass(slots=True)
class _Tally:
    calls: int = 0  # requests one batch has sent


async def run_jobs(
    store: Store,
    run_id: int,
    adapter: Adapter,
    limiter: Pacer,
    *,
    settings: EngineSettings | None = None,
    stop: StopRequest | None = None,
    clock: Clock | None = None,
    on_outcomes: OnOutcomes | None = None,
    seed: int | None = None,
    arriving: Arrivals | None = None,
) -> StopRequest:
    """Work the run's pending jobs until every one is final or a stop is requested; with
    ``arriving``, the jobs still being enqueued too, until it is done."""
    engine = _Engine(
        store,
        run_id,
        adapter,
        limiter,
        settings or EngineSettings(),
        stop or StopRequest(),
        clock or SystemClock(),
        on_outcomes or (lambda _settled, _outcomes: None),
        random.Random(seed),
        arriving,
    )
    await engine.run()
    return engine.stop


class _Engine:
    def __init__(
        self,
        store: Store,
        run_id: int,
        adapter: Adapter,
        limiter: Pacer,
        settings: EngineSettings,
        stop: StopRequest,
        clock: Clock,
        on_outcomes: OnOutcomes,
        rng: random.Random,
        arriving: Arrivals | None = None,
    ) -> None:
        self.store = store
        self.arriving = arriving or Arrivals.none()
        self.run_id = run_id
        self.adapter = adapter
        self.limiter = limiter
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.on_outcomes = on_outcomes
        self.rng = rng
        # Unique among workers: a host and process id, and a random part (pids repeat).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # The jobs this engine holds leases on, and those of them whose call is out: if it is
        # stopped at once, the rest go back to the queue, and only those stay in flight.
        self.leased: dict[int, Job] = {}
        self.sent: set[int] = set()
        self.outstanding = 0
        self.progressed = anyio.Event()
        self.waits = StopWaits(self.stop)
        self.sends = self.waits.send_slots(settings.concurrency)
        self.reach = Reachability(
            attempts=settings.max_attempts,
            backoff_base=settings.backoff_base,
            backoff_cap=settings.backoff_cap,
            clock=clock,
        )

    async def run(self) -> None:
        try:
            await self._run()
        except anyio.get_cancelled_exc_class():
            # Stopped at once: what was leased but never sent goes back as it was, at no
            # cost; the calls out are abandoned (a resume counts them possibly billed twice).
            unsent = [job for job_id, job in self.leased.items() if job_id not in self.sent]
            with anyio.CancelScope(shield=True):
                await self._store(released(unsent, called=False))
            raise

    async def _run(self) -> None:
        batches, landed = Handoff[list[Job]](), Handoff[_Done]()
        async with anyio.create_task_group() as watching:
            watching.start_soon(self.waits.watch)
            watching.start_soon(self._keep_leases)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, landed)
                working = [self.settings.concurrency]

                async def worker() -> None:
                    try:
                        await self._worker(batches, landed)
                    finally:
                        working[0] -= 1
                        if not working[0]:
                            landed.close()  # the last worker is done: so is the writer

                for _ in range(self.settings.concurrency):
                    tg.start_soon(worker)
                try:
                    await self._claimer(batches)
                finally:
                    batches.close()
            watching.cancel_scope.cancel()

    # -- claimer ------------------------------------------------------------------------

    async def _claimer(self, batches: Handoff[list[Job]]) -> None:
        while not self.stop.requested:
            # Lease a chunk once the workers are down to their last one, and as many batches
            # wait as workers: few, large claims, workers that never wait, and no more leased
            # than is about to be sent (a lease that runs out is another worker's to send).
            # Probing: nothing out, then one batch, of the size the last answer taught.
            chunk = claims.chunk(self.limiter, self.settings)
            while (
                self.outstanding > (0 if claims.probing(self.adapter) else chunk)
                or len(batches) > self.settings.concurrency
            ):
                self.progressed = anyio.Event()
                if not await self.waits.unless_stopped(self.progressed.wait):
                    return
            self.progressed = anyio.Event()
            chunk = 1 if claims.probing(self.adapter) else chunk
            size = self.adapter.batch_size
            claim = await self.store.queue.claim(
                self.run_id,
                owner=self.owner,
                limit=chunk * size,
                now=self.clock.time(),
                lease_seconds=self.settings.lease_seconds,
            )
            jobs = claim.jobs
            self.leased.update((job.id, job) for job in jobs)
            chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
            self.outstanding += len(chunks)
            for batch in chunks:
                batches.put(batch)
            if chunks:
                continue
            if claim.capped:
                # The cap leaves no room: once the calls out land (an unbilled one
                # gives its room back), look again; with none out, stop.
                if self.outstanding == 0:
                    self.stop.request(StopKind.CAP, "the run's cap on billed units is reached")
                    return
                await self.waits.unless_stopped(self.progressed.wait)
            elif not await self._wait_for_work():
                break

    async def _keep_leases(self) -> None:
        """Renew this worker's leases while it lives; on a shared store, put back the jobs
        of workers whose leases ran out (they died), so that the living finish them."""
        lease = self.settings.lease_seconds
        while True:
            await self.clock.sleep(lease / 3)
            now = self.clock.time()
            await self.store.queue.renew_leases(self.owner, now + lease)
            if self.store.shared:
                await self.store.queue.reclaim_expired(now)

    IDLE_POLL = 0.2  # seconds
    SHARED_POLL = 1.0  # seconds between looks at a shared store with nothing to claim

    async def _wait_for_work(self) -> bool:
        """Nothing was due: wait until something may be. False when the run is finished."""
        if self.outstanding == 0:
            more = self.arriving.event  # taken before looking, so that no arrival is missed
            due = await self.store.queue.next_due(self.run_id)
            if due is None:
                if self.arriving.done and not more.is_set():
                    return False
                await self.waits.unless_stopped(more.wait)  # the input is still being read
                return True
            now = self.clock.time()
            delay = due - now
            if self.store.shared:
                # Other workers' jobs: look again soon, as they finish or their leases run out.
                if delay <= 0 and not await self.store.queue.reclaim_expired(now):
                    delay = self.IDLE_POLL  # due, not claimable: another is claiming it now
                delay = min(delay, self.SHARED_POLL)
        else:
            delay = self.settings.backoff_cap
        progressed = self.progressed
        await self.waits.unless_stopped(lambda: wait_for(progressed, max(0.0, delay), self.clock))
        return True

    # -- workers ------------------------------------------------------------------------

    async def _worker(self, batches: Handoff[list[Job]], landed: Handoff[_Done]) -> None:
        while (batch := await batches.take()) is not None:
            if await self.sends.take():
                tally = _Tally()
                done = await self._call_or_classify(batch, tally)
                landed.put(_Done(done, sent=True, calls=tally.calls))
            else:
                landed.put(_Done(released(batch, called=False), sent=False))

    async def _send_slot(self) -> bool:
        """Wait for a send slot from the pacer, at a moment the API can be reached (see
        :mod:`bulkfetch.reach`); False if the run stops first."""
        probe: list[bool] = [False]

        async def admit() -> None:
            probe[0] = await self.reach.admit()

        while not self.stop.requested:
            try:
                # A pacer may hold a call for long (a day's allowance spent): a stop ends it.
                if not self.limiter.acquire_now() and not await self.waits.unless_stopped(
                    self.limiter.acquire
                ):
                    return False
            except StopRunError as exc:  # a worker sharing the key stopped it, or a window
                self.stop.request(stop_kind(exc), str(exc))
                return False
            if self.stop.requested:
                return False
            if probe[0] or not self.reach.paused:
                return True
            # Paused: wait; then a fresh slot, so that the waiters do not go out at once.
            if not await self.waits.unless_stopped(admit):
                return False
        return False

    async def _call(self, jobs: list[Job], tally: _Tally) -> list[Outcome]:
        if not await self._send_slot():
            return released(jobs, called=False)
        sent_at, sent_mono = self.clock.time(), self.clock.monotonic()
        tally.calls += 1
        self.stop.unstored_calls += 1
        self.sent.update(job.id for job in jobs)
        try:
            reply = await self.adapter.fetch([job.lookup for job in jobs])
            outcomes = answered(jobs, reply)
        except ConnectError as exc:
            # Nobody was reached: no call, no attempt; the API may be down for everyone.
            self.reach.failed(exc, sent_mono)
            if self.reach.gave_up is not None:
                self.stop.request(StopKind.UNREACHABLE, self.reach.gave_up)
            return released(jobs, called=False, unconnected=True)
        except RateLimitedError as exc:
            self.reach.connected()
            self.limiter.on_rate_limited(exc.retry_after, sent_at)  # read in its second
            raise
        except ApiError:
            self.reach.connected()
            raise
        except Exception as exc:
            # An adapter that cannot read an answer (a body nested too deep, of the wrong
            # shape, a reply that does not fit its lookups) fails these lookups, not the
            # run. Only the exception's kind is kept: its text may quote the server's.
            self.reach.connected()
            unreadable = BadResponseError(
                f"the answer could not be read ({exc.__class__.__name__})"
            )
        else:
            self.reach.connected()
            self.limiter.on_success(sent_at)
            self.limiter.on_headers(reply.remaining, reply.reset_in)
            return outcomes
        raise unreadable  # outside the handler: nothing of the adapter's rides along

    async def _call_or_classify(self, jobs: list[Job], tally: _Tally) -> list[Outcome]:
        """:meth:`_call`, with a failed call's error turned into the jobs' outcomes."""
        try:
            return await self._call(jobs, tally)
        except RejectedError as exc:
            if len(jobs) == 1:
                return self._failed(jobs, exc)
            # One bad lookup can make a whole batch refused: halve it until the bad ones
            # stand alone, so that only they end invalid.
            half = (len(jobs) + 1) // 2
            return [
                *await self._call_or_classify(jobs[:half], tally),
                *await self._call_or_classify(jobs[half:], tally),
            ]
        except StopRunError as exc:
            failed = self._failed(jobs, exc)
            await self.limiter.on_stop(stop_kind(exc), str(exc))  # and every worker with it
            return failed
        except ApiError as exc:
            return self._failed(jobs, exc)

    def _failed(self, jobs: list[Job], exc: ApiError) -> list[Outcome]:
        if isinstance(exc, StopRunError):
            self.stop.request(stop_kind(exc), str(exc))
        return failed(jobs, exc, now=self.clock.time(), settings=self.settings, rng=self.rng)

    # -- writer -------------------------------------------------------------------------

    async def _writer(self, landed: Handoff[_Done]) -> None:
        while (first := await landed.take()) is not None:
            groups = [first]
            try:
                await gather(landed, groups, complete=self._all_landed)
            finally:  # cancelled while waiting for more: what landed is stored all the same
                flat = [outcome for group in groups for outcome in group.outcomes]
                with anyio.CancelScope(shield=True):
                    await self._store(flat)
            self.outstanding -= len(groups)
            self.stop.unstored_calls -= sum(group.calls for group in groups)
            self.sends.release(sum(group.sent for group in groups))
            self.progressed.set()
            self.on_outcomes(sum(o.settles for o in flat), flat)

    def _all_landed(self, groups: list[_Done]) -> bool:
        """Whether no call sent is still to land (or the run stops): commit at once."""
        return self.stop.requested or sum(g.calls for g in groups) >= self.stop.unstored_calls

    async def _store(self, outcomes: list[Outcome]) -> None:
        """Commit outcomes; their jobs are no longer this engine's."""
        await self.store.queue.apply(
            self.run_id,
            outcomes,
            now=self.clock.time(),
            max_attempts=self.settings.max_attempts,
            owner=self.owner,
        )
        for outcome in outcomes:
            self.leased.pop(outcome.job_id, None)
            self.sent.discard(outcome.job_id)
