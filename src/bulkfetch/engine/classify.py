"""What a call's answer, or its failure, means for the jobs it carried: pure functions of
the answer, the jobs and the time, with no pacing, store or stop in them.

Each lookup the API answered about itself (ok, not found) is one billed unit, and so is
each of a success that could not be read (it was paid for); a refusal (a 400 about the
input, 429, 5xx, a stop) is not billed; a request sent whose answer was lost may have been
(see :mod:`bulkfetch.spend`). A lookup's own error, as the adapter read it from the answer,
is kept as one line (:func:`bulkfetch.untrusted.message`)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.errors import ApiError, Disposition, NotFoundError, RateLimitedError, StopRunError
from bulkfetch.jobs import Job, Outcome, OutcomeKind
from bulkfetch.untrusted import message

__all__ = ["answered", "failed", "released"]

_OUTCOME = {
    ResultKind.OK: OutcomeKind.DONE,
    ResultKind.NOT_FOUND: OutcomeKind.NOT_FOUND,
    ResultKind.INVALID: OutcomeKind.INVALID,
}


def answered(jobs: Sequence[Job], reply: Reply) -> list[Outcome]:
    """A request answered: one outcome a job, each the adapter's result for its lookup."""
    return [
        Outcome(
            job.id,
            _OUTCOME[result.kind],
            status=result.status,
            body=result.body,
            columns=result.columns,
            error=None if result.error is None else message(result.error),
            called=index == 0,
            settles=job.rows,
            billed=_billed(result),
        )
        for index, (job, result) in enumerate(zip(jobs, reply.results, strict=True))
    ]


def _billed(result: LookupResult) -> bool:
    """Whether a result spends a unit: as the adapter says, else unless it was refused."""
    return result.kind is not ResultKind.INVALID if result.billed is None else result.billed


def failed(
    jobs: Sequence[Job],
    exc: ApiError,
    *,
    now: float,
    settings: EngineSettings,
    rng: random.Random,
) -> list[Outcome]:
    """A request that failed as a whole: a stop puts its jobs back as they were; a permanent
    answer (404, 400) is theirs; a 429 puts them back for after a backoff, no attempt
    spent; anything else is an attempt, retried after a backoff (at least the provider's
    Retry-After) until ``max_attempts``, then failed for this run."""
    if isinstance(exc, StopRunError):
        return released(jobs, called=True)
    if exc.disposition is Disposition.PERMANENT:
        found = isinstance(exc, NotFoundError)  # answered: it knows no such thing
        permanent = OutcomeKind.NOT_FOUND if found else OutcomeKind.INVALID
        return [
            Outcome(
                job.id,
                permanent,
                status=exc.status,
                error=str(exc),
                called=i == 0,
                settles=job.rows,
                billed=found,  # a not found is answered; a refusal is not
            )
            for i, job in enumerate(jobs)
        ]
    retry_after = getattr(exc, "retry_after", None)
    # A 429: the provider's window was full, which says nothing of the lookups: back to the
    # queue with no attempt spent (a strict limit must not end lookups failed).
    limited = isinstance(exc, RateLimitedError)
    return [
        Outcome(
            job.id,
            OutcomeKind.RELEASE if limited else OutcomeKind.RETRY,
            status=exc.status,
            error=str(exc),
            next_attempt_at=now + settings.backoff(job.attempts, retry_after, rng),
            called=i == 0,
            # Out of attempts: the store marks it failed, which settles its rows for this run.
            settles=0 if limited or job.attempts + 1 < settings.max_attempts else job.rows,
            billed=exc.billed,
            maybe_billed=exc.maybe_billed,
            rate_limited=limited,
        )
        for i, job in enumerate(jobs)
    ]


def released(jobs: Sequence[Job], *, called: bool, unconnected: bool = False) -> list[Outcome]:
    """Jobs put back as they were, no attempt counted: never sent (``called``: sent, as when
    the answer was a stop), or sent on a connection that never opened (``unconnected``)."""
    return [
        Outcome(
            job.id,
            OutcomeKind.RELEASE,
            called=called and i == 0,
            unconnected=unconnected and i == 0,
        )
        for i, job in enumerate(jobs)
    ]
