"""A pass: several runs over one input (CrystalRoof's datasets side by side), begun together
and enqueued by one read of it. Each chunk of rows is stored for every run in one
transaction (so a resume finds them together), each row's value picked once, and its fields
kept once, by one run of the pass (the others name it: ``runs.fields_run``). One run alone
is a pass of one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bulkfetch.adapter import Operation
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import StopRequest
from bulkfetch.io.sources import Picker, Source, picker, streamable
from bulkfetch.run.enqueue import Member, enqueue
from bulkfetch.run.identity import run_spec
from bulkfetch.run.report import Progress
from bulkfetch.run.run import Run
from bulkfetch.store import Store

__all__ = ["begin_pass"]


async def begin_pass(
    store: Store,
    operations: Mapping[str, Operation[object]],
    source: Source,
    *,
    column: str | Picker,
    name: str | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
    stop: StopRequest | None = None,
    stream: bool = False,
) -> dict[str, Run]:
    """Find or make the run of each operation over ``source`` (by the same key) and enqueue
    what they have not, in one read (see :meth:`Run.begin`). ``stream``: leave the enqueue
    to the first of them to be worked (:meth:`Run.work`), which calls its first rows as the
    rest are read for all."""
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    pick = picker(column)
    value_of = pick.bind(source.header())
    content = source.content_hash()
    runs: dict[str, Run] = {}
    starts: dict[str, int] = {}
    for key, operation in operations.items():
        run = Run(store, 0, operation.client, clock=clock, progress=progress, stop=stop)
        spec = run_spec(
            operation.client,
            operation.template,
            source,
            column=pick.key,
            content=content,
            name=name,
        )
        info = await store.runs.begin(spec, clock.time())
        run.id, run.source, run.content = info.id, source, content
        if info.follows is not None:
            run.tell(
                f"{source.name} changed since run {info.follows} was enqueued from it: this is"
                f" a new run, {info.id}, over its content now (lookups answered before cost"
                " no call)"
            )
        run.rows, run.enqueue_complete = info.rows_enqueued, info.enqueue_complete
        runs[key], starts[key] = run, info.rows_enqueued
    # Values a program gives again are read again: they must be the ones the run holds.
    todo = [key for key, run in runs.items() if not run.enqueue_complete or content is None]
    if not todo:
        return runs
    ids = [run.id for run in runs.values()]
    holders = await store.runs.hold_fields(ids) if len(ids) > 1 else {}
    members = [
        Member(
            runs[key].id,
            operations[key].lookup,
            starts[key],
            keeps_fields=holders.get(runs[key].id) not in ids,
        )
        for key in todo
    ]
    shared = _Enqueue([runs[key] for key in todo], members, source, value_of, content)
    for key in todo:
        runs[key].pending_enqueue = shared
    if not (stream and streamable(source)):
        await runs[todo[0]].enqueued()
    return runs


class _Enqueue:
    """What a pass has left to enqueue, for all its runs: done once, by whichever of them
    asks first (:meth:`Run.enqueued`), each run's rows counted as it goes."""

    def __init__(
        self,
        runs: Sequence[Run],
        members: Sequence[Member],
        source: Source,
        value_of: Callable[[Sequence[str]], str],
        content: str | None,
    ) -> None:
        self.runs = runs
        self.members = members
        self.source = source
        self.value_of = value_of
        self.content = content

    async def __call__(
        self, run: Run, on_chunk: Callable[[int], None], chunk: int
    ) -> tuple[int, bool]:
        """Enqueue it (once), ``chunk`` rows a transaction: how many rows ``run`` holds, and
        whether that is all."""
        for each in self.runs:
            each.pending_enqueue = None

        def stored(total: int) -> None:
            for each, member in zip(self.runs, self.members, strict=True):
                each.rows = max(total, member.start)
            on_chunk(run.rows)

        first = self.runs[0]
        total, complete = await enqueue(
            first.store,
            self.members,
            self.source,
            value_of=self.value_of,
            stop=first.stop,
            clock=first.clock,
            content=self.content,
            complete=all(each.enqueue_complete for each in self.runs),
            on_chunk=stored,
            chunk=chunk,
        )
        for each, member in zip(self.runs, self.members, strict=True):
            each.rows, each.enqueue_complete = max(total, member.start), complete
        return run.rows, run.enqueue_complete
