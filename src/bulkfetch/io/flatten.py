"""Nested answers as flat output columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten"]

# What JSON decodes a leaf to: checked first, as most values are (a Mapping check costs more).
_LEAVES = frozenset({str, int, float, bool, type(None)})


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"residents": {"Total": 98}}`` -> ``{"residents.Total": 98}``; lists stay JSON text."""
    flat: dict[str, Any] = {}
    _into(flat, data, prefix)
    return flat


def _into(flat: dict[str, Any], data: Mapping[str, Any], prefix: str) -> None:
    # A name given again takes the later value in the earlier place, as dict.update does.
    for key, value in data.items():
        kind = type(value)
        if kind in _LEAVES:
            flat[f"{prefix}{key}"] = value
        elif kind is dict or isinstance(value, Mapping):
            _into(flat, value, f"{prefix}{key}.")
        elif isinstance(value, list):
            flat[f"{prefix}{key}"] = json.dumps(value, ensure_ascii=False)
        else:
            flat[f"{prefix}{key}"] = value
