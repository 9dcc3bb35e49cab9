"""Descriptions checked: the examples load, and each kind of mistake is refused with a
DescriptionError that names the file, the line and the key (``FILE, line N: KEY ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bulkfetch.describe import Description, DescriptionError, load_description
from bulkfetch.describe.text import Places, shown
from bulkfetch.errors import UsageError
from bulkfetch.policy import Meaning
from tests.conftest import Cli

EXAMPLES = Path(__file__).parents[2] / "examples" / "apis"
NAME = 'name = "demo"'
BASE = 'base_url = "https://api.test"'


def toml(*lines: str) -> str:
    """A TOML text of these lines: line N of the file is ``lines[N - 1]``."""
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> tuple[str, Path]:
    """The message a description of ``text`` is refused with, and its file."""
    path = write(tmp_path, text)
    with pytest.raises(DescriptionError) as caught:
        load_description(path)
    assert isinstance(caught.value, UsageError)
    return str(caught.value), path


def loads(tmp_path: Path, *lines: str) -> Description:
    return load_description(write(tmp_path, toml(*lines)))


# -- the examples ------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda path: path.stem)
def test_every_example_loads_and_has_a_sample_input(path: Path) -> None:
    """Each example in examples/apis/ is a valid description, a sample input beside it."""
    described = load_description(path)
    assert described.name == path.stem
    assert described.file == str(path)
    assert path.with_suffix(".csv").is_file()


def test_there_are_at_least_three_examples() -> None:
    """The issue asks for three descriptions at least: bulk POST, geocoder, CrystalRoof."""
    assert len(list(EXAMPLES.glob("*.toml"))) >= 3


def test_postcodes_io_example_says_a_bulk_post_tied_back_by_key() -> None:
    """postcodes.io: 100 values a POST, a JSON list in the body, items tied back by query."""
    described = load_description(EXAMPLES / "postcodes-io.toml")
    assert described.request.method == "POST"
    assert described.request.body == {"postcodes": "{values}"}
    assert described.batch is not None
    assert (described.batch.size, described.batch.items, described.batch.key) == (
        100,
        ("result",),
        ("query",),
    )
    assert described.data == ("result",)
    assert described.value(" w6  0ww ") == "W6 0WW"


def test_geocoder_example_has_limits_statuses_and_a_key() -> None:
    """The geocoder: two limits, a key in the query, 403 read as a refused key, rows."""
    described = load_description(EXAMPLES / "geocoder.toml")
    assert [str(limit) for limit in described.limits] == ["10/second", "2500/day"]
    assert [(a.where, a.name, a.env) for a in described.auth] == [("query", "key", "GEOCODER_KEY")]
    assert described.policy.statuses == {403: Meaning.AUTH}
    assert described.request.query == {"q": "{value}", "limit": "2", "no_annotations": "1"}
    assert described.output.rows == ()


def test_a_small_description_gets_the_defaults(tmp_path: Path) -> None:
    """Nothing but a name, a base URL and a path: GET, one value, billed by item."""
    described = loads(
        tmp_path, NAME, 'base_url = "https://api.test/"', "[request]", 'path = "/v/{value}"'
    )
    assert described.base_url == "https://api.test"
    assert (described.request.method, described.batch, described.batch_size) == ("GET", None, 1)
    assert described.billed == "item"
    assert described.error == ("error",)
    assert described.output.flatten == ()  # no column named: every field of the answer


# -- mistakes, each told at its file, line and key ---------------------------------------

OK = '[request]\npath = "/v/{value}"'
BATCH = '[request]\npath = "/v/{values}"\n[batch]'
HEAD = f"{NAME}\n{BASE}"


def case(name: str, line: int, key: str, said: str, text: str, head: str = HEAD) -> Any:
    """A mistake: the text after the name and base URL (from line 3), the line and key it
    is told at, and what the message says."""
    return pytest.param(toml(head, text), line, key, said, id=name)


# fmt: off
MISTAKES = [
    case("unknown key", 3, "abuot", "did you mean 'about'?", f"abuot = 'x'\n{OK}"),
    case("unknown in a table", 5, "request.methd", "did you mean 'method'?", f"{OK}\nmethd = 1"),
    case("unknown inline", 6, "output.colums", "did you mean 'columns'?",
         f'{OK}\n[output]\ncolums = {{ a = "b" }}'),
    case("slip for a required key", 4, "request.pth", "did you mean 'path'?",
         '[request]\npth = "/v/{value}"'),
    case("no request.path", 3, "request", "needs request.path", "[request]\nmethod = 'GET'"),
    case("wrong type", 6, "batch.size", "must be a whole number", f"{BATCH}\nsize = '9'"),
    case("bad method", 4, "request.method", "is one of GET, POST; got 'PUT'",
         '[request]\nmethod = "PUT"\npath = "/v/{value}"'),
    case("bad case", 6, "value.case", "is one of keep, upper, lower; got 'title'",
         f'{OK}\n[value]\ncase = "title"'),
    case("bad spaces", 6, "value.spaces", "got 'squash'", f'{OK}\n[value]\nspaces = "squash"'),
    case("field that does not exist", 4, "request.path", "names {valu}, which is not a field",
         '[request]\npath = "/v/{valu}"'),
    case("field in an inline query", 4, "request.query.q", "names {valu}",
         '[request]\nquery = { limit = 2, q = "{valu}" }\npath = "/v"'),
    case("field in a body", 6, "request.body.ids", "names {valu}",
         '[request]\nmethod = "POST"\npath = "/v"\nbody = { ids = "{valu}" }'),
    case("field in a header", 5, "request.headers.X-Id", "headers are sent as written",
         f'{OK}\nheaders = {{ "X-Id" = "{{value}}" }}'),
    case("no value sent", 3, "request", "sends no value", '[request]\npath = "/v"'),
    case("{value} in a batch", 4, "request.path", "names {value} in a batch of several",
         '[request]\npath = "/v/{value}"\n[batch]\nsize = 3\nkey = "q"'),
    case("no way to tie back", 5, "batch", 'batch.key (the field of each item that holds its'
         ' value) or batch.by = "position"', f"{BATCH}\nsize = 3"),
    case("batch of none", 6, "batch.size", "from 1 to 10000", f"{BATCH}\nsize = 0"),
    case("not a regex", 6, "value.pattern", "is not a regular expression",
         f"{OK}\n[value]\npattern = '([A-Z'"),
    case("missing group", 7, "value.format", "invalid group reference 3",
         f"{OK}\n[value]\npattern = '(A)(B)'\nformat = '\\1 \\3'"),
    case("a lone backslash", 7, "value.format", "bad escape",
         f"{OK}\n[value]\npattern = '(A)'\nformat = '\\1\\'"),
    case("an unclosed name", 7, "value.format", "missing >",
         f"{OK}\n[value]\npattern = '(A)'\nformat = '\\g<1'"),
    case("an empty join", 7, "batch.join", "at least one character",
         f'{BATCH}\nsize = 9\njoin = ""\nby = "position"'),
    case("format, no pattern", 6, "value.format", "goes with value.pattern",
         f"{OK}\n[value]\nformat = '\\1'"),
    case("bad limit", 3, "limits[0]", "not a limit: '10/fortnight'",
         f'limits = ["10/fortnight"]\n{OK}'),
    case("two limits a unit", 3, "limits[1]", "second limit", f'limits = ["1/s", "2/s"]\n{OK}'),
    case("status 700", 6, "statuses.700", "(100 to 599)", f'{OK}\n[statuses]\n700 = "quota"'),
    case("status 99", 6, "statuses.99", "(100 to 599)", f'{OK}\n[statuses]\n99 = "quota"'),
    case("status in words", 6, "statuses.forbidden", "HTTP status",
         f'{OK}\n[statuses]\nforbidden = "auth"'),
    case("bad meaning", 6, "statuses.403", "got 'quotaa'", f'{OK}\n[statuses]\n403 = "quotaa"'),
    case("quota_words", 6, "statuses.quota_words", "must be a list",
         f'{OK}\n[statuses]\nquota_words = "quota"'),
    case("auth with no env", 3, "auth[0]", "needs auth[0].env", f'[[auth]]\nname = "key"\n{OK}'),
    case("bad env", 6, "auth[0].env", "environment variable; got 'MY-KEY'",
         f'[[auth]]\nin = "header"\nname = "X-Key"\nenv = "MY-KEY"\n{OK}'),
    case("second auth's env", 8, "auth[1].env", "got '2B'",
         f'[[auth]]\nname = "k"\nenv = "A"\n[[auth]]\nin = "bearer"\nenv = "2B"\n{OK}'),
    case("inline auth's env", 3, "auth[0].env", "got 'A B'",
         f'auth = [{{ in = "query", name = "k", env = "A B" }}]\n{OK}'),
    case("auth header, no name", 3, "auth[0]", "needs auth[0].name",
         f'[[auth]]\nin = "header"\nenv = "K"\n{OK}'),
    case("bad auth place", 4, "auth[0].in", "got 'cookie'", f'[[auth]]\nin = "cookie"\n{OK}'),
    case("body with GET", 5, "request.body", 'goes with method = "POST"',
         '[request]\npath = "/v"\nbody = { q = "{value}" }'),
    case("reserved column", 6, "output.columns.status", "writes itself",
         f'{OK}\n[output.columns]\nstatus = "s"'),
    case("bad reset_is", 6, "rate_headers.reset_is", "epoch, seconds",
         f'{OK}\n[rate_headers]\nreset_is = "ms"'),
    case("bad billed", 3, "billed", "got 'call'", f'billed = "call"\n{OK}'),
    case("bad name", 1, "name", "lower-case letters", OK, f'name = "My API"\n{BASE}'),
    case("bad base_url", 2, "base_url", "http:// or https://", OK, f'{NAME}\nbase_url = "a.b"'),
    case("base_url, a query", 2, "base_url", "no query", OK, f'{NAME}\nbase_url = "https://a.b?k=1"'),
    case("boolean for text", 3, "about", "must be text", f"about = true\n{OK}"),
]
# fmt: on


@pytest.mark.parametrize(("text", "line", "key", "said"), MISTAKES)
def test_a_mistake_is_told_by_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, said: str
) -> None:
    """The message begins 'FILE, line N: KEY ' and says what is wrong."""
    message, path = refusal(tmp_path, text)
    assert message.startswith(f"{path}, line {line}: {key} "), message
    assert said in message, message


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ((BASE, OK), "the description needs name"),
        ((NAME, OK), "the description needs base_url"),
        ((NAME, BASE), "request needs request.path"),
    ],
    ids=["name", "base_url", "request.path"],
)
def test_a_missing_required_key_names_the_file_and_the_key(
    tmp_path: Path, lines: tuple[str, ...], said: str
) -> None:
    """A key that is not written anywhere has no line: the file and the key are told."""
    message, path = refusal(tmp_path, toml(*lines))
    assert message == f"{path}: {said}"


def test_a_toml_syntax_error_is_told_at_its_line(tmp_path: Path) -> None:
    """tomllib's '(at line 3, column N)' is said as every mistake is: 'FILE, line 3:'."""
    message, path = refusal(tmp_path, toml(NAME, BASE, "[request", 'path = "/v/{value}"'))
    assert message.startswith(f"{path}, line 3: not TOML: "), message
    assert "column" not in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    """No such file: a DescriptionError naming it."""
    path = tmp_path / "nowhere.toml"
    with pytest.raises(DescriptionError, match="no such file") as caught:
        load_description(path)
    assert str(path) in str(caught.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8: refused, not a traceback."""
    path = tmp_path / "latin.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(DescriptionError, match="UTF-8"):
        load_description(path)


def test_the_cli_refuses_a_mistake_with_exit_2_before_any_store(tmp_path: Path, cli: Cli) -> None:
    """bulkfetch fetch --api BAD: exit 2, the file, line and key, and no file written."""
    path = write(tmp_path, toml(NAME, BASE, "[request]", 'path = "/v/{valu}"'))
    (tmp_path / "in.csv").write_text("postcode\nW6 0WW\n", encoding="utf-8")
    before = set(tmp_path.iterdir())
    ran = cli(
        "fetch",
        "--api",
        path,
        tmp_path / "in.csv",
        "--column",
        "postcode",
        "--out",
        tmp_path / "out.csv",
    )
    assert ran.code == 2
    assert f"{path}, line 4: request.path names {{valu}}" in ran.err
    assert set(tmp_path.iterdir()) == before


def test_batch_by_position_needs_no_key(tmp_path: Path) -> None:
    """by = "position" is a way to tie answers back; a batch of one needs neither."""
    described = loads(tmp_path, NAME, BASE, BATCH, "size = 5", 'by = "position"')
    assert described.batch is not None
    assert described.batch.key is None
    one = loads(tmp_path, NAME, BASE, BATCH, "size = 1")
    assert one.batch is not None
    assert one.batch.key is None


# -- Places: the line of each key --------------------------------------------------------

PLACED = toml(
    'name = "demo"',  # 1
    'about = """',  # 2
    "not = a key",  # 3
    '"""',  # 4
    "[[auth]]",  # 5
    'env = "A"',  # 6
    "[[auth]]",  # 7
    'in = "header"',  # 8
    'env = "B"',  # 9
    "[auth.extra]",  # 10
    "x = 1",  # 11
    "[request]",  # 12
    'query = { q = "{value}", "limit" = 2 }',  # 13
    'headers.Accept = "application/json"',  # 14
    "[output.columns]  # the columns",  # 15
    '"a.b" = "c"',  # 16
)


