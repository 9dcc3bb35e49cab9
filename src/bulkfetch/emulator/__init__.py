"""A local stand-in for the APIs, behaving as their documentation says.

Users try bulkfetch against it with no key and no network; tests and benchmarks run against
it. It enforces keys, a per-second limit per key (a counter per wall-clock second), a
package quota, and injects faults on demand. It keeps a ledger of billed calls per lookup,
read at ``GET /_emulator/ledger``; ``POST /_emulator/config`` changes settings while it runs.

It binds to loopback unless told otherwise.
"""

from __future__ import annotations

from bulkfetch.emulator.server import EmulatorConfig, Ledger, build_app, serve

__all__ = ["EmulatorConfig", "Ledger", "build_app", "serve"]
