"""A run's report (``bulkfetch report``): one self-contained HTML page, nothing loaded from
the network (its charts are SVG drawn here, its style inline, no script): calls and 429s a
second over the run's time against the pace they went out at (the rate set, or learnt),
answer latency, the lookups' states, what it spent and how it stopped, and what it had to
buy beside what it bought. A long run's seconds are drawn in at most ``MAX_BARS`` bars, each
a span of seconds (429s summed, calls a second averaged, the pace the highest): a page of a
million lookups opens as fast as one of a thousand."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bulkfetch.errors import UsageError
from bulkfetch.io.files import atomic_text_file
from bulkfetch.spend import Price
from bulkfetch.store import RunCounts, Second, Store

__all__ = ["MAX_BARS", "RunView", "render", "write_report"]

MAX_BARS = 600
_WIDTH, _HEIGHT = 900, 220


@dataclass(frozen=True, slots=True)
class RunView:
    """A run as its report draws it: its figures and its calls by second."""

    counts: RunCounts
    seconds: list[tuple[int, Second]]


@dataclass(frozen=True, slots=True)
class _Bar:
    start: int  # its first second (UNIX)
    span: int  # seconds it covers
    calls: float  # a second, on average
    rate_limited: int  # in all
    latency: float | None  # mean seconds of its answers
    pace: float | None  # the highest


async def write_report(
    store: Store, run_ids: Sequence[int], out: Path, *, price: Price | None = None
) -> None:
    """Write the report of these runs to ``out`` (a usage error for a run the store lacks;
    ``price``: money beside billed units)."""
    runs = []
    for run_id in run_ids:
        counts = await store.runs.counts(run_id)
        if counts is None:
            raise UsageError(f"the store holds no run {run_id} ('bulkfetch status' lists them)")
        runs.append(RunView(counts, await store.tallies.of(run_id)))
    page = render(runs, price)
    with atomic_text_file(out) as handle:
        handle.write(page)


def render(runs: Sequence[RunView], price: Price | None = None) -> str:
    """The page of these runs (``price``: money beside billed units)."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = "\n".join(_section(run, price) for run in runs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>bulkfetch report</title>
<style>{_STYLE}</style></head>
<body><h1>bulkfetch report</h1><p class="made">made {made}</p>
{body}
</body></html>
"""


def _section(run: RunView, price: Price | None) -> str:
    counts, spend = run.counts, run.counts.spend
    lookups = sum(counts.jobs_by_state.values())

    def units(count: int) -> str:
        return f"{count:,} units" + ("" if price is None else f" ({price.cost(count)})")

    due, cap = max(0, lookups - spend.from_store), counts.max_units

    rows = [
        ("rows", f"{counts.rows:,} ({counts.invalid_rows:,} invalid input, no call)"),
        ("lookups", f"{lookups:,} distinct"),
        ("to buy when it began", units(due)),
        ("billed", f"{units(spend.units)} in {spend.requests:,} requests"),
        ("from the store", f"{spend.from_store:,} (not billed)"),
        ("answered 429", f"{spend.rate_limited:,}; retried {spend.retries:,}"),
        ("connection failures", f"{spend.connect_failures:,} (not calls, not billed)"),
        ("possibly billed twice", units(spend.maybe_billed_twice)),
        ("cap", "none" if cap is None else units(cap)),
        ("stopped", f"{counts.stop_kind}: {counts.stop_reason}" if counts.stop_kind else "no"),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    states = "".join(
        f'<tr><th>{_e(state)}</th><td class="n" data-state="{_e(state)}">{n:,}</td></tr>'
        for state, n in sorted(counts.jobs_by_state.items())
    )
    bars = _bars(run.seconds)
    return f"""<section class="run" id="run-{counts.run_id}" data-run="{counts.run_id}">
