"""The Labor Market API as a bulkfetch plugin: its commands, its emulator routes and
options, and its adapter rebuilt from a run's spec."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from bulkfetch.apis.labormarket import command
from bulkfetch.apis.labormarket.adapter import Codes
from bulkfetch.apis.labormarket.client import LaborMarket
from bulkfetch.apis.labormarket.wire import NAME, WireNames
from bulkfetch.http import MAX_ANSWER_BYTES
from bulkfetch.plugins import ApiPlugin, key_from, on_call

__all__ = ["plugin"]


def _rebuild(spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> Codes:
    wire: dict[str, Any] = {
        name: frozenset(value) if isinstance(value, list) else value
        for name, value in dict(spec.get("wire", {})).items()
    }
    client = LaborMarket(
        key_from(environ, command.PLATFORM_KEY) or "",
        customer_key=key_from(environ, command.CUSTOMER_KEY, required=False),
        environment=spec.get("environment", "test"),
        base_url=spec["base_url"],
        timeout=float(spec.get("timeout") or 30.0),
        max_answer_bytes=int(spec.get("max_answer_bytes") or MAX_ANSWER_BYTES),
        wire=WireNames(**wire),
    )
    return Codes(client, "cip" if spec.get("by") == "cip" else "soc")  # its runs' kind


def _emulator_options(
    parser: argparse.ArgumentParser,
) -> Callable[[argparse.Namespace], dict[str, Any]]:
    group = parser.add_argument_group("Labor Market")
    group.add_argument(
        "--lmi-production",
        action="store_true",
        help="Labor Market calls need an end-customer key (ck_...), as in production",
    )
    group.add_argument(
        "--no-cip-attribution",
        action="store_true",
        help="CIP answers do not say which input code an occupation matched",
    )
    return lambda args: {
        "lmi_production": args.lmi_production,
        "cip_attribution": not args.no_cip_attribution,
    }


plugin = ApiPlugin(
    name=NAME,
    add_commands=command.add_commands,
    rebuild=_rebuild,
    mount=on_call("bulkfetch.apis.labormarket.emulator:mount"),
    emulator_options=_emulator_options,
)
