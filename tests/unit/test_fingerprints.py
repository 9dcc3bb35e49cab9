"""A lookup's fingerprint: what names its job in every store, so never to change."""

from __future__ import annotations

import hashlib
import json
import random

from bulkfetch.jobs import Lookup


def _documented(lookup: Lookup) -> str:
    canonical = [lookup.api, lookup.origin, lookup.endpoint, lookup.params]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def test_the_fingerprint_is_the_sha256_of_the_standard_library_s_json() -> None:
    """Any text (quotes, backslashes, control and non-ASCII characters, surrogates) and any
    parameters give the fingerprint the standard library's JSON of the lookup gives."""
    rng = random.Random(7)
    alphabet = ["a", "Z", " ", '"', "\\", "\n", "\x00", "\x7f", "é", "\u2028", "😀", "\ud800"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))

    lookups = [
        Lookup.of(text(), text(), text(), {text(): text() for _ in range(rng.randint(0, 3))})
        for _ in range(2000)
    ]
    lookups.append(Lookup("api", "origin", "endpoint", (("n", 1), ("x", None))))  # type: ignore[arg-type]
    for lookup in lookups:
        assert lookup.fingerprint == _documented(lookup)
