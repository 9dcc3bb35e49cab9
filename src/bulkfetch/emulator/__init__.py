"""A local stand-in for the APIs, behaving as their documentation says.

Users try bulkfetch against it with no key and no network; tests and benchmarks run against
it. It enforces keys, a limit per key in the window it is told (fixed seconds of the wall
clock or at an offset, a sliding second, a token bucket, a minute; see
:mod:`~bulkfetch.emulator.windows`), a package quota, a one-way latency before calls are
counted, and injects faults on demand. It keeps a ledger of billed calls per lookup, read at
``GET /_emulator/ledger``; ``POST /_emulator/config`` changes settings while it runs.

It binds to loopback unless told otherwise. The server (and aiohttp) is imported when one
of its names is first used, so that the command line can read the windows' kinds cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulkfetch.emulator.server import EmulatorConfig, Ledger, build_app, serve

__all__ = ["EmulatorConfig", "Ledger", "build_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bulkfetch.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
