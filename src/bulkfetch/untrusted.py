"""Text from outside (a server's answers, a file's name) made safe to keep and to show: the
client's own secrets taken out, control characters escaped, messages bounded in length.

A server may repeat the request it was sent (``bad request GET /v1/x?api_key=KEY``, or the
``Authorization`` header it got) in any answer. :class:`Secrets` takes every form a secret
travels in (as is, URL-quoted, JSON-escaped, base64 in a basic-auth header) out of such
text, where answers are read (:meth:`bulkfetch.http.HttpClient.send`); :func:`message`
makes what is left fit for one line of a terminal, a log or a CSV cell, where errors are
made (:class:`bulkfetch.errors.ApiError`, and a lookup's own error in
:func:`bulkfetch.engine.classify.answered`).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterable

__all__ = ["MESSAGE_CHARS", "REDACTED", "Secrets", "message", "printable"]

REDACTED = "[redacted]"
# A secret shorter than this is not taken out of a success's body: such a string cannot be
# told from the data it would be cut out of (a key "1234" in a count of 12345). Error texts
# lose every secret, whatever its length. No provider's key is that short.
DATA_SECRET_CHARS = 8
MESSAGE_CHARS = 500  # a server's message is cut to this: it is shown on one line

# C0 and C1 controls and DEL (a terminal obeys them: ESC [2J clears it, CR rewrites the
# line), and the bidirectional overrides that reorder what a reader sees.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Secrets:
    """The secrets a client sends, in every form they may come back in."""

    def __init__(self, values: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for value in values:
            if value:
                forms.update(_forms(value))
        # Longest first: a form that holds another is replaced whole.
        self._all = sorted(forms, key=len, reverse=True)
        self._data = [form for form in self._all if len(form) >= DATA_SECRET_CHARS]

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._all)} forms hidden>)"

    def redact(self, text: str, *, data: bool = False) -> str:
        """``text`` with every secret replaced by ``[redacted]``; ``data``: a body kept as
        the answer, from which only secrets long enough to be told from data are cut."""
        for form in self._data if data else self._all:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


def _forms(secret: str) -> set[str]:
    """A secret as it travels: as is, in a query string, in JSON, and in basic auth."""
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    if ":" in secret:  # user:password, as an Authorization: Basic header holds it
        forms.add(base64.b64encode(secret.encode()).decode())
    return forms


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), so that no terminal
    obeys them; everything else as it is."""
    return _CONTROLS.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def message(text: str) -> str:
    """A server's text as one line of a message: controls escaped, at most
    ``MESSAGE_CHARS`` characters (longer is cut, and says so)."""
    shown = printable(text[: MESSAGE_CHARS + 1])
    if len(shown) > MESSAGE_CHARS:
        shown = shown[:MESSAGE_CHARS] + "..."
    return shown
