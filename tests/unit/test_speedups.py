"""The fast extra changes speed, never results."""

from __future__ import annotations

import json

import anyio
import anyio.lowlevel

from bulkfetch import speedups


def test_the_json_decoder_reads_what_the_standard_one_reads() -> None:
    """orjson (when installed) and json agree on an answer's text, accents and all."""
    text = '{"data": {"name": "Île-de-France", "n": 12, "x": 1.5, "ok": true, "none": null}}'
    assert speedups.loads(text) == json.loads(text)


def test_run_gives_the_coroutine_s_result() -> None:
    """The event loop (uvloop when installed) runs a job to its value."""

    async def job(value: int) -> int:
        await anyio.lowlevel.checkpoint()
        return value * 2

    assert speedups.run(job, 21) == 42
