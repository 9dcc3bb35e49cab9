"""Run every benchmark and write benchmarks/RESULTS.md (a section a question).

.venv/bin/pip install -e '.[bench]' && .venv/bin/python -m benchmarks.run_all
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    batching,
    durability,
    enqueue,
    fleet,
    hostile_memory,
    latency,
    output,
    overhead,
    passes,
    rate_fidelity,
    report,
    scale,
    speedups,
    unknown_limit,
    windows,
)
from benchmarks.common import machine

QUESTIONS: list[tuple[str, Callable[[], tuple[str, bool]]]] = [
    ("1. Engine overhead", overhead.measure),
    ("2. Rate fidelity", rate_fidelity.measure),
    ("3. Unknown limit", unknown_limit.measure),
    ("4. Latency", latency.measure),
    ("5. Scale", scale.measure),
    ("6. Labor-market batching", batching.measure),
    ("7. The fast extra", speedups.measure),
    ("8. A fleet with no rate", fleet.measure),
    ("9. Hostile inputs and memory", hostile_memory.measure),
    ("10. Durability", durability.measure),
    ("11. Enqueue", enqueue.measure),
    ("12. Output", output.measure),
    ("13. Several datasets in one pass", passes.measure),
    ("14. The report of a big run", report.measure),
    ("15. Any provider's window", windows.measure),
]


def main() -> int:
    wanted = set(sys.argv[1:])
    sections, missed = [f"Measured {machine()}.\n"], []
    for title, measure in QUESTIONS:
        if wanted and title.split(".")[0] not in wanted:
            continue
        print(f"running {title}...", file=sys.stderr, flush=True)
        text, ok = measure()
        sections.append(f"### {title}\n\n{text}\n")
        print(sections[-1], flush=True)
        if not ok:
            missed.append(title)
    Path(__file__).with_name("RESULTS.md").write_text("\n".join(sections))
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
