"""Rows read from a source into the store: each with its lookup (or why it has none) and
its fields, a chunk a transaction, idempotently, so that an interrupted enqueue carries on
where it stopped."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence

from bulkfetch.clock import Clock
from bulkfetch.engine import StopRequest
from bulkfetch.errors import InvalidInputError, UsageError
from bulkfetch.io.sources import Source, each_row
from bulkfetch.jobs import Lookup
from bulkfetch.store import RowEntry, Store

__all__ = ["enqueue"]

CHUNK = 2000  # rows a transaction


async def enqueue(
    store: Store,
    run_id: int,
    source: Source,
    *,
    value_of: Callable[[Sequence[str]], str],
    lookup: Callable[[str], Lookup],
    start: int,
    stop: StopRequest,
    clock: Clock,
    content: str | None,
    complete: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[int, bool]:
    """Enqueue the source's rows from ``start``: how many rows the run holds, and whether
    that is all of them (not if a stop came first).

    Rows before ``start`` are already in the store: read past, and, for an input with no
    content hash (values given again to a named run, which are read again even when the
    run holds them all: ``complete``), compared with what was kept: other values, or more,
    or fewer, are refused. A file whose content is no longer ``content`` by the end of
    reading it is refused, and the run it began retired: its rows may be a mix of two
    contents. ``on_chunk`` hears how many rows the run holds after each chunk is stored (the
    engine may be working them already).
    """
    chunk: list[RowEntry] = []
    # Repeated values are common in big inputs: build each one's lookup (and fingerprint) once.
    lookup = functools.lru_cache(maxsize=65536)(lookup)
    kept = _kept_rows(store, run_id) if content is None and start else None
    total = 0
    read: list[str] = []
    async for row_no, fields in each_row(source.rows(on_end=read.append)):
        total = row_no + 1
        if row_no < start:
            if kept is not None:
                await _same(kept, row_no, fields)
            continue
        if complete:
            raise _other_inputs(f"there are more than the {start} it holds")
        try:
            chunk.append(RowEntry(row_no, lookup(value_of(fields)), fields=fields))
        except InvalidInputError as exc:
            chunk.append(RowEntry(row_no, None, str(exc), fields=fields))
        if len(chunk) >= CHUNK:
            await store.queue.enqueue(run_id, chunk, clock.time())
            chunk = []
            if on_chunk is not None:
                on_chunk(total)
            if stop.requested:
                return total, False
    if kept is not None and total < start:
        raise _other_inputs(f"there are {total}, it holds {start}")
    if complete:
        return start, True
    if content is not None and read != [content]:
        await store.runs.retire(run_id, clock.time())
        raise UsageError(
            f"{source.name} changed while it was being read: no output was written for it, so"
            " that no row can carry another row's answer. Run the same command again when it"
            " is no longer being written (lookups answered already cost no call)"
        )
    await store.queue.enqueue(run_id, chunk, clock.time())
    await store.runs.finish_enqueue(run_id)
    return max(total, start), True


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