@pytest.mark.parametrize(
    ("key", "line"),
    [
        (("name",), 1),
        (("about",), 2),
        (("auth", 0), 5),
        (("auth", 0, "env"), 6),
        (("auth", 1), 7),
        (("auth", 1, "env"), 9),
        (("auth", 1, "extra", "x"), 11),
        (("request", "query", "q"), 13),
        (("request", "query", "limit"), 13),
        (("request", "headers", "Accept"), 14),
        (("output", "columns"), 15),
        (("output", "columns", "a.b"), 16),
        (("auth", 1, "unwritten"), 7),  # an unplaced key: its nearest placed parent
    ],
)
def test_places_finds_keys_in_inline_tables_and_auth_entries(
    key: tuple[str | int, ...], line: int
) -> None:
    """Places gives each key's line: [[auth]] entries by index, inline tables' keys."""
    assert Places(PLACED).line(key) == line


def test_places_skips_multi_line_strings() -> None:
    """A 'key = value' inside a multi-line string is not a key."""
    assert Places(PLACED).line(("not",)) is None


def test_shown_writes_keys_as_a_reader_finds_them() -> None:
    """request.path, auth[0].env."""
    assert shown(("request", "path")) == "request.path"
    assert shown(("auth", 0, "env")) == "auth[0].env"


