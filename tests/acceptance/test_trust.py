"""What a paying user must never meet: answers for the wrong region or row, an overwritten
input, phantom calls to an API nobody reached, reasons kept out of the CSV. The real CLI
against the real emulator: in this process, or in a process of its own where the run must
go on while the test changes the world around it."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

import bulkfetch
from bulkfetch import CrystalRoof, LaborMarket, UsageError
from bulkfetch.io.delimited import CsvSource
from bulkfetch.samples import write_postcode_file
from tests.conftest import (
    KEY,
    PLATFORM_KEY,
    Emulator,
    StartEmulator,
    bulkfetch_command,
    cli_env,
    run_cli,
)
from tests.waiting import wait_until


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def enrich(
    url: str, source: Path, out: Path, db: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "enrich", source, "--column", "postcode", "--out", out, "--db", db, "--base-url", url,
        *extra,
    )  # fmt: skip


def lmi(
    emulator: Emulator, source: Path, out: Path, db: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "labor-market", source, "--column", "code", "--out", out, "--db", db,
        "--base-url", emulator.url, *extra,
    )  # fmt: skip


def store_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("s.db"))


# -- 1. regions -----------------------------------------------------------------------


def test_a_state_code_without_its_type_is_answered_for_that_state(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--region 06 alone is California: billed and answered as state 6, which the CSV and
    JSON Lines say on every row; a code of no region type is refused before any call."""
    source = tmp_path / "soc.csv"
    source.write_text("code\n15-1252\n29-1141\n")
    result = lmi(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--by", "soc",
                 "--region", "06")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(emulator.ledger()["billed"]) == {"soc|15-1252|state|6", "soc|29-1141|state|6"}
    assert {(r["regionType"], r["region"]) for r in read_csv(tmp_path / "o.csv")} == {
        ("state", "6")
    }
    jsonl = lmi(emulator, source, tmp_path / "o.jsonl", tmp_path / "s.db", "--by", "soc",
                "--region", "6", "--format", "jsonl")  # fmt: skip
    assert jsonl.returncode == 0, jsonl.stderr
    lines = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert {(line["regionType"], line["region"]) for line in lines} == {("state", "6")}

    for refused in (["--region", "123"], ["--region-type", "national", "--region", "6"]):
        other = tmp_path / "other"
        other.mkdir(exist_ok=True)
        before = emulator.ledger()["requests"]
        result = lmi(emulator, source, other / "o.csv", other / "s.db", "--by", "soc", *refused)
        assert result.returncode == 2, result.stderr
        assert "region" in result.stderr
        assert emulator.ledger()["requests"] == before
        assert list(other.iterdir()) == []


async def test_the_library_answers_a_state_code_for_that_state(emulator: Emulator) -> None:
    """``by_soc(..., region="6")`` is a state query, as the CLI's."""
    async with LaborMarket(PLATFORM_KEY, base_url=emulator.url) as api:
        result = await api.by_soc(["15-1252"], region="06")
    assert (result.region_type, result.region) == ("state", "6")
    assert list(emulator.ledger()["billed"]) == ["soc|15-1252|state|6"]


