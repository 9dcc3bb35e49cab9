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

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulkfetch.describe.client import DescribedApi, DescribedOperation
from bulkfetch.describe.schema import Description, parse
from bulkfetch.describe.text import DescriptionError, read_toml

__all__ = [
    "DescribedApi",
    "DescribedOperation",
    "Description",
    "DescriptionError",
    "load_api",
    "load_description",
]


def load_description(path: str | Path) -> Description:
    """The description in the TOML file at ``path``, checked; a :class:`DescriptionError`
    naming the file, line and key of a mistake."""
    path = Path(path)
    try:
        data, places = read_toml(path)
    except DescriptionError as exc:
        # tomllib says "(at line 3, column 5)": said as every other mistake is.
        found = re.search(r"^(.*): not TOML: (.*) \(at line (\d+), column \d+\)$", str(exc))
        if found is None:
            raise
        raise DescriptionError(f"{found[1]}, line {found[3]}: not TOML: {found[2]}") from None
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
    return DescribedApi(
        load_description(path),
        environ=os.environ if environ is None else environ,
        base_url=base_url,
        **options,
    )