<h2>run {counts.run_id}: {_e(counts.description)}</h2>
<div class="cols"><table class="spent">{table}</table>
<table class="states"><caption>lookups by state</caption>{states}</table></div>
<h3>calls and 429s a second, against the pace</h3>
{_calls_chart(bars)}
<h3>answer latency</h3>
{_latency_chart(bars)}
</section>"""


def _bars(seconds: list[tuple[int, Second]]) -> list[_Bar]:
    """The run's seconds as at most MAX_BARS bars over its whole time, empty seconds too."""
    if not seconds:
        return []
    first, last = seconds[0][0], seconds[-1][0]
    span = max(1, math.ceil((last - first + 1) / MAX_BARS))
    grouped: dict[int, list[Second]] = {}
    for at, second in seconds:
        grouped.setdefault((at - first) // span, []).append(second)
    bars = []
    for index in range((last - first) // span + 1):
        found = grouped.get(index, [])
        answered = sum(s.answered for s in found)
        paces = [s.pace for s in found if s.pace is not None]
        start = first + index * span
        seconds_in = min(span, last - start + 1)  # the last bar's may be fewer
        bars.append(
            _Bar(
                start=start,
                span=seconds_in,
                calls=sum(s.calls for s in found) / seconds_in,
                rate_limited=sum(s.rate_limited for s in found),
                latency=sum(s.latency for s in found) / answered if answered else None,
                pace=max(paces) if paces else None,
            )
        )
    return bars


def _calls_chart(bars: list[_Bar]) -> str:
    if not bars:
        return '<p class="none">no calls counted by the second (a run of an older bulkfetch)</p>'
    top = max([b.calls for b in bars] + [b.pace or 0.0 for b in bars] + [1.0])
    width = _WIDTH / len(bars)
    shapes = []
    for i, bar in enumerate(bars):
        x, tall = i * width, bar.calls / top * _HEIGHT
        limited = bar.rate_limited / bar.span / top * _HEIGHT
        shapes.append(
            f'<rect class="calls" x="{x:.2f}" y="{_HEIGHT - tall:.2f}" width="{width:.2f}"'
            f' height="{tall:.2f}" data-second="{bar.start}" data-calls="{bar.calls:g}">'
            f"<title>{_when(bar)}: {bar.calls:g} calls a second</title></rect>"
        )
        if bar.rate_limited:
            shapes.append(
                f'<rect class="rate-limited" x="{x:.2f}" y="{_HEIGHT - limited:.2f}"'
                f' width="{width:.2f}" height="{max(limited, 2.0):.2f}"'
                f' data-second="{bar.start}" data-span="{bar.span}"'
                f' data-rate-limited="{bar.rate_limited}">'
                f"<title>{_when(bar)}: {bar.rate_limited} answered 429</title></rect>"
            )
    pace = _line([(i, b.pace) for i, b in enumerate(bars)], width, top, "pace")
    return _svg("calls", top, "calls a second", "".join(shapes) + pace, bars)


def _latency_chart(bars: list[_Bar]) -> str:
    if not any(bar.latency is not None for bar in bars):
        return '<p class="none">no answer timed</p>'
    top = max(b.latency or 0.0 for b in bars) or 1.0
    width = _WIDTH / len(bars)
    line = _line([(i, b.latency) for i, b in enumerate(bars)], width, top, "latency")
    return _svg("latency", top, "seconds", line, bars)


def _line(points: list[tuple[int, float | None]], width: float, top: float, kind: str) -> str:
    """A polyline through the points that have a value (a gap where none)."""
    runs: list[list[str]] = [[]]
    for i, value in points:
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{(i + 0.5) * width:.2f},{_HEIGHT - value / top * _HEIGHT:.2f}")
    return "".join(f'<polyline class="{kind}" points="{" ".join(run)}"/>' for run in runs if run)


def _svg(kind: str, top: float, unit: str, shapes: str, bars: list[_Bar]) -> str:
    start, end = _clock(bars[0].start), _clock(bars[-1].start + bars[-1].span)
    return (
        f'<svg class="chart {kind}" viewBox="-60 -10 {_WIDTH + 70} {_HEIGHT + 40}"'
        f' role="img" aria-label="{kind}" data-bars="{len(bars)}">'
        f'<text x="-8" y="4" class="axis" text-anchor="end">{top:.3g}</text>'
        f'<text x="-8" y="{_HEIGHT}" class="axis" text-anchor="end">0</text>'
        f'<text x="-56" y="{_HEIGHT / 2}" class="axis">{_e(unit)}</text>'
        f'<line x1="0" y1="{_HEIGHT}" x2="{_WIDTH}" y2="{_HEIGHT}" class="base"/>'
        f"{shapes}"
        f'<text x="0" y="{_HEIGHT + 18}" class="axis">{start}</text>'
        f'<text x="{_WIDTH}" y="{_HEIGHT + 18}" class="axis" text-anchor="end">{end}</text>'
        "</svg>"
    )


def _when(bar: _Bar) -> str:
    return _clock(bar.start) + (f" (+{bar.span} s)" if bar.span > 1 else "")


def _clock(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%H:%M:%S")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h2{font-size:1.2em;border-bottom:1px solid #ccc}.made{color:#777}
.cols{display:flex;gap:3em;flex-wrap:wrap;align-items:flex-start}table{border-collapse:collapse}
th{text-align:left;padding:2px 1em 2px 0;font-weight:600}td{padding:2px 0}
svg.chart{width:100%;max-width:980px;height:auto}rect.calls{fill:#9bb7d4}
rect.rate-limited{fill:#d62728}polyline{fill:none;stroke-width:2}
polyline.pace{stroke:#1f3a93;stroke-dasharray:6 3}polyline.latency{stroke:#2ca02c}
.axis{font-size:11px;fill:#555}.base{stroke:#999}.none{color:#777}"""
