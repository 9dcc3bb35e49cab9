"""Synthetic UK postcode files, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

__all__ = ["postcodes", "write_postcode_file"]

_AREAS = ("W", "SW", "N", "E", "M", "B", "LS", "G", "CF", "EH", "BS", "NE", "OX", "L", "S", "NG")
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_DISTRICTS = 20
_SPACE = len(_AREAS) * _DISTRICTS * 10 * len(_UNIT_LETTERS) ** 2  # 5,120,000 postcodes
_STRIDE = 3_164_291  # coprime with _SPACE (odd, not a multiple of 5): i -> i * _STRIDE visits
# every postcode once; near _SPACE times the golden ratio, so neighbours land far apart


def _nth_postcode(index: int) -> str:
    """The index-th postcode of a fixed shuffle of the space: distinct for distinct indexes."""
    n = (index * _STRIDE) % _SPACE
    n, second = divmod(n, len(_UNIT_LETTERS))
    n, first = divmod(n, len(_UNIT_LETTERS))
    n, sector = divmod(n, 10)
    area, district = divmod(n, _DISTRICTS)
    letters = _UNIT_LETTERS[first] + _UNIT_LETTERS[second]
    return f"{_AREAS[area]}{district + 1} {sector}{letters}"


_MALFORMED = ("W6 0", "12345", "QQ1 1QQ1", "hello", "W6-0WW", "SW1A 1A", "ZZ99 9Z")


def postcodes(
    count: int, *, seed: int = 0, repeat_rate: float = 0.0, malformed_rate: float = 0.0
) -> Iterator[str]:
    """``count`` postcodes: distinct ones, repeats of earlier ones spelt differently (lower
    case, no space, extra spaces), and malformed ones, in the proportions asked for."""
    rng = random.Random(seed)
    seen: list[str] = []
    offset = rng.randrange(_SPACE)
    fresh = 0
    for _ in range(count):
        roll = rng.random()
        if roll < malformed_rate:
            yield rng.choice(_MALFORMED)
        elif roll < malformed_rate + repeat_rate and seen:
            original = rng.choice(seen)
            yield rng.choice(
                (original.lower(), original.replace(" ", ""), f"  {original.lower()}  ")
            )
        else:
            code = _nth_postcode(offset + fresh)
            fresh += 1
            # Keep the memory flat on huge files: repeats are drawn from a recent window.
            seen.append(code)
            if len(seen) > 10_000:
                seen.pop(rng.randrange(len(seen)))
            yield code


def write_postcode_file(path: Path, count: int, **options: float) -> Path:
    """A CSV file ``id,postcode,note`` of ``count`` rows (see :func:`postcodes`)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "postcode", "note"])
        seed = int(options.pop("seed", 0))
        for row_no, code in enumerate(postcodes(count, seed=seed, **options)):
            writer.writerow([row_no, code, f"row {row_no}"])
    return path
