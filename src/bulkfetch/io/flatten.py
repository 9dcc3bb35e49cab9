"""Nested answers as flat output columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten"]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"residents": {"Total": 98}}`` -> ``{"residents.Total": 98}``; lists stay JSON text."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat
