"""What a run will cost, before it pays: the input read and normalised, the store asked what
it holds, and no call made (``--plan``, :func:`plan`)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from bulkfetch.adapter import Operation, operation_of
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import InvalidInputError
from bulkfetch.io.iterable import COLUMN, IterableSource
from bulkfetch.io.sources import Picker, Source, each_row, picker
from bulkfetch.pacing.limits import Limit, limits_of, pace
from bulkfetch.pacing.windows import spent_now
from bulkfetch.run.disk import Disk, sum_disks
from bulkfetch.run.identity import run_spec
from bulkfetch.run.tally import Tally
from bulkfetch.store import Store

__all__ = ["Plan", "plan", "plan_in", "plan_pass", "plan_source", "plan_sources", "sum_plans"]

_CHUNK = 2000  # new lookups asked of the store at once


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run would fetch, and what it would cost, as things stand."""

    rows: int  # input rows
    invalid: int  # rows that cannot be a valid lookup: no call
    lookups: int  # distinct lookups among the others
    answered: int  # of those, answered in the store (and fresh enough): no call
    units: int  # billable units still to fetch, a lookup each (a call, a code)
    requests: int  # the requests those take (an API may carry several lookups in one)
    rate: float | None  # calls a second, if given
    limits: tuple[Limit, ...] = ()  # the key's allowances over a minute or longer
    # What the store counted in each one's window now, of the key's calls (a fresh store:
    # none, whatever an earlier one spent).
    spent: Mapping[Limit, int] = field(default_factory=dict)
    disk: Disk | None = None  # what the run will add to the store

    @property
    def seconds(self) -> float | None:
        """How long the requests take at ``rate`` (None without one)."""
        return None if self.rate is None else self.requests / self.rate

    @property
    def windows(self) -> dict[Limit, int]:
        """How many of each limit's windows the requests are sent in, this one included."""
        return {
            limit: _windows(self.requests, limit.count, self.spent.get(limit, 0))
            for limit in self.limits
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "invalid": self.invalid,
            "lookups": self.lookups,
            "answered": self.answered,
            "units": self.units,
            "requests": self.requests,
            "rate": self.rate,
            "seconds": self.seconds,
            "windows": {str(limit): count for limit, count in self.windows.items()},
            "disk": None if self.disk is None else self.disk.as_json(),
        }

    def describe(self) -> list[str]:
        """The plan in words, a line each."""
        seconds = self.seconds
        lines = [
            f"rows: {self.rows} ({self.invalid} invalid: no call)",
            f"distinct lookups: {self.lookups} ({self.answered} answered in the store: no call)",
            f"to fetch: {_count(self.units, 'billable lookup')} in"
            f" {_count(self.requests, 'request')}",
        ]
        if self.disk is not None:
            lines.append(self.disk.describe())
        if seconds is not None:
            lines.append(f"at {self.rate:g} calls a second: about {_duration(seconds)}")
        else:
            lines.append("give --rate to see how long that takes")
        for limit, windows in self.windows.items():
            if windows:
                lines.append(_windows_line(limit, self.requests, windows, self.spent.get(limit, 0)))
        return lines


def sum_plans(plans: Sequence[Plan]) -> Plan:
    """Several runs' plans over one input: its rows once, their lookups and costs added,
    and their disk (the rows' fields once)."""
    disks = [p.disk for p in plans if p.disk is not None]
    return Plan(
        rows=plans[0].rows,
        invalid=plans[0].invalid,
        lookups=sum(p.lookups for p in plans),
        answered=sum(p.answered for p in plans),
        units=sum(p.units for p in plans),
        requests=sum(p.requests for p in plans),
        rate=plans[0].rate,
        limits=plans[0].limits,
        spent=plans[0].spent,
        disk=sum_disks(disks) if len(disks) == len(plans) else None,
    )


async def plan_source(
    operation: Operation[object],
    source: Source,
    *,
    column: str | Picker,
    store: Store | None,
    fresh_since: float | None = None,
    rate: float | None = None,
    limits: Sequence[Limit] = (),
    spent: Mapping[Limit, int] | None = None,
) -> Plan:
    """The plan of ``operation`` over ``source``: each row's lookup made as a run would make
    it, and each distinct one looked for in ``store`` (None: a store not made yet), where it
    counts as answered if it was answered at or after ``fresh_since`` (None: ever).
    ``limits``: allowances over a minute or longer, of which ``spent`` calls are spent."""
    (found,) = await plan_sources(
        [operation],
        source,
        column=column,
        store=store,
        fresh_since=fresh_since,
        rate=rate,
        limits=limits,
        spent=spent,
    )
    return found


async def plan_sources(
    operations: Sequence[Operation[object]],
    source: Source,
    *,
    column: str | Picker,
    store: Store | None,
    fresh_since: float | None = None,
    rate: float | None = None,
    limits: Sequence[Limit] = (),
    spent: Mapping[Limit, int] | None = None,
    held: Sequence[int] = (),
) -> list[Plan]:
    """:func:`plan_source` for each of several operations over one input (a pass), which
    is read once; ``held``: the rows each one's run holds already (none: no run yet)."""
    value_of = picker(column).bind(source.header())
    held = list(held) or [0] * len(operations)
    tallies = [Tally(operation) for operation in operations]
    rows = field_chars = 0
    fields_from = max(held)  # the rows whose fields no run of the pass holds yet
    async for row_no, fields in each_row(source.rows()):
        rows += 1
        if row_no >= fields_from:  # as JSON: each quoted, between commas and brackets
            field_chars += sum(map(len, fields)) + 3 * len(fields) + 1
        try:
            value = value_of(fields)
        except InvalidInputError:
            for tally in tallies:
                tally.invalid += 1
            continue
        for tally in tallies:
            if tally.add(value) >= _CHUNK:
                await tally.ask(store, fresh_since)
    plans = []
    for tally, rows_held in zip(tallies, held, strict=True):
        await tally.ask(store, fresh_since)
        disk = await tally.disk(store, rows, rows_held, field_chars)
        plans.append(_plan_of(tally, rows, rate, limits, spent, disk))
    return plans


