"""Outside text made safe: secrets taken out in every form they travel in, control
characters escaped, messages one bounded line; redirects checked before they are followed."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from aioresponses import aioresponses

from bulkfetch.errors import ApiError, RedirectError
from bulkfetch.http import HttpClient
from bulkfetch.untrusted import MESSAGE_CHARS, REDACTED, Secrets, message, printable
from tests.unit.mock_http import MockedResponse

KEY = 'sk-live/a+b=c&d"e'


@pytest.mark.parametrize(
    "form",
    [
        KEY,
        urllib.parse.quote(KEY, safe=""),
        urllib.parse.quote_plus(KEY),
        json.dumps(KEY)[1:-1],
        base64.b64encode(f"user:{KEY}".encode()).decode(),
    ],
)
def test_a_secret_is_taken_out_in_every_form_it_travels_in(form: str) -> None:
    """As is, URL-quoted, JSON-escaped, and a user:password in basic auth."""
    secrets = Secrets([KEY, f"user:{KEY}"])
    said = secrets.redact(f"bad request: {form} (again: {form})")
    assert said == f"bad request: {REDACTED} (again: {REDACTED})"


def test_a_short_secret_leaves_data_alone_but_not_messages() -> None:
    """A key of a few characters is cut from error text, not from a success's numbers."""
    secrets = Secrets(["1234", None, ""])
    assert secrets.redact('{"count": 12345}', data=True) == '{"count": 12345}'
    assert secrets.redact("key 1234 refused") == f"key {REDACTED} refused"
    assert "1234" not in repr(secrets)


def test_control_characters_are_shown_as_escapes() -> None:
    """ESC, BEL, CR, LF, DEL, C1 and the bidirectional overrides; the rest as it is."""
    shown = printable("a\x1b[2J\x07\r\n\x7f\x9b\u202eb é 東 😀\t")
    assert shown == "a\\x1b[2J\\x07\\x0d\\x0a\\x7f\\x9b\\u202eb é 東 😀\\x09"


def test_a_message_is_one_bounded_line() -> None:
    """A server's long text is cut and says so; an ApiError's message is made one line."""
    assert message("x" * 10_000) == "x" * MESSAGE_CHARS + "..."
    assert ApiError("bad\r\nnews", status=500).message == "bad\\x0d\\x0anews"


@pytest.mark.parametrize(
    ("location", "refused"),
    [
        ("http://api.example/v1/x", "http://api.example"),  # https to http
        ("https://evil.example/steal", "https://evil.example"),
        ("https://api.example:8443/v1/x", "https://api.example:8443"),
    ],
)
async def test_a_redirect_out_of_the_origin_is_refused_before_it_is_followed(
    location: str, refused: str
) -> None:
    """To http from https, another host, another port: a RedirectError naming where, with
    no request sent there."""
    with aioresponses() as mocked:
        mocked.get(
            "https://api.example/v1/a?key=sk-1",
            response_class=MockedResponse,
            status=302,
            headers={"Location": location},
        )
        async with HttpClient("https://api.example", session=None, timeout=5) as client:
            with pytest.raises(RedirectError, match=f"another origin, {refused},"):
                await client.send("GET", "/v1/a", params={"key": "sk-1"})
        assert len(mocked.requests) == 1
