"""The pure parts of the trust fixes: regions, codes, column names, reachability, where a
file stops decoding, and the README's list of exceptions."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bulkfetch.apis.labormarket import normalise_cip, normalise_soc, resolve_region
from bulkfetch.engine.reach import Reachability
from bulkfetch.errors import ConnectError, InvalidInputError, MissingColumnError, UsageError
from bulkfetch.io.delimited import CsvSource
from bulkfetch.io.files import check_output
from bulkfetch.io.records import output_names
from tests.unit.clock import FakeClock


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ((None, None), ("national", "")),
        ((None, "6"), ("state", "6")),
        ((None, "06"), ("state", "6")),
        ((None, 6), ("state", "6")),
        ((None, " 41860 "), ("msa", "41860")),
        ((None, "99"), ("national", "")),
        ((None, "CA"), ("state", "6")),
        (("state", " new  york "), ("state", "36")),
        ((None, "California"), ("state", "6")),
        (("state", "06"), ("state", "6")),
        (("msa", "41860"), ("msa", "41860")),
        (("national", None), ("national", "")),
        (("national", "99"), ("national", "")),
    ],
)
def test_a_region_without_its_type_is_what_its_code_must_be(
    given: tuple[str | None, str | int | None], resolved: tuple[str, str]
) -> None:
    """1-2 digits or a postal code or name a state, 5 digits an MSA, 99 or none the nation."""
    assert resolve_region(*given) == resolved


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ((None, "123"), "neither a state FIPS code"),
        ((None, "Narnia"), "a region is a state"),
        (("msa", "CA"), "a state, not a msa region"),
        (("national", "6"), "takes no region code"),
        (("state", None), "needs a region code"),
        (("county", "6"), "must be one of"),
    ],
)
def test_a_region_that_cannot_be_is_refused(
    given: tuple[str | None, str | None], message: str
) -> None:
    """Never answered nationally in silence: a code of no region type is an error."""
    with pytest.raises(InvalidInputError, match=message):
        resolve_region(*given)


def test_codes_as_real_files_hold_them() -> None:
    """O*NET-SOC suffixes, a label, a typographic dash, a spreadsheet float, a decimal comma."""
    for raw in ("15-1252.00", "SOC 15-1252", "soc:15-1252", "15\u20131252", "15-1252.01"):
        assert normalise_soc(raw) == "15-1252", raw
    for raw in ("151252.0", " 151252.00 "):
        assert normalise_soc(raw) == "15-1252", raw
    for raw in ("CIP 11.0701", "cip: 11.0701", "11,0701", "CIP110701"):
        assert normalise_cip(raw) == "11.0701", raw
    for bad in ("15-1252.0", "15-1252.000", "SOCK 15-1252", "15--1252"):
        with pytest.raises(InvalidInputError):
            normalise_soc(bad)
    for bad in ("CIP 11.07", "11.07.01"):
        with pytest.raises(InvalidInputError):
            normalise_cip(bad)


def test_a_blank_code_is_empty_and_other_scripts_digits_are_not_codes() -> None:
    """A blank code is "empty code", as a blank location is "empty location"; digits of
    another script (Arabic-Indic 15-1252) are no SOC or CIP code."""
    for normalise in (normalise_soc, normalise_cip):
        with pytest.raises(InvalidInputError, match=r"^empty code$"):
            normalise("  ")
    with pytest.raises(InvalidInputError):
        normalise_soc("\u0661\u0665-\u0661\u0662\u0665\u0662")
    with pytest.raises(InvalidInputError):
        normalise_cip("\u0661\u0661.\u0660\u0667\u0660\u0661")


def test_added_column_names_never_collide_with_input_ones() -> None:
    """An added column an input column already names gets ``_`` until it is unique."""
    header = ["id", "status", "error", "status_"]
    assert output_names(header, ["status", "error", "data_date"]) == [
        "status__",
        "error_",
        "data_date",
    ]
    assert output_names(["postcode"], ["status", "error"]) == ["status", "error"]


def test_an_output_that_would_destroy_the_input_or_cannot_be_written(tmp_path: Path) -> None:
    """The input itself, a link to it, a folder, a missing folder: refused, input intact."""
    source = tmp_path / "in.csv"
    source.write_text("postcode\nW6 0WW\n")
    (tmp_path / "link.csv").symlink_to(source)
    (tmp_path / "hard.csv").hardlink_to(source)
    for out in (source, tmp_path / "link.csv", tmp_path / "hard.csv", tmp_path / "." / "in.csv"):
        with pytest.raises(UsageError, match="is the input"):
            check_output(out, not_to={"the input": source})
    with pytest.raises(UsageError, match="is a folder"):
        check_output(tmp_path, not_to={"the input": source})
    with pytest.raises(UsageError, match="does not exist"):
        check_output(tmp_path / "nowhere" / "out.csv")
    with pytest.raises(UsageError, match="is not a folder"):
        check_output(source / "out.csv")
    check_output(tmp_path / "out.csv", not_to={"the input": source})
    assert source.read_text() == "postcode\nW6 0WW\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.csv", "in.csv", "link.csv"]


def test_a_decoding_error_names_the_row_and_the_byte(tmp_path: Path) -> None:
    """The first bad bytes by data row (quoted line breaks counted as the reader does) and
    byte offset; the hint names no encoding; ``replace`` reads on."""
    good = ["id,name", *(f'{i},"Zoë\n{i}"' for i in range(1, 3000))]
    path = tmp_path / "in.csv"
    before = "\n".join(good).encode() + b"\n"
    path.write_bytes(before + b'3000,"Caf\xe9"\n3001,x\n')
    with pytest.raises(UsageError) as refused:
        list(CsvSource(path).rows())
    message = str(refused.value)
    assert f"data row 3,000 (byte {len(before) + 9:,})" in message
    assert "--encoding-errors replace" in message
    assert "latin" not in message
    rows = [fields for _, fields in CsvSource(path, errors="replace").rows()]
    assert rows[-2] == ["3000", "Caf\ufffd"]
    assert rows[0] == ["1", "Zoë\n1"]


def test_the_content_hash_changes_with_any_byte(tmp_path: Path) -> None:
    """Same size, same time, one byte different: another content."""
    path = tmp_path / "in.csv"
    path.write_text("postcode\nW6 0WW\n")
    first = CsvSource(path).content_hash()
    seen: list[str] = []
    list(CsvSource(path).rows(on_end=seen.append))
    path.write_text("postcode\nW6 0WX\n")
    assert seen == [first]
    assert CsvSource(path).content_hash() != first


def _refused(port: int) -> ConnectError:
    return ConnectError(f"cannot connect to 127.0.0.1:{port}: refused", host=f"127.0.0.1:{port}")


async def test_no_connection_pauses_everyone_then_one_probe_then_gives_up() -> None:
    """A failure pauses all senders; after the backoff one probe goes alone; the failures
    of requests already on their way count once; five failures in a row give up."""
    clock = FakeClock()
    reach = Reachability(attempts=5, backoff_base=0.5, clock=clock)
    start = clock.now
    reach.failed(_refused(1), sent_at=clock.now)
    reach.failed(_refused(1), sent_at=clock.now - 0.1)  # in flight before: the same failure
    assert reach.paused
    admitted: list[float] = []

    probes: list[bool] = []

    async def sender() -> None:
        probes.append(await reach.admit())
        admitted.append(clock.now)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert len(admitted) == 1  # the probe, after 0.5 s; the others wait for it
        assert admitted[0] == pytest.approx(start + 0.5)
        reach.connected()
    assert len(admitted) == 3
    assert probes == [True, False, False]
    assert not reach.paused

    for _ in range(5):
        await reach.admit()
        reach.failed(_refused(1), sent_at=clock.monotonic())
    assert reach.gave_up is not None
    assert "127.0.0.1:1" in reach.gave_up
    assert "5 tries over 7.5 s" in reach.gave_up
    assert not await reach.admit()  # given up: no more waiting; the run's stop takes over


@pytest.mark.parametrize(
    ("given", "header", "hint"),
    [
        ("Postcode", ["id", "postcode"], "(did you mean 'postcode'?)"),
        ("post code", ["post_code", "id"], "(did you mean 'post_code'?)"),
        ("pc", ["postcode"], None),
        ("POSTCODE", ["postcode", "Postcode"], None),  # two as close: no guess
    ],
)
def test_a_missing_column_a_case_or_a_space_away_is_suggested(
    given: str, header: list[str], hint: str | None
) -> None:
    """One column that differs only in case, spaces, dashes or underscores is named."""
    text = str(MissingColumnError(given, header))
    assert ("did you mean" in text) is (hint is not None)
    assert hint is None or hint in text
