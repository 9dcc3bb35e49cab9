"""What names a run, so that the same command finds the same run: the API, the kind of
lookup (its template), and the input, by its place and content or by a name given to it."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping

from bulkfetch.adapter import Adapter
from bulkfetch.io.sources import Source
from bulkfetch.store import RunSpec

__all__ = ["run_spec"]


def run_spec(
    adapter: Adapter,
    template: Mapping[str, str],
    source: Source,
    *,
    column: str,
    content: str | None,
    name: str | None,
) -> RunSpec:
    """The run of this operation over ``source``.

    An input with a content hash names its run by its place and content: the same file
    finds the same run; a file whose content changed, a new one (whose lineage, the key
    without the content, says which run it follows). One read only once (an iterator) is
    named by ``name``; with none, every call is a run of its own.
    """
    what: dict[str, object] = {"api": adapter.name, "column": column, **template}
    if name is not None:
        key, lineage = _key({**what, "name": name}), None
    elif content is not None:
        place = source.identity()
        key = _key({**what, "input": {**place, "sha256": content}})
        lineage = _key({**what, "input": place})
    else:
        key, lineage = f"anonymous-{secrets.token_hex(16)}", None
    endpoint = template.get("endpoint", "")
    return RunSpec(
        run_key=key,
        api=adapter.name,
        endpoint=endpoint,
        description=f"{adapter.name} {endpoint} of {name or source.name}",
        adapter=json.dumps(adapter.spec(), sort_keys=True),
        input=json.dumps(
            {**source.identity(), "sha256": content, "name": name, "column": column},
            sort_keys=True,
        ),
        lineage=lineage,
        header=json.dumps(source.header(), ensure_ascii=False),
        options=json.dumps(dict(template), sort_keys=True),
    )


def _key(signature: Mapping[str, object]) -> str:
    canonical = json.dumps(signature, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
