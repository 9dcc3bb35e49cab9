"""The emulator's windows and one-way latency, as ``bulkfetch emulate`` sets them, asked over
HTTP on loopback."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from tests.conftest import KEY, Emulator, StartEmulator

PATH = "/customer-api/work-and-travel/occupation/postcode/v1/W60WW?area_type=oa&api_key="


def ask(emulator: Emulator) -> tuple[int, dict[str, str]]:
    """One lookup: its status and headers."""
    try:
        with urllib.request.urlopen(emulator.url + PATH + KEY, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers)


def test_a_minute_refuses_past_sixty_times_the_limit_and_says_when(
    start_emulator: StartEmulator,
) -> None:
    """At 2 a second counted by the minute (its minutes starting a second ago): 120 calls
    through (however fast), then 429 with a Retry-After of the minute's rest."""
    began = f"{(time.time() - 1) % 60:.3f}"
    emulator = start_emulator(
        "--rate-limit", "2", "--window", "minute", "--window-offset", began,
        "--not-found-rate", "0",
    )  # fmt: skip
    statuses = [ask(emulator)[0] for _ in range(120)]
    status, headers = ask(emulator)
    assert statuses == [200] * 120
    assert status == 429
    assert 30 <= int(headers["Retry-After"]) <= 59


def test_a_bucket_lets_its_burst_through_then_refuses(start_emulator: StartEmulator) -> None:
    """One a second with a burst of three: three at once, the fourth refused, with no
    Retry-After (a second's windows do not say one)."""
    emulator = start_emulator("--rate-limit", "1", "--window", "bucket", "--burst", "3")
    answers = [ask(emulator) for _ in range(4)]
    assert [status for status, _ in answers] == [200, 200, 200, 429]
    assert "Retry-After" not in answers[3][1]


def test_a_sliding_second_refuses_the_call_past_the_limit(start_emulator: StartEmulator) -> None:
    """Two in any second: a third within a second of the first is refused, whatever the
    wall clock's second (tried again after a pause if the machine was too slow for that)."""
    emulator = start_emulator("--rate-limit", "2", "--window", "sliding", "--not-found-rate", "0")
    for _ in range(3):
        began = time.monotonic()
        statuses = [ask(emulator)[0] for _ in range(3)]
        if time.monotonic() - began < 0.9:
            break
        time.sleep(1.1)
    assert statuses == [200, 200, 429]


def test_the_one_way_latency_delays_every_call(start_emulator: StartEmulator) -> None:
    """0.2 s on the way in: each lookup takes that long at least."""
    emulator = start_emulator("--one-way-latency", "0.2")
    began = time.monotonic()
    assert ask(emulator)[0] in (200, 404)
    assert time.monotonic() - began >= 0.2
