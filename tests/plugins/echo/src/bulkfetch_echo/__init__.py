"""Echo: a toy API that says a word back (its length, in capitals). A bulkfetch plugin."""

from __future__ import annotations

from bulkfetch_echo.client import Echo, Shout

__all__ = ["Echo", "Shout"]
