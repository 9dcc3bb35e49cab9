"""Echo as a bulkfetch plugin: its command, its emulator route, its adapter rebuilt."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from rich.console import Console

from bulkfetch.cli import options
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import bulk_options, run_bulk_command
from bulkfetch.emulator.server import GATE, Refusal, deliver
from bulkfetch.engine import StopRequest
from bulkfetch.plugins import ApiPlugin, key_from
from bulkfetch.run import RunReport, run_file
from bulkfetch_echo.client import NAME, Echo

KEY = "ECHO_KEY"


def _add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "echo",
        parents=options.file_run(),
        help="say every word of a file back",
    )
    command.set_defaults(handler=_echo)


def _echo(args: argparse.Namespace, err: Console) -> int:
    key = os.environ.get(KEY, "")

    async def job(stop: StopRequest, bar: ProgressBar) -> RunReport:
        async with Echo(key, base_url=args.base_url, timeout=args.timeout) as api:
            return await run_file(
                api.operation("shout", {}),
                args.input,
                column=args.column,
                out=args.out,
                **bulk_options(args, stop, bar),
            )

    return run_bulk_command(job, err, args)


def _rebuild(spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> Echo:
    return Echo(key_from(environ, KEY) or "", base_url=spec["base_url"])


async def _route(request: web.Request) -> web.StreamResponse:
    gate = request.app[GATE]
    word = request.match_info["word"]
    gate.ledger.tried[f"echo|{word}"] += 1
    try:
        gate.admit(request.query.get("key"))
    except Refusal as refusal:
        return await deliver(request, gate, refusal.status, {"error": "refused"}, None)
    gate.bill(request.query.get("key") or "", f"echo|{word}")
    if word.startswith("x"):
        return await deliver(request, gate, 404, {"error": "no such word"}, None)
    body = {"data": {"word": word, "upper": word.upper(), "length": len(word)}}
    return await deliver(request, gate, 200, body, None)


def _mount(app: web.Application) -> None:
    app.router.add_get("/echo/v1/{word}", _route)


plugin = ApiPlugin(name=NAME, add_commands=_add_commands, rebuild=_rebuild, mount=_mount)
