"""CrystalRoof as a bulkfetch plugin: its command, its emulator routes, and its adapter
rebuilt from a run's spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkfetch.apis.crystalroof import command
from bulkfetch.apis.crystalroof.client import NAME, CrystalRoof
from bulkfetch.http import MAX_ANSWER_BYTES
from bulkfetch.plugins import ApiPlugin, key_from, on_call

__all__ = ["plugin"]


def _rebuild(spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> CrystalRoof:
    key = key_from(environ, command.KEY_VARIABLE) or ""
    return CrystalRoof(
        key,
        base_url=spec["base_url"],
        timeout=float(spec.get("timeout") or 30),
        max_answer_bytes=int(spec.get("max_answer_bytes") or MAX_ANSWER_BYTES),
    )


plugin = ApiPlugin(
    name=NAME,
    add_commands=command.add_commands,
    rebuild=_rebuild,
    mount=on_call("bulkfetch.apis.crystalroof.emulator:mount"),
)
