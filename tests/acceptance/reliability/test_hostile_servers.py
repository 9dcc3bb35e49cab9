"""A server that repeats the keys it was sent, redirects elsewhere and answers poison: the
keys stay ours, nothing is taken from another origin, and the run stays up. The command
line runs in this process, against the hostile server on a thread (see tests.hostile)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from bulkfetch import CrystalRoof, LaborMarket
from bulkfetch.engine.single import Caller
from bulkfetch.errors import ApiError, BadResponseError
from tests.acceptance.reliability.helpers import SECRETS, assert_no_secret
from tests.conftest import CUSTOMER_KEY, KEY, PLATFORM_KEY, Cli
from tests.hostile import FORMULA, Hostile, serving

pytestmark = [pytest.mark.reliability]

APIS = ("crystalroof", "labormarket")
# What each misbehaviour ends in: the exit code, for CrystalRoof and for Labor Market.
ERRORS: dict[int | str, int] = {
    400: 0,  # the lookups are invalid: final
    401: 4,
    403: 4,
    404: 0,  # not found: final
    429: 0,  # three times, then answered
    500: 1,  # failed after the attempts
    "loop": 8,  # redirected in circles
}


def command(api: str, tmp_path: Path, url: str, *extra: str) -> list[str]:
    """A run of three lookups from a file, with its store and output in ``tmp_path``."""
    if api == "crystalroof":
        source = tmp_path / "in.csv"
        source.write_text("postcode\nW6 0WW\nSW1A 1AA\nN1 9GU\n")
        head = ["enrich", str(source), "--column", "postcode"]
    else:
        source = tmp_path / "codes.csv"
        source.write_text("soc\n15-1252\n11-1011\n29-1141\n")
        head = ["labor-market", str(source), "--column", "soc", "--by", "soc"]
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    options = ["--out", str(out), "--db", str(db), "--base-url", url, "--max-attempts", "2"]
    return [*head, *options, "--progress-every", "0.05", *extra]


def misbehave(hostile: Hostile, error: int | str) -> None:
    if error == "loop":
        hostile.behave("redirect")  # to itself, for ever
    else:  # the request, keys and all, repeated in the error's text
        hostile.behave("echo", status=int(error), times=3 if error == 429 else None)


def output_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("error", list(ERRORS))
def test_no_key_in_any_byte_whatever_the_server_says(
    api: str, error: int | str, cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """The server repeats the URL, headers and body it got in its errors: the key is in no
    output, store file, stop line, progress line or status."""
    misbehave(hostile, error)
    ran = cli(*command(api, tmp_path, hostile.url), LMI_CUSTOMER_KEY=CUSTOMER_KEY)
    assert ran.code == ERRORS[error], ran.err
    sent = " ".join(f"{seen.path_qs} {seen.headers}" for seen in hostile.seen)
    assert (KEY if api == "crystalroof" else PLATFORM_KEY) in sent  # it had them to repeat
    status = cli("status", "--db", tmp_path / "s.db")
    as_json = cli("status", "--db", tmp_path / "s.db", "--json")
    assert status.code == as_json.code == 0
    assert "Traceback" not in ran.err
    assert_no_secret(tmp_path, ran.out, ran.err, status.out, as_json.out)


def chain(exc: BaseException) -> list[BaseException]:
    """An exception and every one behind it (its cause and its context, all the way)."""
    found: list[BaseException] = []
    waiting: list[BaseException | None] = [exc]
    while waiting:
        each = waiting.pop()
        if each is not None and all(each is not seen for seen in found):
            found.append(each)
            waiting += [each.__cause__, each.__context__]
    return found


async def single_call(api: str, url: str) -> Any:
    if api == "crystalroof":
        async with CrystalRoof(KEY, base_url=url, max_attempts=2) as roof:
            return await roof.occupation("W6 0WW")
    async with LaborMarket(
        PLATFORM_KEY, customer_key=CUSTOMER_KEY, base_url=url, max_attempts=2
    ) as market:
        return await market.by_soc(["15-1252"])


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("error", [e for e in ERRORS if e not in (404, 429)] + [429])
async def test_what_a_single_call_raises_holds_no_key(
    api: str, error: int | str, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """str and repr of the error a library call raises, and of each exception behind it,
    hold no key."""
    monkeypatch.setattr(Caller, "MAX_RATE_LIMITED", 2)  # a 429 for ever: raised soon
    misbehave(hostile, error)
    hostile.behaviour.times = None
    with pytest.raises(ApiError) as raised:
        await single_call(api, hostile.url)
    for each in chain(raised.value):
        for text in (str(each), repr(each), repr(each.args)):
            assert not [secret for secret in SECRETS if secret in text], text


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_is_not_followed(
    api: str, status: int, cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """A 302 or 307 to another host: not followed, no row taken from it, exit 8 naming the
    host it pointed to (not the key)."""
    with serving() as elsewhere:
        hostile.behave("redirect", location=f"{elsewhere.url}/steal?x=1", redirect_status=status)
        ran = cli(*command(api, tmp_path, hostile.url), LMI_CUSTOMER_KEY=CUSTOMER_KEY)
        assert elsewhere.seen == []
    assert ran.code == 8, ran.err
    assert f"another origin, {elsewhere.url}," in ran.err
    assert "/steal" not in ran.err
    assert {row["status"] for row in output_rows(tmp_path / "out.csv")} == {"pending"}
    assert_no_secret(tmp_path, ran.out, ran.err)


@pytest.mark.parametrize("api", APIS)
def test_a_redirect_within_the_origin_is_followed(
    api: str, cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """A 307 to the same origin is followed (a POST with its body), and its answer taken."""
    hostile.behave("redirect", times=1, redirect_status=307)  # to the same URL, once
    ran = cli(*command(api, tmp_path, hostile.url))
    assert ran.code == 0, ran.err
    assert {row["status"] for row in output_rows(tmp_path / "out.csv")} == {"ok"}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("mode", ["deep", "shape"])
def test_an_answer_that_cannot_be_read_fails_its_lookups_not_the_run(
    api: str, mode: str, cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """JSON nested 200,000 deep, or of the wrong shape: each lookup billed for each attempt,
    then failed with the reason; nothing left in flight; a rerun does the same."""
    hostile.behave(mode)
    run = command(api, tmp_path, hostile.url)
    for attempt in (1, 2):
        ran = cli(*run)
        assert ran.code == 1, ran.err
        assert "Traceback" not in ran.err
        (found,) = json.loads(cli("status", "--db", tmp_path / "s.db", "--json").out)["runs"]
        assert found["lookups"] == {"failed": 3}
        assert found["spent"]["units"] == 3 * 2 * attempt  # each attempt was paid for
        rows = output_rows(tmp_path / "out.csv")
        assert {row["status"] for row in rows} == {"failed"}
        assert all("answer" in row["error"] for row in rows), rows


def test_a_servers_control_characters_reach_no_terminal(
    cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """An error text holding ESC, BEL and CR is shown escaped on stderr and in status."""
    hostile.behave("echo", status=401)  # its text begins with CONTROLS
    ran = cli(*command("crystalroof", tmp_path, hostile.url))
    assert ran.code == 4
    status = cli("status", "--db", tmp_path / "s.db")
    for printed in (ran.err, status.out):
        assert not {"\x1b", "\x07", "\r"} & set(printed)
    assert "\\x1b[2J" in ran.err


@pytest.mark.parametrize("mode", ["huge", "endless"])
async def test_an_answer_over_the_bound_is_cut_off(mode: str, hostile: Hostile) -> None:
    """A 2 MB answer, or one that never ends, against a bound of 1 MB: the call fails
    saying so, once the bound is read."""
    hostile.behave(mode, size=2_000_000)
    async with CrystalRoof(
        KEY, base_url=hostile.url, max_answer_bytes=1_000_000, max_attempts=1
    ) as api:
        with pytest.raises(BadResponseError, match="larger than 1,000,000 bytes"):
            await api.occupation("W6 0WW")


def test_a_run_fails_the_lookups_whose_answers_are_over_the_bound(
    cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """--max-answer-size 1MB and answers of 2 MB: each lookup failed, saying why; none of the
    answer kept in the store."""
    hostile.behave("huge", size=2_000_000)
    ran = cli(*command("crystalroof", tmp_path, hostile.url, "--max-answer-size", "1MB"))
    assert ran.code == 1, ran.err
    rows = output_rows(tmp_path / "out.csv")
    assert {row["status"] for row in rows} == {"failed"}
    assert all("larger than 1,000,000 bytes" in row["error"] for row in rows)
    assert (tmp_path / "s.db").stat().st_size < 1_000_000


def test_a_password_in_the_base_url_is_sent_as_basic_auth_and_kept_nowhere(
    cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """user:password@ in --base-url: sent as basic auth, and in no byte of the store, the
    output or what is printed, even when the server repeats it."""
    password = "pw-9d8c7b6a5f"
    with_password = hostile.url.replace("http://", f"http://alice:{password}@")
    ran = cli(*command("crystalroof", tmp_path, with_password))
    assert ran.code == 0, ran.err
    assert all(seen.headers["Authorization"].startswith("Basic ") for seen in hostile.seen)
    hostile.behave("echo", status=401)
    again = cli(*command("crystalroof", tmp_path, with_password, "--refresh"))
    assert again.code == 4
    status = cli("status", "--db", tmp_path / "s.db", "--json")
    printed = ran.out + ran.err + again.err + status.out
    assert password not in printed
    for path in tmp_path.rglob("*"):
        assert password.encode() not in path.read_bytes(), path


def test_a_file_names_control_characters_reach_no_terminal(cli: Cli, tmp_path: Path) -> None:
    """An input named with ESC and BEL: the error names it with the controls escaped."""
    missing = tmp_path / "in\x1b[2J\x07.csv"
    ran = cli("enrich", missing, "--column", "postcode", "--out", tmp_path / "o.csv")
    assert ran.code == 2
    assert "in\\x1b[2J\\x07.csv" in ran.err
    assert not {"\x1b", "\x07"} & set(ran.err)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "code", "said"),
    [
        (402, b'{"error": "no more calls"}', "application/json; charset=bogus", 3, "no more"),
        (200, b'{"data": {"a": "\xff\xfe"}}', "application/json", 1, "not utf-8 text"),
        (200, b'{"data": {"a": 1}}', "application/json; charset=bogus", 1, "not bogus text"),
        (402, b'{"error": "' + b"x" * 200_000 + b'"}', "application/json", 3, "HTTP 402"),
    ],
)
def test_an_answers_bytes_and_charset_are_read_as_they_mean(
    status: int,
    body: bytes,
    content_type: str,
    code: int,
    said: str,
    cli: Cli,
    hostile: Hostile,
    tmp_path: Path,
) -> None:
    """An error under an unknown charset, or too long to read whole, still means its status
    (a 402 stops the run); a success that is not the text it says it is fails its lookups,
    saying so."""
    hostile.behave("raw", status=status, body=body, content_type=content_type)
    ran = cli(*command("crystalroof", tmp_path, hostile.url))
    assert ran.code == code, ran.err
    assert said in ran.err + (tmp_path / "out.csv").read_text()


def test_an_answers_formulas_reach_no_spreadsheet(
    cli: Cli, hostile: Hostile, tmp_path: Path
) -> None:
    """Values from the API that begin like formulas are written with a quote first (its
    column names carry the dataset's name first); --raw-values writes them as they came;
    numbers stay numbers."""
    hostile.behave("values")
    ran = cli(*command("crystalroof", tmp_path, hostile.url))
    assert ran.code == 0, ran.err
    row = output_rows(tmp_path / "out.csv")[0]
    assert row["occupation.residents.link"] == "'" + FORMULA
    assert row["occupation." + FORMULA] == "1"
    assert (row["occupation.residents.Total"], row["occupation.residents.Change"]) == (
        "120",
        "-5",
    )  # numbers
    raw = cli(*command("crystalroof", tmp_path, hostile.url, "--raw-values"))
    assert raw.code == 0, raw.err
    row = output_rows(tmp_path / "out.csv")[0]
    assert (row["occupation.residents.link"], row["occupation." + FORMULA]) == (FORMULA, "1")
