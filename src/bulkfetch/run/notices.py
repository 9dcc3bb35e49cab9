"""What a run tells its user in words: a stop at once, answers lost, a limit learnt."""

from __future__ import annotations

import math

__all__ = ["LOST_ANSWERS", "abandoned", "rate_notice"]


def abandoned(calls: int) -> str:
    """What stopping at once did, in words: a run's stop reason, and what the user hears."""
    return (
        f"stopped at once with {calls} calls in flight, abandoned: the API may have billed"
        " them, and the next run sends them again (counted as possibly billed twice)"
    )


LOST_ANSWERS = (
    "answers are being lost after their calls were sent (timed out, or cut off): the API may"
    " have billed those calls, and bills their retries again (counted as possibly billed"
    " twice). A longer --timeout, or a lower --concurrency, spares them"
)


def rate_notice(rate: float | None, learned: float | None) -> list[str]:
    """Tell the user the limit the pacer learned, when the rate they gave was above it."""
    if learned is None or (rate is not None and rate <= learned):
        return []
    per_second = max(1, math.floor(learned))
    return [
        f"the API answered 429 beyond about {per_second} calls a second; a rate of "
        f"{per_second} (--rate {per_second}) spares those 429s and the pauses after them"
    ]