def _plan_of(
    tally: Tally,
    rows: int,
    rate: float | None,
    limits: Sequence[Limit],
    spent: Mapping[Limit, int] | None,
    disk: Disk,
) -> Plan:
    lookups = len(tally.seen) - tally.answered
    client = tally.operation.client
    requests = math.ceil(lookups / client.batch_size)
    # An API that bills a request bills one unit however many lookups it carries.
    units = requests if getattr(client, "bills_requests", False) else lookups
    return Plan(
        rows=rows,
        invalid=tally.invalid,
        lookups=len(tally.seen),
        answered=tally.answered,
        units=units,
        requests=requests,
        rate=rate,
        limits=tuple(limits),
        spent=dict(spent or {}),
        disk=disk,
    )


async def plan(
    call: Callable[..., Awaitable[Any]],
    inputs: Iterable[Any] | AsyncIterable[Any],
    /,
    *,
    db: str | Path = "bulkfetch.db",
    rate: float | None = None,
    limits: Sequence[Limit] = (),
    max_age: float | None = None,
    refresh: bool = False,
    clock: Clock | None = None,
    **query: Any,
) -> Plan:
    """What ``fetch_many`` with the same arguments would fetch and bill, with no call made:
    rows, invalid ones, distinct lookups, those the store has answered (within ``max_age``
    seconds, unless ``refresh``), the billable units and requests left, at ``rate`` how
    long they take, and how many windows of each of ``limits`` (with the client's own)
    they are sent in. A store that does not exist yet is not made."""
    return await plan_in(
        db,
        operation_of(call, query),
        IterableSource(inputs),
        column=COLUMN,
        rate=rate,
        limits=limits,
        max_age=max_age,
        refresh=refresh,
        now=(clock or SystemClock()).time(),
    )


async def plan_in(
    db: str | Path,
    operation: Operation[object],
    source: Source,
    *,
    column: str | Picker,
    rate: float | None,
    max_age: float | None,
    refresh: bool,
    now: float,
    limits: Sequence[Limit] = (),
) -> Plan:
    """:func:`plan_source` against the store at ``db``, opened to read only if it exists,
    with the run's limits (``limits`` over the client's own) as a run takes them."""
    (found,) = await plan_pass(
        db,
        [operation],
        source,
        column=column,
        rate=rate,
        max_age=max_age,
        refresh=refresh,
        now=now,
        limits=limits,
    )
    return found


async def plan_pass(
    db: str | Path,
    operations: Sequence[Operation[object]],
    source: Source,
    *,
    column: str | Picker,
    rate: float | None,
    max_age: float | None,
    refresh: bool,
    now: float,
    limits: Sequence[Limit] = (),
) -> list[Plan]:
    """:func:`plan_in` of several operations of one client over one input (a pass),
    read once: a plan each, for :func:`sum_plans`."""
    client = operations[0].client
    limits = limits_of(client, limits)
    rate = pace(rate, limits)
    windows = [limit for limit in limits if not limit.per_second]
    if "://" not in str(db) and not await anyio.Path(db).exists():
        return await plan_sources(
            operations, source, column=column, store=None, rate=rate, limits=windows
        )
    # An answer from before this time is fetched again: all with refresh, else the aged.
    fresh_since = now if refresh else None if max_age is None else now - max_age
    async with await Store.open(db, exclusive=False) as store:
        spent = await spent_now(store, client.rate_key, windows, now)
        return await plan_sources(
            operations,
            source,
            column=column,
            store=store,
            fresh_since=fresh_since,
            rate=rate,
            limits=windows,
            spent=spent,
            held=[await _held(store, op, source, column) for op in operations],
        )


async def _held(
    store: Store, operation: Operation[object], source: Source, column: str | Picker
) -> int:
    """The rows the run of ``operation`` over ``source`` holds already, if there is one."""
    content = source.content_hash()
    if content is None:  # values a program gives: a run named, or of its own
        return 0
    spec = run_spec(
        operation.client,
        operation.template,
        source,
        column=picker(column).key,
        content=content,
        name=None,
    )
    return await store.sizes.rows_held(spec.run_key)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _duration(seconds: float) -> str:
    seconds = math.ceil(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _windows(requests: int, count: int, spent: int) -> int:
    """The windows ``requests`` calls are sent in, at ``count`` a window, this one (with
    ``spent`` of it gone) included; none for no request."""
    return 0 if requests == 0 else math.ceil((requests + min(spent, count)) / count)


def _windows_line(limit: Limit, requests: int, windows: int, spent: int) -> str:
    """``2500/day: 4,000 requests take 2 days' allowances (this one and 1 more)``."""
    if windows == 1:
        took, which = f"1 {limit.unit}'s allowance", "this one"
    else:
        took, which = f"{windows} {limit.unit}s' allowances", f"this one and {windows - 1} more"
    if spent:
        which += f"; {spent:,} of this one's {limit.count:,} spent already"
    return f"{limit}: {requests:,} requests take {took} ({which})"