# -- found wanting -----------------------------------------------------------------------


def test_a_path_with_a_superscript_digit_is_read_as_a_name(tmp_path: Path) -> None:
    """answer.data = "result.²": a key named "²", not an index (only ASCII digits are)."""
    assert loads(tmp_path, NAME, BASE, OK, "[answer]", 'data = "result.²"').data == (
        "result",
        "²",
    )


def test_a_format_naming_a_missing_group_by_g_is_refused(tmp_path: Path) -> None:
    """format = '\\g<2>' with a pattern of one group is a mistake, told at value.format."""
    message, path = refusal(
        tmp_path, toml(NAME, BASE, OK, "[value]", "pattern = '(A)'", "format = '\\g<2>'")
    )
    assert message.startswith(f"{path}, line 7: value.format "), message


def test_a_comment_with_triple_quotes_does_not_hide_the_lines_after_it(tmp_path: Path) -> None:
    """An unknown key after a comment that mentions triple quotes is still told at its line."""
    lines = (NAME, '# write long text in """ quotes', BASE, OK, "colour = 1")
    message, path = refusal(tmp_path, toml(*lines))
    assert message.startswith(f"{path}, line 6: request.colour "), message


def test_a_misspelt_table_is_told_by_its_own_name(tmp_path: Path) -> None:
    """[reqest] is told as the unknown key it is, at its line, with a hint."""
    message, path = refusal(tmp_path, toml(NAME, BASE, "[reqest]", 'path = "/v/{value}"'))
    assert message.startswith(f"{path}, line 3: reqest "), message
    assert "did you mean 'request'?" in message
