"""A provider's limits as people write them: ``10/second``, ``600/minute``, ``2500/day``,
``100000/month``. A second's limit is the pace (calls a second); a longer window's is an
allowance that, once spent, holds calls until the next window opens. Windows are the UTC
calendar's: a minute, an hour and a day start on the minute, the hour and midnight, a
month on its first day."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["UNITS", "Limit", "limits_of", "pace", "parse_limit"]

# Each unit's length in seconds (a month's is its longest, for plans), by its names.
UNITS: dict[str, float] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 2678400}
_NAMES = {
    **{unit: unit for unit in UNITS},
    **{f"{unit}s": unit for unit in UNITS},
    "s": "second",
    "sec": "second",
    "min": "minute",
    "h": "hour",
    "d": "day",
}
_LIMIT = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` calls a ``unit`` (second, minute, hour, day, month)."""

    count: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"a limit's unit is one of {', '.join(UNITS)}; got {self.unit!r}")
        if self.count < 1:
            raise ValueError(f"a limit allows at least 1 call; got {self.count}")

    @property
    def per_second(self) -> bool:
        return self.unit == "second"

    @property
    def seconds(self) -> float:
        """The window's length (a month: 31 days)."""
        return UNITS[self.unit]

    def window(self, now: float) -> tuple[float, float]:
        """The UTC window that holds ``now`` (seconds since the epoch): its start and end."""
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        if self.unit == "month":
            start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            days = calendar.monthrange(start.year, start.month)[1]
            return start.timestamp(), start.timestamp() + days * 86400
        length = UNITS[self.unit]
        begin = now - now % length
        return begin, begin + length

    def __str__(self) -> str:
        return f"{self.count}/{self.unit}"


def parse_limit(text: str) -> Limit:
    """``10/second``, ``2500/day``, ``600/min``...; a ``ValueError`` saying what is wrong."""
    found = _LIMIT.fullmatch(text)
    unit = _NAMES.get(found.group(2).lower()) if found else None
    if found is None or unit is None:
        raise ValueError(
            f"not a limit: {text!r} (a number of calls and a window: 10/second, 600/minute,"
            " 5000/hour, 2500/day, 100000/month)"
        )
    return Limit(int(found.group(1)), unit)


def limits_of(adapter: object, given: Iterable[Limit] = ()) -> tuple[Limit, ...]:
    """A run's limits: the adapter's own (its ``limits``, if it has any) and ``given``, which
    win over the adapter's for the same unit; shortest window first."""
    by_unit = {limit.unit: limit for limit in getattr(adapter, "limits", ())}
    by_unit.update((limit.unit, limit) for limit in given)
    return tuple(sorted(by_unit.values(), key=lambda limit: limit.seconds))


def pace(rate: float | None, limits: Iterable[Limit]) -> float | None:
    """The rate calls are spaced at (calls a second): ``rate`` if given, else a per-second
    limit's count, if there is one."""
    if rate is not None:
        return rate
    return next((float(limit.count) for limit in limits if limit.per_second), None)
