"""The CrystalRoof datasets known from the provider's pages: each one's path, the short name
its output columns carry, which area types it takes, and what else it needs.

What is known is little (see the project's API notes): the paths and three facts (income
takes no area type and answers a flat body; monthly crimes take a ``month``; postcode
details and flood risk have no ``/postcode/`` segment). Everything else here is a
guess kept in one place: a dataset whose guess is wrong is one line to change, and a
dataset outside the catalogue is still asked for by its path and options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bulkfetch.errors import UsageError

__all__ = [
    "AREA_TYPES",
    "CATALOGUE",
    "NO_SEGMENT",
    "OCCUPATION_GROUPS",
    "Dataset",
    "DatasetChoice",
    "choose",
    "find",
    "parse_choice",
    "part_names",
]

AREA_TYPES = ("oa", "lsoa", "msoa", "lad", "region", "country")
# The occupation answer's groups, as its documentation's example names them (SOC 2020's
# major groups): ``residents`` has each and their ``Total``, ``rank`` each.
OCCUPATION_GROUPS = (
    "1. Managers, directors and senior officials",
    "2. Professional occupations",
    "3. Associate professional and technical occupations",
    "4. Administrative and secretarial occupations",
    "5. Skilled trades occupations",
    "6. Caring, leisure and other service occupations",
    "7. Sales and customer service occupations",
    "8. Process, plant and machine operatives",
    "9. Elementary occupations",
)


@dataclass(frozen=True, slots=True)
class Dataset:
    """One dataset: ``GET /customer-api/<path>/postcode/v1/<location>`` (or without
    ``postcode/``), with the area types it takes (none: it is never sent one)."""

    path: str  # <category>/<method>
    short: str  # what its output columns are prefixed with
    area_types: tuple[str, ...] = AREA_TYPES
    needs: tuple[str, ...] = ()  # parameters it cannot do without (``month``)
    postcode_segment: bool = True
    about: str = ""
    # What one answer keeps in the store, typically (its body and its column list, in
    # characters): for --plan's disk before the store holds any. A guess from the
    # emulator's answers, which take the shapes the provider documents.
    answer_chars: int = 500
    # The output columns its answers fill, in their order, where the provider documents
    # its answer (known before any answer: an output stopped early has them too).
    columns: tuple[str, ...] = ()

    @property
    def default_area_type(self) -> str | None:
        return "oa" if "oa" in self.area_types else (self.area_types or (None,))[0]


CATALOGUE: tuple[Dataset, ...] = (
    Dataset(
        "work-and-travel/occupation",
        "occupation",
        about="Census 2021 occupation (SOC 2020)",
        answer_chars=1860,
        columns=(
            "residents.Total",
            *(f"residents.{group}" for group in OCCUPATION_GROUPS),
            *(f"rank.{group}" for group in OCCUPATION_GROUPS),
        ),
    ),
    Dataset(
        "work-and-travel/ns-sec-occupation-types-affluence",
        "affluence",
        about="NS-SEC occupation types",
    ),
    Dataset("demographics-and-migration/population-density", "population-density"),
    Dataset("demographics-and-migration/sex", "sex"),
    Dataset("demographics-and-migration/country-of-birth", "country-of-birth"),
    Dataset("demographics-and-migration/age-by-five-year-age-bands", "age"),
    Dataset("demographics-and-migration/migrant-indicator", "migrant-indicator"),
    Dataset("ethnicity-language-and-religion/main-language-detailed", "main-language"),
    Dataset("ethnicity-language-and-religion/national-identity-detailed", "national-identity"),
    Dataset(
        "income/mean-household-income",
        "income",
        area_types=(),
        about="mean household income and its rank (a flat body)",
        answer_chars=190,
        columns=("totalMeanAnnualIncome", "totalMeanAnnualIncomeRank"),
    ),
    Dataset(
        "crime/monthly-crimes",
        "crime",
        area_types=(),
        needs=("month",),
        about="crimes in a month (month=YYYY-MM)",
        answer_chars=280,
    ),
    Dataset(
        "geography/postcode-details",
        "postcode-details",
        area_types=(),
        postcode_segment=False,
        about="the postcode's geography",
        answer_chars=190,
    ),
    Dataset(
        "environment/flood-risk",
        "flood-risk",
        area_types=(),
        postcode_segment=False,
        about="flood risk",
        answer_chars=150,
    ),
)

_BY_NAME = {name: d for d in CATALOGUE for name in (d.path, d.short)}
_RESERVED = frozenset({"location", "api_key"})  # what a lookup sends of its own
# A dataset outside the catalogue whose path has no /postcode/ segment: an option of its
# lookups, never sent (a catalogue dataset's path says so itself).
NO_SEGMENT = "postcode_segment"
_PATH = re.compile(r"^[a-z0-9-]+/[a-z0-9-]+$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def find(path: str) -> Dataset | None:
    """The catalogue's dataset of this path or short name, if it has one."""
    return _BY_NAME.get(path.strip("/"))


