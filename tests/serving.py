"""An aiohttp application served on a loopback port from a thread of its own: the tests'
servers (the emulator, a hostile one) in the tests' own process, reached by the command
line and the library alike, with no process to start."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

__all__ = ["on_a_thread"]


@contextmanager
def on_a_thread(app: web.Application, *, port: int = 0) -> Iterator[str]:
    """``app`` served on 127.0.0.1 (``port``; 0: a free one) while the block runs; its
    base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
