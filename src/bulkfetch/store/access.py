"""How the repositories reach the database: each piece of work one transaction, and what a
failure to run it means (a :class:`~bulkfetch.errors.StoreError` that says what to check)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bulkfetch.errors import StoreError
from bulkfetch.store.connector import Database

__all__ = ["Access", "reason"]

T = TypeVar("T")


class Access:
    """One database connection, shared by the store's repositories."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Fingerprints whose job ids are known (jobs are never deleted): repeated lookups
        # cost the enqueue no statement.
        self.known_jobs: OrderedDict[str, int] = OrderedDict()
        # Whether this process leased jobs for calls or stored a call's outcome: a store it
        # made is then kept, whatever ends the run.
        self.answered = False

    @property
    def shared(self) -> bool:
        """Whether other processes may work on the store at once (PostgreSQL)."""
        return self.database.shared

    async def write(self, statements: Callable[..., T]) -> T:
        """Run ``statements(conn)`` in one transaction, serialised with every other write."""
        try:
            return await self.database.run(statements)
        except SQLAlchemyError as exc:
            self.known_jobs.clear()  # it may name jobs the rollback took back
            what = (
                "the database refused it."
                if self.shared
                else "is the disk full, or the file or its folder read-only?"
            )
            raise StoreError(
                f"cannot write the store: {reason(exc)} ({what} Fix it, then run the same "
                "command again: nothing stored is lost)"
            ) from exc

    async def read(self, statements: Callable[..., T]) -> T:
        try:
            return await self.database.run(statements)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the store: {reason(exc)}") from exc


def reason(exc: BaseException) -> str:
    """What went wrong, in the driver's words where it has some."""
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig)
    return exc.__class__.__name__