def part_names(datasets: Sequence[tuple[str, str | None]]) -> list[str]:
    """The names the columns of datasets side by side carry, each a ``(short name, area
    type)``: its short name, and for a name given before, that name with its area type
    (``occupation-lsoa``) or a number after it."""
    names: list[str] = []
    for short, area_type in datasets:
        name, more = short, 1
        while name in names:  # the same name twice: at another area type, or path
            more += 1
            suffix = area_type if more == 2 and area_type else str(more)
            name = f"{short}-{suffix}"
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class DatasetChoice:
    """A dataset as a run asks for it: its path, the short name its columns carry, and its
    options (all sent but :data:`NO_SEGMENT`, which says its path has no ``/postcode/``)."""

    path: str
    short: str
    options: Mapping[str, str]

    @property
    def area_type(self) -> str | None:
        return self.options.get("area_type")


def parse_choice(text: str) -> tuple[str, dict[str, str]]:
    """``NAME[:KEY=VALUE[,KEY=VALUE...]]`` (``occupation:area_type=lsoa``) as the name and
    its options."""
    name, _, rest = text.partition(":")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, value = part.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise UsageError(
                f"a dataset's options are KEY=VALUE, comma-separated"
                f" (occupation:area_type=lsoa); got {part!r} in {text!r}"
            )
        options[key.strip()] = value.strip()
    return name.strip(), options


def choose(
    name: str, options: Mapping[str, str] | None = None, *, area_type: str | None = None
) -> DatasetChoice:
    """The dataset ``name`` (a catalogue name or ``<category>/<method>``) with ``options``;
    ``area_type``, the run's default, goes to the datasets that take one and were not given
    their own. Options a catalogue dataset does not take are refused, and one it needs is
    asked for, before any call."""
    given = dict(options or {})
    if reserved := sorted(_RESERVED & set(given)):
        raise UsageError(f"{', '.join(reserved)} is not a dataset's option: it is sent already")
    known = find(name)
    if known is None:
        return _outside(name, given, area_type)
    # area_type=none: send none, whatever the dataset takes (the library's area_type=None).
    no_area = given.get("area_type", "").lower() == "none" and bool(given.pop("area_type"))
    takes = {*(("area_type",) if known.area_types else ()), *known.needs}
    if unknown := sorted(set(given) - takes):
        said = ", ".join(sorted(takes)) or "none"
        raise UsageError(f"{known.path} takes no {', '.join(unknown)} (its options: {said})")
    if known.area_types and not no_area:
        chosen_area = given.get("area_type") or area_type or known.default_area_type
        if chosen_area not in known.area_types:
            raise UsageError(
                f"{known.path} takes area_type {', '.join(known.area_types)}; got {chosen_area!r}"
            )
        given["area_type"] = chosen_area
    for needed in known.needs:
        if needed not in given:
            raise UsageError(
                f"{known.path} needs {needed}: --dataset {known.short}:{needed}=..."
                + (" (YYYY-MM)" if needed == "month" else "")
            )
    if "month" in given and not _MONTH.match(given["month"]):
        raise UsageError(f"month is YYYY-MM; got {given['month']!r}")
    return DatasetChoice(known.path, known.short, given)


def _outside(path: str, given: dict[str, str], area_type: str | None) -> DatasetChoice:
    """A dataset the catalogue does not know: its path as given, ``oa`` unless told
    (``area_type=none`` sends none), and ``postcode_segment=no`` for a path without it."""
    path = path.strip("/")
    if not _PATH.match(path):
        names = ", ".join(d.short for d in CATALOGUE)
        raise UsageError(
            f"no dataset {path!r}: give one of {names}, or a path '<category>/<method>'"
            " ('bulkfetch datasets' lists them)"
        )
    if given.pop(NO_SEGMENT, "yes").lower() in {"no", "false", "0"}:
        given[NO_SEGMENT] = "no"
    chosen = given.get("area_type") or area_type or "oa"
    if chosen.lower() == "none":
        given.pop("area_type", None)
    elif chosen not in AREA_TYPES:
        raise UsageError(f"area_type must be one of {', '.join(AREA_TYPES)}; got {chosen!r}")
    else:
        given["area_type"] = chosen
    return DatasetChoice(path, path.rsplit("/", 1)[1], given)