# -- 2, 3. the output, checked before anything ------------------------------------------


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The same path, a hard link, a symbolic link: exit 2 before the store is opened; the
    input byte-identical, no store file, no call."""
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=1)
    original = source.read_bytes()
    (tmp_path / "hard.csv").hardlink_to(source)
    (tmp_path / "soft.csv").symlink_to(source)
    for out in (source, tmp_path / "hard.csv", tmp_path / "soft.csv"):
        result = enrich(emulator.url, source, out, tmp_path / "s.db")
        assert result.returncode == 2, result.stderr
        assert "is the input" in result.stderr
    assert source.read_bytes() == original
    assert store_files(tmp_path) == []
    assert emulator.ledger()["requests"] == 0


def test_an_output_that_cannot_be_written_is_refused_before_any_call(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A folder, a missing folder, a path under a file, the store itself; and a missing
    column: exit 2 naming it, no call, no store file left."""
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=2)
    (tmp_path / "blocker").write_text("a file, not a folder")
    for out, said in (
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "o.csv", "does not exist"),
        (tmp_path / "blocker" / "o.csv", "is not a folder"),
        (tmp_path / "s.db", "is the store"),
    ):
        result = enrich(emulator.url, source, out, tmp_path / "s.db")
        assert result.returncode == 2, result.stderr
        assert said in result.stderr
    missing = run_cli(
        "enrich", source, "--column", "post", "--out", tmp_path / "o.csv",
        "--db", tmp_path / "s.db", "--base-url", emulator.url,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no column 'post'" in missing.stderr
    assert emulator.ledger()["requests"] == 0
    assert store_files(tmp_path) == []


# -- 4. an API nobody reaches -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "said", "tries"),
    [
        ("http://127.0.0.1:{free}", "Connection refused", "5"),  # the default tries
        ("http://no-such-host.invalid", "unknown host", "2"),
        ("https://{emulator}", "TLS failure", "2"),  # TLS spoken to a plain HTTP server
    ],
)
def test_an_api_nobody_can_reach_stops_the_run_at_once_and_costs_nothing(
    emulator: Emulator, tmp_path: Path, url: str, said: str, tries: str
) -> None:
    """Refused, unknown host, TLS failure: exit 6 after the run's tries (not five retries a
    lookup), naming the host and never the key; 0 calls; every row still to do; status
    counts the failed connections apart from calls."""
    url = url.replace("{emulator}", emulator.url.removeprefix("http://"))
    url = url.replace("{free}", str(free_port()))
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=3)
    result = enrich(url, source, tmp_path / "o.csv", tmp_path / "s.db", "--max-attempts", tries)
    assert result.returncode == 6, result.stderr
    host = url.split("//")[1]
    assert f"cannot connect to {host if ':' in host else host + ':80'}" in result.stderr
    assert said in result.stderr
    assert KEY not in result.stderr + result.stdout
    assert f"{tries} tries over" in result.stderr  # the run's, not five a lookup's
    assert "spent now: 0 billed lookups in 0 requests" in result.stderr
    assert {r["status"] for r in read_csv(tmp_path / "o.csv")} == {"pending"}
    assert emulator.ledger()["requests"] == 0
    status = run_cli("status", "--db", tmp_path / "s.db").stdout
    assert "billed: 0 lookups in 0 requests" in status
    assert "answered 429: 0; retried: 0" in status
    failures = int(status.split("connection failures (not calls, not billed): ")[1].split()[0])
    assert int(tries) <= failures <= int(tries) * 16
    assert "lookups: 200 pending" in status


def _start_at(start_emulator: StartEmulator, port: int) -> Emulator:
    return start_emulator("--port", str(port), "--rate-limit", "60")


def _stop(emulator: Emulator) -> None:
    emulator.stop()


def _run_against(port: int, source: Path, tmp_path: Path) -> subprocess.Popen[str]:
    """``enrich`` at 60 calls a second against the emulator at ``port``, in the background."""
    command = bulkfetch_command(
        "enrich", source, "--column", "postcode", "--out", tmp_path / "o.csv",
        "--db", tmp_path / "s.db", "--base-url", f"http://127.0.0.1:{port}", "--rate", "60",
    )  # fmt: skip
    return subprocess.Popen(command, env=cli_env(), stderr=subprocess.PIPE, text=True)


def _wait_for(emulator: Emulator, billed: int) -> None:
    wait_until(lambda: emulator.ledger()["billed_total"] >= billed, what=f"{billed} billed")


def _connect_failures(db: Path) -> int:
    """The connection failures the run has stored so far (0 before its first)."""
    found = json.loads(run_cli("status", "--db", db, "--json").stdout or '{"runs": []}')
    return sum(run["spent"]["connect_failures"] for run in found["runs"])


