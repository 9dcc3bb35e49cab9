"""Described APIs as a plugin: a run of one keeps its description in its spec, so that a
worker or an export rebuilds its client from the store alone, and the emulator serves the
description it was given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bulkfetch.plugins import ApiPlugin, on_call

if TYPE_CHECKING:
    from bulkfetch.describe.client import DescribedApi

__all__ = ["NAME", "plugin"]

from bulkfetch.describe import NAME


def _rebuild(spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> DescribedApi:
    from bulkfetch.describe.client import DescribedApi  # only a described run's rebuild
    from bulkfetch.describe.schema import parse

    description = parse(spec["description"], file=str(spec.get("file") or "the run's description"))
    return DescribedApi(description, environ=environ, **DescribedApi.options_of(spec))


# Its command, ``bulkfetch fetch --api FILE``, is the command line's own.
plugin = ApiPlugin(
    name=NAME, rebuild=_rebuild, mount=on_call("bulkfetch.describe.emulated:mount"), fallback=True
)
