"""A described API's requests: its secrets from the environment, the request a batch of
values makes (the path, query, headers and body templates filled, each key where its
``[[auth]]`` says), and what its lookups ask, in words."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.describe.schema import Description
from bulkfetch.describe.values import fill, fill_json
from bulkfetch.plugins import key_from

__all__ = ["Sent", "endpoint_of", "request_for", "secrets_of"]


@dataclass(frozen=True, slots=True)
class Sent:
    """One request, as it goes out."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


def secrets_of(
    description: Description, environ: Mapping[str, str] | None, *, need_keys: bool
) -> dict[str, str]:
    """Each secret the description sends, by its variable: placeholders to make no call
    with (``environ`` None), and a usage error for a required one that is not set."""
    found: dict[str, str] = {}
    for auth in description.auth:
        required = need_keys and not auth.optional
        value = key_from(environ, auth.env, required=required, api=description.name)
        if value is not None:
            found[auth.env] = value
    return found


def request_for(description: Description, values: Sequence[str], keys: Mapping[str, str]) -> Sent:
    """The request for ``values`` (one, or a batch's): ``{value}`` and ``{values}`` filled
    (percent-encoded in the path; the batch's values joined by its ``join``), the keys
    added."""
    request = description.request
    join = description.batch.join if description.batch is not None else ","
    path = fill(
        request.path,
        {
            "value": urllib.parse.quote(values[0], safe=""),
            "values": urllib.parse.quote(join.join(values), safe=join),
        },
    )
    fields = {"value": values[0], "values": join.join(values)}
    params = {name: fill(text, fields) for name, text in request.query.items()}
    headers = dict(request.headers)
    for auth in description.auth:
        secret = keys.get(auth.env)
        if secret is None:
            continue
        if auth.where == "query":
            params[auth.name] = secret
        elif auth.where == "header":
            headers[auth.name] = secret
        else:
            headers[auth.name] = f"Bearer {secret}"
    body = None if request.body is None else fill_json(request.body, values[0], values, join)
    return Sent(request.method, path, params, headers, body)


def endpoint_of(description: Description) -> str:
    """What a lookup of this API asks, in words: its method, path, query and body as written
    (never a secret: those are sent besides)."""
    request = description.request
    text = f"{request.method} {request.path}"
    if request.query:
        text += "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    if request.body is not None:
        text += " " + json.dumps(request.body, sort_keys=True, separators=(",", ":"))
    return text
