"""Any paid API by a description: one TOML file says how to call it (its base URL, keys,
request, batches, limits, statuses) and which fields of its answers become columns, and
bulkfetch runs it as it runs its built-in APIs: planned, capped, paced, resumable.

::

    async with bulkfetch.load_api("examples/apis/postcodes-io.toml") as api:
        print(await api.get("W6 0WW"))
        async for item in bulkfetch.fetch_many(api.get, postcodes, run="postcodes"):
            ...

``bulkfetch fetch --api FILE INPUT --column COL --out OUT`` runs a file through it, and
``bulkfetch emulate --api FILE`` serves it, so that a description is tried before a call
is paid for.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkfetch.adapter import Client
from bulkfetch.errors import UsageError
from bulkfetch.plugins import rebuild

if TYPE_CHECKING:
    from bulkfetch.describe.client import DescribedApi, DescribedOperation
    from bulkfetch.describe.schema import Description
    from bulkfetch.describe.text import DescriptionError

NAME = "described"  # the plugin that rebuilds described APIs' clients (describe.plugin)

__all__ = [
    "DescribedApi",
    "DescribedOperation",
    "Description",
    "DescriptionError",
    "load_api",
    "load_description",
    "trusting",
]


# Imported when first used: the plugin that rebuilds described runs is loaded by every
# command, and most never read a description.
_WHERE = {
    "DescribedApi": "bulkfetch.describe.client",
    "DescribedOperation": "bulkfetch.describe.client",
    "Description": "bulkfetch.describe.schema",
    "DescriptionError": "bulkfetch.describe.text",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def load_description(path: str | Path) -> Description:
    """The description in the TOML file at ``path``, checked; a :class:`DescriptionError`
    naming the file, line and key of a mistake."""
    from bulkfetch.describe.schema import parse
    from bulkfetch.describe.text import read_toml

    data, places = read_toml(Path(path))
    return parse(data, file=str(path), places=places)


def load_api(
    path: str | Path,
    *,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> DescribedApi:
    """A client of the API described in ``path``: its secrets from ``environ`` (default: the
    environment), at ``base_url`` (default: the description's). ``options``: the client's
    (``timeout``, ``rate``, ``max_attempts``, ``max_answer_bytes``, ``session``)."""
    from bulkfetch.describe.client import DescribedApi

    return DescribedApi(
        load_description(path),
        environ=os.environ if environ is None else environ,
        base_url=base_url,
        **options,
    )


Rebuild = Callable[[str, Mapping[str, Any], Mapping[str, str] | None], Client]


def trusting(descriptions: Sequence[Description]) -> Rebuild:
    """How a worker rebuilds the adapters of a store's runs when it trusts only these
    descriptions: a run of another described API is refused before any key is read, since
    a run's description names the variables whose secrets it sends (a store must not choose
    them). Other APIs' runs, and a rebuild to export (no keys), as ever."""
    given = {_signature(description.source) for description in descriptions}

    def checked(api: str, spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> Client:
        kept = _signature(spec.get("description") or {})
        if spec.get("plugin") == NAME and environ is not None and kept not in given:
            raise UsageError(
                f"a run of {api!r} is of an API described in a file this worker was not"
                " given: start it with --api FILE (that description) to work it; a worker"
                " sends keys only as the descriptions it was given say"
            )
        return rebuild(api, spec, environ)

    return checked


def _signature(source: Mapping[str, Any]) -> str:
    """A description as written, but for its base URL (a run's may be another, given on
    the command line): what a worker compares."""
    return json.dumps({k: v for k, v in source.items() if k != "base_url"}, sort_keys=True)
