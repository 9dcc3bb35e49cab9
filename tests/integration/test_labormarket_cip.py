"""CIP codes in bulk against the real Labor Market emulator: one code a request until an
answer shows occupations name their CIP codes, then 25 a request."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bulkfetch import LaborMarket, fetch_many
from bulkfetch.apis.labormarket.emulated_data import crosswalk
from bulkfetch.http import Answer
from bulkfetch.jobs import Lookup
from tests.conftest import PLATFORM_KEY, Emulator, StartEmulator

BY_CIP = "/v1/labor-market-intelligence/by-cip"
# Twelve programs the emulator's crosswalk leads somewhere (so the first answer teaches);
# some share an occupation, which an answer for them all must give to each.
CODES = [f"11.{n:04d}" for n in (701, 101, 102, 103, 199, 901, 202, 203, 299, 301, 401, 501)]


class Counting(LaborMarket):
    """A client that keeps how many codes each request it sends carries."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sizes: list[int] = []

    async def _send(self, lookups: Sequence[Lookup]) -> Answer:
        self.sizes.append(len(lookups))
        return await super()._send(lookups)


async def fetched(emulator: Emulator, db: Path) -> tuple[Counting, dict[str, set[str]]]:
    """The twelve codes by CIP in bulk: the client, and each code's occupations."""
    async with Counting(PLATFORM_KEY, base_url=emulator.url) as api:
        items = [item async for item in fetch_many(api.by_cip, CODES, db=db)]
    assert [item.input for item in items] == CODES
    assert {item.status for item in items} == {"ok"}
    return api, {
        item.input: {o.soc_code for o in item.result.occupations}
        for item in items
        if item.result is not None
    }


async def test_twelve_attributed_cip_codes_take_a_probe_and_one_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Attributed answers: 1 probe and 1 request of 11; each code its own occupations."""
    api, occupations = await fetched(emulator, tmp_path / "s.db")
    assert api.sizes == [1, 11]
    assert api.cip_attribution is True
    assert api.notices == ()
    assert occupations == {code: set(crosswalk(code)) for code in CODES}
    ledger = emulator.ledger()
    assert ledger["by_path"][BY_CIP] == 2
    assert (ledger["billed_total"], ledger["billed_twice"]) == (12, 0)


async def test_twelve_unattributed_cip_codes_take_twelve_requests(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Answers that do not name their codes: 12 requests of one, a notice, rows right."""
    emulator = start_emulator("--no-cip-attribution")
    api, occupations = await fetched(emulator, tmp_path / "s.db")
    assert api.sizes == [1] * 12
    assert api.cip_attribution is False
    assert len(api.notices) == 1
    assert occupations == {code: set(crosswalk(code)) for code in CODES}
    ledger = emulator.ledger()
    assert ledger["by_path"][BY_CIP] == 12
    assert (ledger["billed_total"], ledger["billed_twice"]) == (12, 0)
