"""Q7, the ``fast`` extra: what uvloop (the event loop) and orjson (JSON decoding) save.

Wall-clock rates on this shared machine swing by a quarter from one run to the next, far
more than either can save, so this counts instructions instead: ``valgrind --tool=callgrind``
counts the same total for the same run whatever else the machine does. Each configuration
runs ``enrich`` in a child process (the emulator apart, not counted) over 1 lookup and over
``lookups``: the difference, divided, is the instructions a lookup costs, start-up left out.
Target: keep an extra only if it saves instructions a lookup.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

from benchmarks.common import KEY, Emulator, table
from bulkfetch import CrystalRoof, enrich, speedups
from bulkfetch.samples import write_postcode_file

CONFIGS = (("asyncio", "json"), ("asyncio", "orjson"), ("uvloop", "orjson"))


def _child(loop: str, decoder: str, url: str, lookups: int) -> None:
    """One enrich in this process, on ``loop`` with ``decoder`` (what callgrind counts)."""
    if decoder == "json":
        speedups._loads = json.loads  # what speedups.loads (the hot paths') calls: the stdlib's
    workdir = Path(tempfile.mkdtemp())
    source = write_postcode_file(workdir / "in.csv", lookups, seed=3)

    async def job() -> None:
        async with CrystalRoof(KEY, base_url=url) as api:
            await enrich(api, source, column="postcode", out=workdir / "o.csv", db=workdir / "s.db")

    anyio.run(job, backend_options={"use_uvloop": loop == "uvloop"})
    shutil.rmtree(workdir)


def _instructions(loop: str, decoder: str, url: str, lookups: int) -> int:
    done = subprocess.run(
        [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, "-m", "benchmarks.speedups", "--child", loop, decoder, url,
            str(lookups),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found is not None, done.stderr
    return int(found.group(1))


def measure(lookups: int = 1000) -> tuple[str, bool]:
    if shutil.which("valgrind") is None:
        return "valgrind is not installed: not measured.", False
    try:
        import orjson  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return "the fast extra is not installed (pip install -e '.[fast]'): not measured.", False
    with Emulator() as emulator:
        per_lookup = {
            config: (
                _instructions(*config, emulator.url, lookups)
                - _instructions(*config, emulator.url, 1)
            )
            / (lookups - 1)
            for config in CONFIGS
        }
    base = per_lookup[CONFIGS[0]]
    rows = [
        (f"{loop} + {decoder}", f"{count / 1e6:.3f} M", f"{count / base:.3f}")
        for (loop, decoder), count in per_lookup.items()
    ]
    text = table(("event loop + JSON", "instructions a lookup", "of the standard library's"), rows)
    kept = all(b < a for a, b in itertools.pairwise(per_lookup.values()))
    verdict = "each step saves instructions: kept" if kept else "a step costs more: drop it"
    return f"{text}\n\n{lookups} lookups, enrich in process, callgrind. {verdict}.", kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("LOOP", "JSON", "URL", "LOOKUPS"))
    args = parser.parse_args()
    if args.child:
        loop, decoder, url, lookups = args.child
        _child(loop, decoder, url, int(lookups))
        return
    print(measure()[0])


if __name__ == "__main__":
    main()
