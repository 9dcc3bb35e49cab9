"""A command's API key: given, or, for ``--plan`` (which makes no call), none needed."""

from __future__ import annotations

from bulkfetch.errors import UsageError

__all__ = ["NO_KEY", "key_or_plan"]

# What a client is made with for a plan when no key is given: never sent, as a plan makes
# no call; what it has spent of its allowances is not known without the key.
NO_KEY = "no-key-for-a-plan"


def key_or_plan(key: str | None, *, plan: bool, missing: str) -> str:
    """``key``; without one, :data:`NO_KEY` for a plan, else :class:`UsageError` saying
    ``missing`` (how to give one)."""
    if key:
        return key
    if plan:
        return NO_KEY
    raise UsageError(f"{missing} (--plan needs none: it makes no call)")
