"""aioresponses, made to work with aiohttp 3.14.

aiohttp 3.14 (a security release) added a required ``stream_writer`` argument to
``ClientResponse``; aioresponses 0.7.9, its latest release, does not pass it
(pnuckowski/aioresponses#289, open). For a response whose request was already sent, aiohttp
reads only the writer's ``output_size``, so a stand-in is enough. Remove this module when
aioresponses ships the fix.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse


class _SentRequest:
    output_size = 0


class MockedResponse(ClientResponse):
    def __init__(self, *args: Any, stream_writer: Any = None, **kwargs: Any) -> None:
        writer: Any = stream_writer or _SentRequest()  # duck-typed: only output_size is read
        super().__init__(*args, stream_writer=writer, **kwargs)