@pytest.mark.slow
def test_an_api_that_comes_back_within_the_retries_loses_nothing(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """The emulator gone for 2 s mid-run: the run waits, carries on, exits 0; every row is
    final, none failed; the output is a clean run's."""
    port = free_port()
    source = write_postcode_file(tmp_path / "in.csv", 250, seed=4)
    clean = start_emulator()
    assert enrich(clean.url, source, tmp_path / "clean.csv", tmp_path / "c.db").returncode == 0

    first = _start_at(start_emulator, port)
    run = _run_against(port, source, tmp_path)
    _wait_for(first, 60)
    _stop(first)
    # The outage lasts until the run has met it twice: it must wait, and carry on.
    wait_until(lambda: _connect_failures(tmp_path / "s.db") >= 2, what="connections refused")
    _start_at(start_emulator, port)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert (tmp_path / "o.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()
    status = run_cli("status", "--db", tmp_path / "s.db").stdout
    assert "connection failures (not calls, not billed): 0" not in status


@pytest.mark.slow
def test_an_api_gone_longer_than_the_retries_stops_the_run_with_nothing_lost(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """The emulator gone for good mid-run: exit 6 naming the host; the rows not answered
    are pending, none failed; back again, the same command finishes, nothing billed twice."""
    port = free_port()
    source = write_postcode_file(tmp_path / "in.csv", 250, seed=5)
    first = _start_at(start_emulator, port)
    run = _run_against(port, source, tmp_path)
    _wait_for(first, 60)
    billed = first.ledger()["billed"]
    _stop(first)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 6, stderr
    assert f"cannot connect to 127.0.0.1:{port}" in stderr
    statuses = {r["status"] for r in read_csv(tmp_path / "o.csv")}
    assert "pending" in statuses
    assert "failed" not in statuses

    second = _start_at(start_emulator, port)
    again = enrich(second.url, source, tmp_path / "o.csv", tmp_path / "s.db", "--rate", "60")
    assert again.returncode == 0, again.stderr
    assert not set(billed) & set(second.ledger()["billed"])


# -- 5. reasons in the CSV, and names that never collide ----------------------------------


def test_the_csv_says_why_a_row_is_not_ok(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """``error`` after ``status``: empty for ok, the reason otherwise; input columns named
    status or error keep their names and the added ones get ``_``."""
    emulator = start_emulator("--not-found-rate", "0.5", "--seed", "1")
    source = tmp_path / "in.csv"
    rows = ["status,postcode,error", *(f"mine{i},{p},e{i}" for i, p in enumerate(
        ["W6 0WW", "nope", "SW1A 1AA", "N1 9GU", "E1 6AN", "M1 1AE"]))]  # fmt: skip
    source.write_text("\n".join(rows) + "\n")
    result = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "o.csv", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header[:6] == ["status", "postcode", "error", "lookup", "status_", "error_"]
    out = read_csv(tmp_path / "o.csv")
    assert [r["status"] for r in out] == [f"mine{i}" for i in range(6)]
    reasons: dict[str, set[str]] = {r["status_"]: set() for r in out}
    for row in out:
        reasons[row["status_"]].add(row["error_"].split(" (HTTP")[0])
    assert reasons["ok"] == {""}
    assert reasons["invalid"] == {"not a UK postcode, lat,long or uprn: 'nope'"}
    assert reasons["not_found"] == {"Can't find such location."}

    failing = start_emulator("--fail-rate", "1")
    failed = enrich(failing.url, source, tmp_path / "f.csv", tmp_path / "f.db",
                    "--max-attempts", "2")  # fmt: skip
    assert failed.returncode == 1
    errors = {r["error_"] for r in read_csv(tmp_path / "f.csv") if r["status_"] == "failed"}
    assert errors == {
        "We have already started working on a resolution! (HTTP 500 "
        f"/customer-api/work-and-travel/occupation/postcode/v1/{code})"
        for code in ("W60WW", "SW1A1AA", "N19GU", "E16AN", "M11AE")
    }


def test_a_cip_codes_warning_stays_on_its_not_found_row(emulator: Emulator, tmp_path: Path) -> None:
    """CIP 99.9999: not_found, with the API's INVALID_CIP_CODE warning in its row."""
    source = tmp_path / "cip.csv"
    source.write_text("code\n11.0701\n99.9999\n")
    result = lmi(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--by", "cip")
    assert result.returncode == 0, result.stderr
    (unknown,) = [r for r in read_csv(tmp_path / "o.csv") if r["code"] == "99.9999"]
    assert unknown["status"] == "not_found"
    assert unknown["warnings"] == "INVALID_CIP_CODE: 99.9999 is not a CIP 2020 code"
    assert unknown["error"] == "INVALID_CIP_CODE: 99.9999 is not a CIP 2020 code"
    assert (unknown["regionType"], unknown["region"]) == ("national", "99")


# -- 7. codes as files hold them ----------------------------------------------------------


def test_onet_and_labelled_soc_codes_are_the_soc_code(emulator: Emulator, tmp_path: Path) -> None:
    """``15-1252.00``, ``SOC 15-1252`` and ``15-1252``: one code, one billed lookup."""
    source = tmp_path / "soc.csv"
    source.write_text("code\n15-1252.00\nSOC 15-1252\n15-1252\n")
    result = lmi(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--by", "soc")
    assert result.returncode == 0, result.stderr
    assert {r["status"] for r in read_csv(tmp_path / "o.csv")} == {"ok"}
    assert {r["socCode"] for r in read_csv(tmp_path / "o.csv")} == {"15-1252"}
    assert emulator.ledger()["billed"] == {"soc|15-1252|national|99": 1}


# -- 8. an input that changes under a run --------------------------------------------------


def _run_while(
    emulator: Emulator, source: Path, tmp_path: Path, edit: str
) -> subprocess.CompletedProcess[str]:
    """Start a run at 100 calls a second; after 150 are billed, ``edit`` the input."""
    command = bulkfetch_command(
        "enrich", source, "--column", "postcode", "--out", tmp_path / "o.csv",
        "--db", tmp_path / "s.db", "--base-url", emulator.url, "--rate", "100",
    )  # fmt: skip
    run = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for(emulator, 150)
    lines = source.read_text().splitlines(keepends=True)
    if edit == "delete":
        del lines[5]
    else:
        lines[5] = lines[5].replace(",row 4", ",row four")
    source.write_text("".join(lines))
    stdout, stderr = run.communicate(timeout=120)
    return subprocess.CompletedProcess(command, run.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize("edit", ["delete", "value"])
def test_an_input_edited_mid_run_gives_no_wrong_row(
    start_emulator: StartEmulator, tmp_path: Path, edit: str
) -> None:
    """A line deleted (or a value edited) while the run works: exit 2, no output written,
    nothing in the store lost; the same command then runs the file as it is now, pays only
    for what is new, and writes what a clean run over it writes."""
    emulator = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 500, seed=6)
    result = _run_while(emulator, source, tmp_path, edit)
    assert result.returncode == 2, result.stderr
    assert "changed while run 1 worked on it" in result.stderr
    assert not (tmp_path / "o.csv").exists()

    again = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert again.returncode == 0, again.stderr
    assert "changed since run 1 was enqueued from it: this is a new run, 2" in again.stderr
    assert emulator.ledger()["billed_twice"] == 0
    clean = start_emulator()
    reference = enrich(clean.url, source, tmp_path / "clean.csv", tmp_path / "c.db")
    assert reference.returncode == 0
    assert (tmp_path / "o.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()


@pytest.mark.slow
def test_an_input_edited_between_runs_keeping_size_and_time_is_a_new_run(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Interrupted (quota), then one postcode replaced by another of the same length and
    the time put back: the content tells; a new run, said so, and its output is a clean
    run's over the new content."""
    emulator = start_emulator("--quota", "100")
    source = write_postcode_file(tmp_path / "in.csv", 300, seed=7)
    stopped = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert stopped.returncode == 3, stopped.stderr
    stat = source.stat()
    text = source.read_text()
    first = read_csv(source)[0]["postcode"]
    swapped = first[:-2] + ("AB" if first[-2:] != "AB" else "BA")
    source.write_text(text.replace(f",{first},", f",{swapped},", 1))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size

    emulator.configure(quota=None)
    again = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert again.returncode == 0, again.stderr
    assert "this is a new run, 2" in again.stderr
    assert read_csv(tmp_path / "o.csv")[0]["postcode"] == swapped
    clean = start_emulator()
    assert enrich(clean.url, source, tmp_path / "c.csv", tmp_path / "c.db").returncode == 0
    assert (tmp_path / "o.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    assert emulator.ledger()["billed_twice"] == 0


@pytest.mark.slow
async def test_a_file_that_changes_while_it_is_read_is_refused(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten between its content hash and the end of its reading: refused before any
    call, the half-read run never resumed; the next run over it is a new one."""
    source = write_postcode_file(tmp_path / "in.csv", 5000, seed=10)
    other = write_postcode_file(tmp_path / "other.csv", 5, seed=11)
    hashed = CsvSource.content_hash

    def hash_then_edit(self: CsvSource) -> str:
        found = hashed(self)
        monkeypatch.setattr(CsvSource, "content_hash", hashed)
        source.write_text(source.read_text().replace(",row 4999", ",row last"))
        return found

    out, db = tmp_path / "o.csv", tmp_path / "s.db"
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        await bulkfetch.enrich(api, other, column="postcode", out=out, db=db)  # run 1
        calls = emulator.ledger()["requests"]
        monkeypatch.setattr(CsvSource, "content_hash", hash_then_edit)
        with pytest.raises(UsageError, match="changed while it was being read"):
            await bulkfetch.enrich(api, source, column="postcode", out=out, db=db)  # run 2
        assert emulator.ledger()["requests"] == calls
        report = await bulkfetch.enrich(api, source, column="postcode", out=out, db=db)
    assert report.complete
    assert report.run_id == 3
    assert "changed since run 2 was enqueued from it: this is a new run, 3" in report.notices[0]
    assert read_csv(out)[-1]["note"] == "row last"


# -- 9. decoding, part files, pipes -----------------------------------------------------


def test_bad_bytes_are_found_by_row_and_byte_and_can_be_replaced(
    emulator: Emulator, tmp_path: Path
) -> None:
    """One bad byte in row 15,000 of 20,000 (UTF-8 elsewhere): exit 2 naming row and byte,
    no store left; with --encoding-errors replace: every row, the good text intact."""
    source = tmp_path / "in.csv"
    rows = [f"{i},W6 0WW,Zoë {i}" for i in range(20_000)]
    head = ("id,postcode,name\n" + "".join(f"{r}\n" for r in rows[:14_999])).encode()
    source.write_bytes(
        head + b"14999,W6 0WW,Caf\xe9\n" + "".join(f"{r}\n" for r in rows[15_000:]).encode()
    )
    refused = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert refused.returncode == 2
    assert f"data row 15,000 (byte {len(head) + 16:,})" in refused.stderr
    assert "--encoding-errors replace" in refused.stderr
    assert store_files(tmp_path) == []
    replaced = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db",
                      "--encoding-errors", "replace")  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    out = read_csv(tmp_path / "o.csv")
    assert len(out) == 20_000
    assert out[14_999]["name"] == "Caf\ufffd"
    assert out[15_000]["name"] == "Zoë 15000"


def test_a_killed_writers_part_file_is_removed_by_the_next_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A ``.part`` file left by a writer that died goes; one of a live process stays."""
    source = write_postcode_file(tmp_path / "in.csv", 10, seed=8)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".o.csv.{dead.pid}.x1y2z3.part"
    stale.write_text("half a file")
    live = tmp_path / f".o.csv.{os.getpid()}.a1b2c3.part"
    live.write_text("being written")
    result = enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert live.exists()


@pytest.mark.slow
def test_output_to_a_closed_pipe_ends_quietly(emulator: Emulator, tmp_path: Path) -> None:
    """``bulkfetch status | head -1``: no traceback."""
    source = write_postcode_file(tmp_path / "in.csv", 10, seed=9)
    assert enrich(emulator.url, source, tmp_path / "o.csv", tmp_path / "s.db").returncode == 0
    status = subprocess.Popen(
        bulkfetch_command("status", "--db", tmp_path / "s.db"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert status.stdout is not None
    status.stdout.close()
    _, stderr = status.communicate(timeout=60)
    assert stderr == b""
    assert status.returncode == 141
