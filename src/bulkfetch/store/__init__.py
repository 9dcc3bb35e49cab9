"""The job store: the only package that speaks SQL.

SQLAlchemy Core, on a SQLite file (WAL, synced at every commit, readable by its owner
alone, marked with bulkfetch's ``application_id``) by default or on PostgreSQL.
:class:`Store` is a thin facade over one repository a concern, all on one connection:

- ``store.runs``: runs made or found by their key, readied, stopped, counted;
- ``store.queue``: rows and their jobs enqueued, jobs claimed under leases, outcomes stored;
- ``store.results``: a run's rows in input order with their answers, for output;
- ``store.budgets``: the keys' rate budgets that workers share (PostgreSQL);
- ``store.windows``: what the keys spent of their allowances over longer windows (a day);
- ``store.reference``: an API's reference data, kept per origin;
- ``store.sizes``: what a plan asks first (lookups held, a run's rows, answers' sizes).

``schema`` holds the tables and ``migrations`` their versions; ``connector`` how a
connection runs the store's work. On SQLite one process works on a store at a time (an OS
lock beside the file), so every job still marked in flight when a store opens was claimed by
a process that died: it is reclaimed, and counted as possibly billed twice.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Self

import anyio
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bulkfetch.errors import StoreError
from bulkfetch.store.access import Access, reason
from bulkfetch.store.budgets import Budgets
from bulkfetch.store.connector import open_database
from bulkfetch.store.migrations import create_schema
from bulkfetch.store.queue import Queue
from bulkfetch.store.records import (
    Allowance,
    BudgetState,
    Claim,
    OutputRow,
    RowEntry,
    RunCounts,
    RunDetail,
    RunInfo,
    RunSpec,
    SlotDecision,
    SlotGrant,
)
from bulkfetch.store.reference import Reference
from bulkfetch.store.results import Results
from bulkfetch.store.runs import Runs
from bulkfetch.store.sizes import AnswerSizes, Sizes
from bulkfetch.store.tallies import Second, Tallies
from bulkfetch.store.windows import Windows

__all__ = [
    "Allowance",
    "AnswerSizes",
    "BudgetState",
    "Claim",
    "OutputRow",
    "RowEntry",
    "RunCounts",
    "RunDetail",
    "RunInfo",
    "RunSpec",
    "Second",
    "SlotDecision",
    "SlotGrant",
    "Store",
    "shown_store",
]


class Store:
    """The job store. Open it with ``async with await Store.open(path):``."""

    def __init__(self, access: Access) -> None:
        self._access = access
        self.runs = Runs(access)
        self.queue = Queue(access)
        self.results = Results(access)
        self.budgets = Budgets(access)
        self.windows = Windows(access)
        self.reference = Reference(access)
        self.sizes = Sizes(access)
        self.tallies = Tallies(access)

    @classmethod
    async def open(cls, target: str | os.PathLike[str], *, exclusive: bool = True) -> Store:
        """Open (creating if needed) the store at a path or SQLAlchemy URL.

        ``exclusive``: hold the store's lock, as a run must; ``bulkfetch status`` reads
        without it, beside a run in progress. A path that is a folder or in a folder that
        does not exist, or an existing file that is not a store (another program's
        database, say), is a :class:`~bulkfetch.errors.UsageError`, and the file is left
        as it was.
        """
        try:
            database = await open_database(os.fspath(target), exclusive=exclusive)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open the store {shown_store(target)}: {reason(exc)}") from exc
        try:
            await database.run(create_schema)
        except BaseException as exc:
            await database.close()
            if isinstance(exc, SQLAlchemyError):
                where = shown_store(target)
                raise StoreError(f"cannot open the store {where}: {reason(exc)}") from exc
            raise
        return cls(Access(database))

    @property
    def shared(self) -> bool:
        """Whether other processes may work on the store at once (PostgreSQL)."""
        return self._access.shared

    async def close(self) -> None:
        await self._access.database.close()

    async def close_unused(self) -> None:
        """Close the store; if opening it created it and no call's outcome was stored since,
        remove it: a run that ended in a usage error leaves nothing behind."""
        await self._access.database.close()
        if not self._access.answered:
            self._access.database.discard()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.close()


def shown_store(target: str | os.PathLike[str]) -> str:
    """The store's name fit for a message: a URL without its password, nor the value of a
    query parameter that may hold one (``?password=``, ``sslpassword=``, a token, a key)."""
    text = os.fspath(target)
    if "://" not in text:
        return text
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        return "(an unreadable URL)"
    secret = ("pass", "secret", "token", "key")
    query = {k: "***" if any(s in k.lower() for s in secret) else v for k, v in url.query.items()}
    shown = url.set(query=query).render_as_string(hide_password=True)
    return str(shown).replace("%2A%2A%2A", "***")  # the mask as the password's reads
