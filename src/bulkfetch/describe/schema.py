"""What a description says, checked: every key known, every value of its kind, every template
naming fields that exist, every batch with a way to tie answers back. A mistake is a
:class:`~bulkfetch.describe.text.DescriptionError` naming the file, the line and the key,
found before any store is opened or call made.

The format, key by key, is in docs/your-own-api.md and ``examples/apis/``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkfetch.describe.text import Key, Places, Table, Where, shown
from bulkfetch.describe.values import FIELDS, Normaliser, split_path, template_fields
from bulkfetch.pacing.limits import Limit, parse_limit
from bulkfetch.policy import Meaning, StatusPolicy

__all__ = ["Auth", "Batch", "Description", "Output", "RateHeaders", "Request", "parse"]

Path = tuple[str | int, ...]
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset({"status", "error", "row"})  # the columns bulkfetch writes itself
_TOP = (
    "name", "about", "base_url", "limits", "billed", "auth", "request", "batch", "value",
    "answer", "output", "statuses", "rate_headers",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Auth:
    """A secret sent with every request: in a query parameter, a header, or as a bearer
    token; read from the environment variable ``env``."""

    where: str  # query, header, bearer
    name: str  # the parameter or header ("Authorization" for a bearer token)
    env: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any  # a JSON template, or None for no body


@dataclass(frozen=True, slots=True)
class Batch:
    """Several values a request: joined by ``join`` where a path or query names
    ``{values}``; the answer's items at ``items``, tied back by ``key`` (a field of each
    item naming its value) or, with no key, by position."""

    size: int
    join: str
    items: Path
    key: Path | None


@dataclass(frozen=True, slots=True)
class Output:
    """Which fields of a lookup's answer become columns: ``columns`` (name: path), every
    field of the object at ``flatten`` (dotted names), one line per element of ``rows``."""

    columns: Mapping[str, Path]
    flatten: Path | None
    rows: Path | None


@dataclass(frozen=True, slots=True)
class RateHeaders:
    remaining: str = "X-RateLimit-Remaining"
    reset: str = "X-RateLimit-Reset"
    reset_is: str = "epoch"  # epoch (UNIX seconds) or seconds (from now)


@dataclass(frozen=True, slots=True)
class Description:
    """An API described in data."""

    name: str
    base_url: str
    request: Request
    value: Normaliser
    about: str = ""
    auth: tuple[Auth, ...] = ()
    batch: Batch | None = None
    data: Path = ()  # the lookup's answer: in the body, or in each batch item
    error: Path = ("error",)  # an error answer's message
    code: Path | None = None  # an error answer's code, for the policy
    output: Output = field(default_factory=lambda: Output({}, (), None))
    limits: tuple[Limit, ...] = ()
    billed: str = "item"  # item or request
    policy: StatusPolicy = field(default_factory=StatusPolicy)
    rate_headers: RateHeaders = field(default_factory=RateHeaders)
    source: Mapping[str, Any] = field(default_factory=dict)  # the TOML as read
    file: str = ""

    @property
    def batch_size(self) -> int:
        return self.batch.size if self.batch is not None else 1


def parse(data: Mapping[str, Any], *, file: str, places: Places | None = None) -> Description:
    """The description ``data`` (a TOML document, as read) says."""
    where = Where(file, places)
    top = Table(dict(data), (), where)
    top.expect(_TOP)  # a misspelt table ([reqest]) is told first, by its own name
    name = top.need("name", str)
    if not _NAME.match(name):
        raise where.error(
            ("name",), "is lower-case letters, digits and '-', from a letter, at most 40"
        )
    base_url = top.need("base_url", str)
    if not re.match(r"^https?://[^/?#\s]+", base_url) or re.search(r"[?#]", base_url):
        raise where.error(("base_url",), "must be http:// or https://, a host, and no query")
    about = top.get("about", str, "")
    billed = top.one_of("billed", ("item", "request"), "item")
    limits = _limits(top, where)
    auth = tuple(
        _auth(entry, ("auth", i), where) for i, entry in enumerate(top.get("auth", list, []))
    )
    request = _request(top.table("request"))
    for entry in auth:
        if entry.where == "query" and entry.name in request.query:
            raise where.error(
                ("request", "query", entry.name), "is the query parameter that carries a key"
            )
    batch = _batch(top.table("batch"))
    _check_fields(request, batch, where)
    value = _value(top.table("value"))
    answer = top.table("answer")
    data_path = split_path(answer.get("data", str, ""))
    error = split_path(answer.get("error", str, "error"))
    code = answer.get("code", str)
    answer.done()
    output = _output(top.table("output"), where)
    policy = _policy(top.table("statuses"))
    headers = top.table("rate_headers")
    usual = RateHeaders()
    rate_headers = RateHeaders(
        remaining=headers.get("remaining", str, usual.remaining),
        reset=headers.get("reset", str, usual.reset),
        reset_is=headers.one_of("reset_is", ("epoch", "seconds"), "epoch"),
    )
    headers.done()
    top.done()
    return Description(
        name=name,
        base_url=base_url.rstrip("/"),
        request=request,
        value=value,
        about=about,
        auth=auth,
        batch=batch,
        data=data_path,
        error=error,
        code=split_path(code) if code is not None else None,
        output=output,
        limits=limits,
        billed=billed,
        policy=policy,
        rate_headers=rate_headers,
        source=dict(data),
        file=file,
    )


def _limits(top: Table, where: Where) -> tuple[Limit, ...]:
    found: dict[str, Limit] = {}
    for i, text in enumerate(top.get("limits", list, [])):
        if not isinstance(text, str):
            raise where.error(("limits", i), 'must be text such as "10/second" or "2500/day"')
        try:
            limit = parse_limit(text)
        except ValueError as exc:
            raise where.error(("limits", i), f"is refused: {exc}") from None
        if limit.unit in found:
            raise where.error(("limits", i), f"gives a second limit a {limit.unit}")
        found[limit.unit] = limit
    return tuple(found.values())


def _auth(entry: Any, key: Key, where: Where) -> Auth:
    table = Table(entry, key, where)
    kind = table.one_of("in", ("query", "header", "bearer"), "query")
    env = table.need("env", str)
    if not _ENV.match(env):
        raise where.error((*key, "env"), f"must name an environment variable; got {env!r}")
    name = table.get("name", str)
    if kind == "bearer":
        name = name or "Authorization"
    elif not name:
        raise where.error(key, f"needs {shown((*key, 'name'))}: the {kind} that carries the secret")
    optional = table.get("optional", bool, False)
    table.done()
    return Auth(kind, name, env, optional)


def _strings(table: Table, name: str) -> dict[str, str]:
    given = table.table(name)
    for key, value in given.data.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise given.where.error((*given.key, key), "must be text or a number")
        given.get(key, (str, int, float))
    given.done()
    return {key: str(value) for key, value in given.data.items()}


def _request(table: Table) -> Request:
    method = table.one_of("method", ("GET", "POST"), "GET")
    path = table.need("path", str)
    if not path.startswith("/"):
        raise table.where.error((*table.key, "path"), "must begin with /")
    query, headers = _strings(table, "query"), _strings(table, "headers")
    body = table.get("body", (dict, list))
    if body is not None and method == "GET":
        raise table.where.error((*table.key, "body"), 'goes with method = "POST"')
    _json_only(body, (*table.key, "body"), table.where)
    table.done()
    return Request(method, path, query, headers, body)


def _json_only(value: Any, key: Key, where: Where) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _json_only(item, (*key, name), where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_only(item, (*key, i), where)
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise where.error(key, "must be JSON: text, a number, true, false, a list or a table")


def _batch(table: Table) -> Batch | None:
    if not table.data:
        return None
    size = table.need("size", int)
    if not 1 <= size <= 10_000:
        raise table.where.error((*table.key, "size"), f"is from 1 to 10000; got {size}")
    join = table.get("join", str, ",")
    if not join:
        raise table.where.error((*table.key, "join"), "must be at least one character")
    items = split_path(table.get("items", str, ""))
    key = table.get("key", str)
    by = table.one_of(
        "by", ("key", "position"), "key" if key is not None or size > 1 else "position"
    )
    table.done()
    if by == "position" and key is not None:
        raise table.where.error(
            (*table.key, "key"), 'goes with by = "key": answers tied back by position have none'
        )
    if by == "key" and not key:
        raise table.where.error(
            table.key,
            "needs a way to tie each answer item back to its value: batch.key (the field of"
            ' each item that holds its value) or batch.by = "position"',
        )
    return Batch(size, join, items, split_path(key) if by == "key" and key else None)


def _check_fields(request: Request, batch: Batch | None, where: Where) -> None:
    """Templates name only ``{value}`` and ``{values}``; a batch sends ``{values}``, and a
    request of one a value somewhere."""
    named: list[str] = []
    places: list[tuple[Key, str]] = [(("request", "path"), request.path)]
    places += [(("request", "query", k), v) for k, v in request.query.items()]
    places += _body_strings(request.body, ("request", "body"))
    for key, text in places:
        for found in template_fields(text):
            if found not in FIELDS:
                raise where.error(
                    key,
                    f"names {{{found}}}, which is not a field (there are {{value}} and {{values}})",
                )
            if batch is not None and batch.size > 1 and found == "value":
                raise where.error(key, "names {value} in a batch of several: name {values}")
            named.append(found)
    for key, text in [(("request", "headers", k), v) for k, v in request.headers.items()]:
        if template_fields(text):
            raise where.error(key, "names a field: headers are sent as written")
    if not named:
        raise where.error(
            ("request",),
            "sends no value: name {value} (or {values}) in request.path, request.query or"
            " request.body",
        )


def _body_strings(body: Any, key: Key) -> list[tuple[Key, str]]:
    if isinstance(body, str):
        return [(key, body)]
    if isinstance(body, dict):
        return [found for name, item in body.items() for found in _body_strings(item, (*key, name))]
    if isinstance(body, list):
        return [found for i, item in enumerate(body) for found in _body_strings(item, (*key, i))]
    return []


def _value(table: Table) -> Normaliser:
    pattern = table.get("pattern", str)
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise table.where.error(
                (*table.key, "pattern"), f"is not a regular expression: {exc}"
            ) from None
    form = table.get("format", str)
    if form is not None:
        if compiled is None:
            raise table.where.error(
                (*table.key, "format"), "goes with value.pattern: it is made from its groups"
            )
        try:
            compiled.sub(form, "")  # the form is read now: a group the pattern lacks fails
        except (re.error, IndexError) as exc:
            raise table.where.error(
                (*table.key, "format"), f"is not a form of the pattern's groups: {exc}"
            ) from None
    normaliser = Normaliser(
        name=table.get("name", str, "value"),
        strip=table.get("strip", bool, True),
        case=table.one_of("case", ("keep", "upper", "lower"), "keep"),
        spaces=table.one_of("spaces", ("keep", "collapse", "remove"), "collapse"),
        pattern=compiled,
        form=form,
        invalid=table.get("invalid", str),
    )
    table.done()
    return normaliser


def _output(table: Table, where: Where) -> Output:
    columns = table.table("columns")
    named: dict[str, Path] = {}
    for name in columns.data:
        path = columns.get(name, str)
        if not name or name in _RESERVED:
            raise where.error((*columns.key, name), "is a column bulkfetch writes itself")
        named[name] = split_path(path)
    columns.done()
    flatten = table.get("flatten", str)
    rows = table.get("rows", str)
    table.done()
    if not named and flatten is None:
        flatten = ""  # nothing named: every field of the answer
    return Output(
        named,
        split_path(flatten) if flatten is not None else None,
        split_path(rows) if rows is not None else None,
    )


def _policy(table: Table) -> StatusPolicy:
    meanings = {m.value: m for m in Meaning}
    statuses: dict[int, Meaning] = {}
    for name in table.data:
        if name in ("quota_codes", "quota_words"):
            continue
        if not name.isdigit() or not 100 <= int(name) <= 599:
            raise table.where.error(
                (*table.key, name),
                "is not an HTTP status (100 to 599), nor quota_codes or quota_words",
            )
        meaning = table.one_of(name, tuple(meanings), "")
        statuses[int(name)] = meanings[meaning]
    codes = table.get("quota_codes", list, [])
    words = table.get("quota_words", list, [])
    for key, items in (("quota_codes", codes), ("quota_words", words)):
        if not all(isinstance(item, str) for item in items):
            raise table.where.error((*table.key, key), "must be a list of text")
    table.done()
    return StatusPolicy(statuses, frozenset(codes), tuple(w.lower() for w in words))
