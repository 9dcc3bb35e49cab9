"""What an operation's lookups over an input come to, counted as a plan reads it: invalid,
distinct, held and answered in the store, and the disk the run will take."""

from __future__ import annotations

from bulkfetch.adapter import Operation
from bulkfetch.errors import InvalidInputError
from bulkfetch.jobs import Lookup
from bulkfetch.run.disk import EMPTY_STORE, Disk, rows_share
from bulkfetch.store import Store

__all__ = ["Tally"]


class Tally:
    """What one operation's lookups over an input come to, as its rows are read (for a
    plan): the invalid ones, the distinct ones, and what the store holds of them."""

    def __init__(self, operation: Operation[object]) -> None:
        self.operation = operation
        self.invalid = self.answered = self.present = self.job_chars = 0
        self.seen: set[int] = set()  # 64 bits of each fingerprint: a million in ~70 MB
        self.new: list[str] = []
        self.kind: Lookup | None = None  # its first lookup: what the others are like

    def add(self, value: str) -> int:
        """Count a row's value; how many new lookups wait to be asked of the store."""
        try:
            lookup = self.operation.lookup(value)
        except InvalidInputError:
            self.invalid += 1
            return len(self.new)
        fingerprint = lookup.fingerprint
        short = int(fingerprint[:16], 16)
        if short not in self.seen:
            self.seen.add(short)
            self.new.append(fingerprint)
            self.kind = self.kind or lookup
            self.job_chars += len(fingerprint) + _text_chars(lookup)
        return len(self.new)

    async def ask(self, store: Store | None, since: float | None) -> None:
        if store is not None and self.new:
            present, answered = await store.sizes.held(self.new, since)
            self.present += present
            self.answered += answered
        self.new = []

    async def disk(self, store: Store | None, rows: int, held: int, field_chars: int) -> Disk:
        lookups = len(self.seen)
        new_jobs = lookups - self.present
        new_rows = max(0, rows - held)
        chars, said = await self._answer_chars(store)
        return Disk(
            fields=field_chars,
            rows=rows_share(
                new_rows=new_rows,
                new_jobs=new_jobs,
                job_chars=round(self.job_chars * new_jobs / lookups) if lookups else 0,
                links=round(lookups * new_rows / rows) if rows else 0,
            ),
            fetched=lookups - self.answered,
            answer_chars=chars,
            answers_from=said,
            base=EMPTY_STORE if store is None else 0,
        )

    async def _answer_chars(self, store: Store | None) -> tuple[float | None, str]:
        """What an answer of its kind keeps: as the store's last of the kind do, else as the
        operation (or its client) says its API's typically do, else unknown."""
        kind = self.kind
        if store is not None and kind is not None:
            sizes = await store.sizes.answers(kind.api, kind.origin, kind.endpoint)
            if sizes is not None:
                return sizes.per_lookup, "the store's answers of the kind"
        typical = getattr(self.operation, "answer_bytes", None)
        typical = typical or getattr(self.operation.client, "answer_bytes", None)
        if typical is not None:
            return float(typical), "the API's typical answer"
        return None, "unknown"


def _text_chars(lookup: Lookup) -> int:
    """A job's text besides its fingerprint: its API, origin, endpoint and parameters."""
    return len(lookup.api) + len(lookup.origin) + len(lookup.endpoint) + len(lookup.params_json())
