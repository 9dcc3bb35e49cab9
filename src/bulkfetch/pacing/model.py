"""Which window a provider's answers fit, and its limit: fixed seconds at a phase of ours, a
sliding second, or a token bucket with a burst.

A provider admits a call by when it *arrives*, which the client knows only roughly: its
send time plus some part of its latency. A call's latency over the run's least is the
jitter of its two ways, of which some share came on the way in; the arrival is taken as
the send time plus that share of it (a half: both ways alike; all of it: the way back
steady). Each window is replayed over those arrivals, the provider's own answers telling
which calls it counted (a refused call counts for nothing), and scored by the answers it
cannot explain:

- **fixed seconds at a phase**: no window admits more than the limit, and a call refused
  in one came after the limit was admitted in it;
- **a sliding second**: no call was admitted with the limit admitted in the second before
  it, and each refused call had it;
- **a token bucket** (``rate`` tokens a second into ``burst``, full at first): an admitted
  call found a token, a refused one none.

The window and limit that explain the most answers win (ties go to fixed seconds, then a
sliding second: the simpler); a fit holds only when few answers are left unexplained. Pure
functions of the answers, no clock.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Answer", "WindowModel", "fit_window"]

Answer = tuple[float, float, bool]  # (sent: seconds since the epoch, latency: seconds, admitted)

WAY_IN = (0.5, 1.0)  # shares of a latency's jitter tried as the way in's
PHASES = 50  # fixed phases tried, evenly over a second
LEAST_REFUSED = 4  # refused answers, in seconds that repeat (see _repeated), before a fit
BURSTS = (0.05, 0.1, 0.2, 0.34, 0.5)  # a bucket's bursts tried, as shares of its rate


@dataclass(frozen=True, slots=True)
class WindowModel:
    """A window that explains the answers: its ``kind``, ``limit`` (calls a second; a
    bucket's rate), ``phase`` (fixed seconds start at this fraction of ours, in send
    times), ``burst`` (a bucket's), and the answers it leaves unexplained (``misses``) of
    ``refused`` refusals."""

    kind: Literal["fixed", "sliding", "bucket"]
    limit: int
    misses: int
    refused: int
    phase: float = 0.0
    burst: int = 0

    @property
    def sure(self) -> bool:
        """Whether it explains the answers well enough to pace by: at most a tenth of the
        refusals left unexplained."""
        return self.misses <= self.refused // 10


def fit_window(answers: Sequence[Answer], *, partial: bool = False) -> WindowModel | None:
    """The window that explains ``answers`` best, or None with too few refusals to tell.
    ``partial``: answers before the first were not kept (not the run's first call), so
    what its first window held already is unknown: refusals in it (a fixed second), in
    its first second (a sliding one), or a bucket's level until its first refusal,
    contradict nothing."""
    refused = [sent for sent, _, admitted in answers if not admitted]
    if len(refused) < LEAST_REFUSED or not _repeated(sorted(answers)):
        return None
    least = min(latency for _, latency, _ in answers)
    found: list[tuple[int, int, int, WindowModel]] = []
    for share in WAY_IN:
        calls = sorted((sent + share * (latency - least), ok) for sent, latency, ok in answers)
        for rank, model in enumerate(_fits(calls, len(refused), partial)):
            found.append((model.misses, rank, -model.limit, model))
    return min(found, key=lambda entry: entry[:3])[3]


def _repeated(answers: Sequence[Answer]) -> bool:
    """Whether the refusals of ``answers`` (sorted) are a limit's to fit: in three seconds,
    or two, with calls admitted between two of them sent within two seconds (an outage's
    bursts, seconds apart, refuse every call in them)."""
    seconds = {math.floor(sent) for sent, _, admitted in answers if not admitted}
    if len(seconds) >= 3:
        return True
    last, between = -math.inf, False
    for sent, _, admitted in answers:
        if admitted:
            between = True
        elif between and sent - last <= 2.0 and len(seconds) == 2:
            return True
        else:
            last, between = sent, False
    return False


def _fits(calls: list[tuple[float, bool]], refused: int, partial: bool) -> Iterable[WindowModel]:
    """The best of each kind over ``calls`` (arrival, admitted), sorted by arrival; in the
    order of preference among equals."""
    fixed = min(
        (_fixed(calls, index / PHASES, refused, partial) for index in range(PHASES)),
        key=lambda model: (model.misses, -model.limit),
    )
    sliding = _sliding(calls, refused, partial)
    yield fixed
    yield sliding
    yield _bucket(calls, refused, max(fixed.limit, sliding.limit), partial)


def _best_limit(over: Sequence[int], under: Sequence[int], *, excess: bool) -> tuple[int, int]:
    """The misses and the limit (the larger of equals) that fewest counts contradict: each
    of ``over`` is at most the limit, each of ``under`` at least it. ``excess``: a count
    over it misses by its excess (a second's calls), else by one (a call's)."""
    best = (len(under) + sum(over), 0)
    for limit in sorted(set(over) | set(under)):
        if limit > 0:
            misses = sum((count - limit if excess else 1) for count in over if count > limit)
            misses += sum(1 for count in under if count < limit)
            best = min(best, (misses, -limit))
    return best[0], -best[1]


def _fixed(
    calls: list[tuple[float, bool]], phase: float, refused: int, partial: bool
) -> WindowModel:
    """Fixed seconds starting at ``phase``: each one's admitted calls, and those admitted
    before each refused call in its second."""
    admitted: dict[int, int] = {}
    before: list[int] = []
    first = math.floor(calls[0][0] - phase) if partial else None
    for at, ok in calls:
        second = math.floor(at - phase)
        if ok:
            admitted[second] = admitted.get(second, 0) + 1
        elif second != first:
            before.append(admitted.get(second, 0))
    misses, limit = _best_limit(list(admitted.values()), before, excess=True)
    return WindowModel("fixed", limit, misses, refused, phase=phase)


def _sliding(calls: list[tuple[float, bool]], refused: int, partial: bool) -> WindowModel:
    """A sliding second: the admitted calls in the second up to each call."""
    times = [at for at, ok in calls if ok]
    seen = calls[0][0] + 1.0 if partial else -math.inf  # a whole second is seen from here
    over: list[int] = []
    under: list[int] = []
    for at, ok in calls:
        start = bisect.bisect_right(times, at - 1.0)
        if ok:
            over.append(bisect.bisect_right(times, at) - start)
        elif at >= seen:
            under.append(bisect.bisect_left(times, at) - start)
    misses, limit = _best_limit(over, under, excess=False)
    return WindowModel("sliding", limit, misses, refused)


def _bucket(calls: list[tuple[float, bool]], refused: int, most: int, partial: bool) -> WindowModel:
    """A token bucket: rates about ``most`` (a tenth apart, then one apart about the best)
    with each burst of :data:`BURSTS`."""

    def best_of(rates: Iterable[int]) -> tuple[int, int, int]:
        return min(
            (_bucket_misses(calls, rate, burst, partial), -rate, burst)
            for rate in rates
            for burst in sorted({max(1, round(share * rate)) for share in BURSTS})
        )

    # A bucket's misses grow with time at a rate a little off (its tokens drift), so rates
    # are tried about what went through a second, and a tenth apart, then one apart.
    span = calls[-1][0] - calls[0][0]
    through = round(sum(ok for _, ok in calls) / span) if span >= 1.0 else most
    step = max(1, most // 10)
    rates = {
        *range(max(1, most // 3), 2 * most + 1, step),
        *range(max(1, through - 2), through + 3),
    }
    _, coarse, _ = best_of(sorted(rates))
    misses, rate, burst = best_of(range(max(1, -coarse - step), -coarse + step + 1))
    return WindowModel("bucket", -rate, misses, refused, burst=burst)


def _bucket_misses(calls: list[tuple[float, bool]], rate: int, burst: int, partial: bool) -> int:
    """The calls a bucket of ``rate`` and ``burst`` contradicts: full at the first call
    (``partial``: at most full, and at its first refusal, under a token)."""
    tokens, last, misses, level_known = float(burst), calls[0][0], 0, not partial
    for at, ok in calls:
        tokens, last = min(float(burst), tokens + (at - last) * rate), at
        if ok:
            misses += tokens < 1.0 - 1e-9
            tokens = max(0.0, tokens - 1.0)
        elif level_known:
            misses += tokens >= 1.0
        else:
            tokens, level_known = min(tokens, 0.5), True
    return misses
