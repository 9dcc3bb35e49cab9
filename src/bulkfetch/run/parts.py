"""The runs of a pass as its output writes them: each a :class:`Part`, named as its columns
are (one rule alone or side by side: see :mod:`bulkfetch.run.output`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bulkfetch.adapter import Answers
from bulkfetch.store.records import RunDetail

__all__ = ["Part", "named_parts", "template_of"]


@dataclass(frozen=True, slots=True)
class Part:
    """One run of a pass: the name its columns carry (None: as its writer names it, see
    :class:`~bulkfetch.adapter.Answers`), its id, and its writer."""

    name: str | None
    run_id: int
    answers: Answers


def template_of(detail: RunDetail | None) -> dict[str, str]:
    """What a run's lookups share (its endpoint and options), as the store keeps it."""
    return json.loads(detail.options) if detail is not None and detail.options else {}


def named_parts(parts: Sequence[Part], templates: Sequence[Mapping[str, str]]) -> list[Part]:
    """The parts, each with the name its columns carry: its own, or its writer's for it."""
    if all(part.name is not None for part in parts):
        return list(parts)
    names_of = getattr(parts[0].answers, "part_names", None)
    if names_of is not None:
        names = list(names_of(templates))
    elif len(parts) == 1:
        names = [""]
    else:  # side by side, by their endpoints' last names: ``occupations``, ``occupations-2``
        last = [t.get("endpoint", "").rstrip("/").rsplit("/", 1)[-1] or "run" for t in templates]
        names = [
            n if n not in last[:i] else f"{n}-{last[:i].count(n) + 1}" for i, n in enumerate(last)
        ]
    return [
        Part(part.name if part.name is not None else name, part.run_id, part.answers)
        for part, name in zip(parts, names, strict=True)
    ]
