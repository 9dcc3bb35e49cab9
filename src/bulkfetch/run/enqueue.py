"""Rows read from a source into the store: each with its lookup (or why it has none) and
its fields, a chunk a transaction, idempotently, so that an interrupted enqueue carries on
where it stopped. One read serves every run of a pass over the input (several datasets):
each chunk is stored for all of them in its transaction, each row's value picked (and
normalised) once, and its lookup made for each."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bulkfetch.clock import Clock
from bulkfetch.engine import StopRequest
from bulkfetch.errors import InvalidInputError, UsageError
from bulkfetch.io.sources import Source, each_row
from bulkfetch.jobs import Lookup
from bulkfetch.store import RowEntry, Store

__all__ = ["BULK_CHUNK", "CHUNK", "Member", "enqueue"]

# Input rows a transaction (for every run of the pass): while the engine works the rows
# before (a transaction holds up its writes meanwhile), and when nothing waits on the store
# (the rows enqueued before any call), where a bigger one writes each page of the random
# fingerprint index fewer times (half the time of an enqueue of a million rows).
CHUNK = 2000
BULK_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Member:
    """One run of a pass, as the enqueue serves it."""

    run_id: int
    lookup: Callable[[str], Lookup]  # a value's lookup for this run
    start: int  # the rows it holds already
    # False: another run of the pass keeps its rows' fields (it holds every row this one
    # gets, by the same transaction at the latest).
    keeps_fields: bool = True


async def enqueue(
    store: Store,
    members: Sequence[Member],
    source: Source,
    *,
    value_of: Callable[[Sequence[str]], str],
    stop: StopRequest,
    clock: Clock,
    content: str | None,
    complete: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> tuple[int, bool]:
    """Enqueue the source's rows for each member from its ``start``: how many rows were
    read (each member holds that many, or more if it held more), and whether that is all
    of them (not if a stop came first).

    Rows a member holds are read past. For one member with an input with no content hash
    (values given again to a named run, which are read again even when the run holds them
    all: ``complete``), they are compared with what was kept: other values, or more, or
    fewer, are refused. A file whose content is no longer ``content`` by the end of reading
    it is refused, and the runs it began retired: their rows may be a mix of two contents.
    ``on_chunk`` hears how many rows were read after each ``chunk`` of them is stored (the
    engine may be working them already).
    """
    lookups = _lookups_of(members)
    chunks: list[list[RowEntry]] = [[] for _ in members]
    start = min(member.start for member in members)
    kept = (
        _kept_rows(store, members[0].run_id)
        if content is None and start and len(members) == 1
        else None
    )
    total = waiting = 0
    read: list[str] = []
    async for row_no, fields in each_row(source.rows(on_end=read.append)):
        total = row_no + 1
        if row_no < start:
            if kept is not None:
                await _same(kept, row_no, fields)
            continue
        if complete:
            raise _other_inputs(f"there are more than the {start} it holds")
        _add(members, lookups, chunks, row_no, fields, value_of)
        waiting += 1
        if waiting >= chunk:
            await _store(store, members, chunks, clock)
            waiting = 0
            if on_chunk is not None:
                on_chunk(total)
            if stop.requested:
                return total, False
    if kept is not None and total < start:
        raise _other_inputs(f"there are {total}, it holds {start}")
    if complete:
        return start, True
    if content is not None and read != [content]:
        for member in members:
            await store.runs.retire(member.run_id, clock.time())
        raise UsageError(
            f"{source.name} changed while it was being read: no output was written for it, so"
            " that no row can carry another row's answer. Run the same command again when it"
            " is no longer being written (lookups answered already cost no call)"
        )
    await _store(store, members, chunks, clock)
    await store.runs.finish_enqueue(*(member.run_id for member in members))
    return total, True


def _lookups_of(members: Sequence[Member]) -> Callable[[str], tuple[Lookup | str, ...]]:
    """A value's lookup for each member, or why it can have none. Repeated values are
    common in big inputs: each one's lookups (and fingerprints) are made once, for the
    values seen last."""
    makers = [member.lookup for member in members]

    @functools.lru_cache(maxsize=max(1024, _CACHED_LOOKUPS // len(members)))
    def lookups(value: str) -> tuple[Lookup | str, ...]:
        found: list[Lookup | str] = []
        for make in makers:
            try:
                found.append(make(value))
            except InvalidInputError as exc:
                found.append(str(exc))
        return tuple(found)

    return lookups


_CACHED_LOOKUPS = 65536  # lookups remembered, over all the members


def _add(
    members: Sequence[Member],
    lookups: Callable[[str], tuple[Lookup | str, ...]],
    chunks: Sequence[list[RowEntry]],
    row_no: int,
    fields: list[str],
    value_of: Callable[[Sequence[str]], str],
) -> None:
    """A row's entry for each member that does not hold it: its value picked once, its
    lookup for each (or why it has none)."""
    try:
        found = lookups(value_of(fields))
    except InvalidInputError as exc:
        found = (str(exc),) * len(members)
    for member, lookup, chunk in zip(members, found, chunks, strict=True):
        if row_no < member.start:
            continue
        kept = fields if member.keeps_fields else None
        if isinstance(lookup, str):
            chunk.append(RowEntry(row_no, None, lookup, kept))
        else:
            chunk.append(RowEntry(row_no, lookup, None, kept))


async def _store(
    store: Store, members: Sequence[Member], chunks: Sequence[list[RowEntry]], clock: Clock
) -> None:
    """The chunk, for every member, in one transaction."""
    await store.queue.enqueue_pass(
        {member.run_id: chunk for member, chunk in zip(members, chunks, strict=True)},
        clock.time(),
    )
    for chunk in chunks:
        chunk.clear()


def _kept_rows(store: Store, run_id: int) -> AsyncIterator[list[str] | None]:
    async def fields() -> AsyncIterator[list[str] | None]:
        async for row in store.results.rows(run_id):
            yield row.fields

    return fields()


async def _same(kept: AsyncIterator[list[str] | None], row_no: int, fields: list[str]) -> None:
    was = await anext(kept, None)
    if was is not None and was != fields:
        raise _other_inputs(f"input {row_no} is {fields[0]!r}, was {was[0]!r}")


def _other_inputs(why: str) -> UsageError:
    return UsageError(
        f"the run was begun with other inputs ({why}): give another run name to run these"
    )
