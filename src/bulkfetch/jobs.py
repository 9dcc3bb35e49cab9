"""Jobs: what one lookup is, how it is identified, and the states it moves through."""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from bulkfetch import speedups

__all__ = ["Job", "JobState", "Lookup", "Outcome", "OutcomeKind", "RowStatus", "StopKind"]


class JobState(enum.Enum):
    """The life of a job in the store."""

    PENDING = "pending"  # waiting for a call (perhaps not before next_attempt_at)
    IN_FLIGHT = "in_flight"  # claimed under a lease by a live worker
    DONE = "done"  # answered 200; the result is stored
    NOT_FOUND = "not_found"  # answered 404: final and valid
    INVALID = "invalid"  # the API refused the input (400): final
    FAILED = "failed"  # retries ran out in this run; a later run tries again

    @property
    def is_final(self) -> bool:
        return self in {JobState.DONE, JobState.NOT_FOUND, JobState.INVALID}

    @property
    def is_answered(self) -> bool:
        """Final, and answered by the API (so billed): an answer that may age."""
        return self in {JobState.DONE, JobState.NOT_FOUND}


class RowStatus(enum.StrEnum):
    """The ``status`` column of an output row."""

    OK = "ok"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    FAILED = "failed"
    PENDING = "pending"  # the run stopped (quota, key, Ctrl-C) before this row's lookup

    def __repr__(self) -> str:  # as it is written in the output: 'ok', not <RowStatus.OK...>
        return repr(self.value)

    @classmethod
    def of(cls, state: JobState) -> RowStatus:
        return _ROW_STATUS[state]


_ROW_STATUS = {
    JobState.PENDING: RowStatus.PENDING,
    JobState.IN_FLIGHT: RowStatus.PENDING,
    JobState.DONE: RowStatus.OK,
    JobState.NOT_FOUND: RowStatus.NOT_FOUND,
    JobState.INVALID: RowStatus.INVALID,
    JobState.FAILED: RowStatus.FAILED,
}


@dataclass(frozen=True)  # not slots: the fingerprint is cached on the instance
class Lookup:
    """One paid call's worth of question: an API at an origin, an endpoint, and normalised
    parameters.

    The origin (the base URL) is part of the question, so an answer from the emulator or a
    test environment is never served as a production one. Never holds a key, so neither
    does anything derived from it.
    """

    api: str
    origin: str
    endpoint: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, api: str, origin: str, endpoint: str, params: Mapping[str, str]) -> Lookup:
        return cls(api, origin, endpoint, tuple(sorted(params.items())))

    @functools.cached_property
    def fingerprint(self) -> str:
        """Equal exactly when the lookups are equal; stable across processes and versions:
        the SHA-256 of ``json.dumps([api, origin, endpoint, params], separators=(",",
        ":"))``, written out the same, its first three the same for a kind of lookup."""
        return hashlib.sha256(_canonical(self).encode()).hexdigest()

    def param(self, name: str) -> str:
        return dict(self.params)[name]

    def params_json(self) -> str:
        """The parameters as a JSON object, keys sorted (as :meth:`of` keeps them)."""
        return speedups.dumps(dict(self.params))


def _canonical(lookup: Lookup) -> str:
    """``json.dumps([api, origin, endpoint, params], separators=(",", ":"))``, written out
    as it writes text (its own escaping), at half its cost: what a fingerprint hashes, a
    million times for a big file."""
    try:
        params = ",".join([f"[{_text(key)},{_text(value)}]" for key, value in lookup.params])
        return f"[{_text(lookup.api)},{_text(lookup.origin)},{_text(lookup.endpoint)},[{params}]]"
    except (TypeError, ValueError):  # not text (a plugin's own values): as json writes them
        return json.dumps(
            [lookup.api, lookup.origin, lookup.endpoint, lookup.params], separators=(",", ":")
        )


_text = json.encoder.encode_basestring_ascii


@dataclass(frozen=True, slots=True)
class Job:
    """A lookup claimed from the store for one call."""

    id: int
    lookup: Lookup
    attempts: int
    rows: int = 1  # input rows of the run that wait on this lookup


class OutcomeKind(enum.Enum):
    """What the scheduler decided about a claimed job after its call (or instead of one)."""

    DONE = "done"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    RETRY = "retry"  # an attempt failed; try again at next_attempt_at, or fail if out of tries
    # Not answered about (never sent as the run stops, its connection never opened, or a
    # 429): back to pending (due at next_attempt_at), no attempt counted.
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one job's call, as the writer stores it."""

    job_id: int
    kind: OutcomeKind
    status: int | None = None
    body: str | None = None  # the answer's JSON text, for DONE (and a NOT_FOUND's, if any)
    columns: tuple[str, ...] = ()  # the flat column names this answer fills, for DONE
    error: str | None = None
    next_attempt_at: float = 0.0
    called: bool = True  # whether a request was sent for it (counts toward calls made)
    settles: int = 0  # input rows this outcome gives their final status (for progress)
    unconnected: bool = False  # a request whose connection never opened (not a call)
    billed: int = 0  # billable units it spent: 1 for a lookup the API answered about
    maybe_billed: int = 0  # 1 for a lookup whose request was sent and its answer lost
    rate_limited: bool = False  # the provider's window was full (a 429): no attempt spent


class StopKind:
    """Why a run stopped early; stored as text in ``runs.stop_kind``."""

    QUOTA = "quota"
    AUTH = "auth"
    UNREACHABLE = "unreachable"  # no connection to the API opened for too long
    CAP = "cap"  # the run spent the billable units its cap allows
    REDIRECTED = "redirected"  # the API redirected to another origin (or in circles)
    WINDOW = "window"  # a window's allowance (2500/day) is spent, and the run stops at it
    INTERRUPTED = "interrupted"
