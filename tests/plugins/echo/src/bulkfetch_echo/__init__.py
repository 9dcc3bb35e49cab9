"""Echo: a toy API that says a word back (its length, in capitals). A bulkfetch plugin,
written on bulkfetch.plugin alone: its command, help, plan, cap, formats and emulator route
come from bulkfetch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bulkfetch.plugin import Api, InvalidInputError, plugin_of

__all__ = ["Echo", "Shout", "plugin"]


@dataclass(frozen=True, slots=True)
class Shout:
    word: str
    upper: str
    length: int


class Echo(Api):
    """say every word of a file back"""

    toml = """
        name = "echo"
        base_url = "https://echo.example"

        [[auth]]
        in = "query"
        name = "key"
        env = "ECHO_KEY"

        [request]
        path = "/echo/v1/{value}"

        [answer]
        data = "data"
    """

    def normalise(self, value: str) -> str:
        word = value.strip().lower()
        if not word.isalpha():
            raise InvalidInputError(f"not a word: {word!r}")
        return word

    def result(self, data: Any) -> Shout:
        return Shout(data["word"], data["upper"], data["length"])

    async def shout(self, word: str) -> Shout:
        """One word, said back."""
        shout: Shout = await self.get(word)
        return shout

    @classmethod
    def emulate(cls, value: str) -> Any:
        if value.startswith("x"):
            return None  # the API knows no such word
        return {"word": value, "upper": value.upper(), "length": len(value)}


plugin = plugin_of(Echo)
