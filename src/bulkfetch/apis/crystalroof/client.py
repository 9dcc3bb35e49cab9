"""CrystalRoof's customer API (UK): Census 2021 occupation and datasets of the same shape.

``GET {base}/customer-api/<category>/<method>/postcode/v1/{location}?api_key=KEY&area_type=oa``

The key travels in the query string, so no URL is ever put in a message or a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp

from bulkfetch import speedups
from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.apis.crystalroof.catalogue import (
    AREA_TYPES,
    NO_SEGMENT,
    DatasetChoice,
    choose,
    find,
    part_names,
)
from bulkfetch.apis.crystalroof.locations import parse_location, path_segment
from bulkfetch.apis.crystalroof.models import DatasetResult, OccupationResult
from bulkfetch.errors import (
    ApiError,
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    RejectedError,
)
from bulkfetch.http import (
    MAX_ANSWER_BYTES,
    Answer,
    HttpClient,
    key_fingerprint,
)
from bulkfetch.io.flatten import flatten
from bulkfetch.jobs import Lookup
from bulkfetch.policy import StatusPolicy

__all__ = ["AREA_TYPES", "DEFAULT_BASE_URL", "NAME", "OCCUPATION", "CrystalRoof"]

NAME = "crystalroof"
DEFAULT_BASE_URL = "https://crystalroof.co.uk"
OCCUPATION = "work-and-travel/occupation"

R = TypeVar("R")


class CrystalRoof(HttpClient):
    """A CrystalRoof client: single lookups for your code, and the adapter bulk runs use.

    ``async with CrystalRoof(key) as api: result = await api.occupation("W6 0WW")``

    ``rate``: calls a second the key allows, if you know it; single calls and bulk runs of
    this client keep to it (without it, the limit is learnt from the API's 429s).
    """

    name = NAME
    batch_size = 1
    fixed_columns = ("data_date",)
    expands_rows = False
    notices: tuple[str, ...] = ()

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        rate: float | None = None,
        max_attempts: int = 5,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        if not api_key:
            raise InvalidInputError("CrystalRoof needs an API key (CRYSTALROOF_API_KEY)")
        super().__init__(
            base_url,
            session=session,
            timeout=timeout,
            rate=rate,
            max_attempts=max_attempts,
            secrets=(api_key,),
            max_answer_bytes=max_answer_bytes,
        )
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"CrystalRoof(base_url={self._base_url!r}, api_key=<hidden>)"

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self._api_key)

    def spec(self) -> dict[str, Any]:
        return {
            "api": NAME,
            "base_url": self._base_url,
            "timeout": self.timeout,
            "max_answer_bytes": self.max_answer_bytes,
        }

    # -- lookups ----------------------------------------------------------------------

    def lookup(
        self,
        location: str,
        *,
        dataset: str = OCCUPATION,
        area_type: str | None = None,
        **params: str,
    ) -> Lookup:
        """The normalised lookup for a location; :class:`InvalidInputError` if it cannot be
        one. ``area_type`` None: the dataset's own default (see :func:`choose`)."""
        options = {**params, **({"area_type": area_type} if area_type is not None else {})}
        return _lookup_of(self, choose(dataset, options), location)

    async def dataset(
        self, dataset: str, location: str, *, area_type: str | None = None, **params: str
    ) -> DatasetResult:
        """Any dataset, for one location: a name from the catalogue (``income``) or a path
        (``<category>/<method>``), with its options; an area type only if it takes one."""
        lookup = self.lookup(location, dataset=dataset, area_type=area_type, **params)
        body = await self._caller.call(lookup.fingerprint, lambda: self._ask(lookup))
        return _dataset_result(lookup, body)

    async def occupation(self, location: str, area_type: str = "oa") -> OccupationResult:
        """Census 2021 occupation of usual residents for the area that holds ``location``."""
        result = await self.dataset(OCCUPATION, location, area_type=area_type)
        return OccupationResult.of(result, area_type)

    def operation(self, method: str, query: Mapping[str, Any]) -> DatasetOperation[Any]:
        """The bulk form of ``occupation`` or ``dataset`` with these options (``fetch_many``
        and ``bulkfetch enrich`` run it)."""
        options = dict(query)
        if method == "occupation":
            area_type = options.pop("area_type", "oa")
            _no_more(method, options)
            choice = choose(OCCUPATION, {"area_type": area_type})
            return DatasetOperation(self, choice, lambda r: OccupationResult.of(r, area_type))
        if method == "dataset":
            if "dataset" not in options:
                raise TypeError("fetch_many(api.dataset, ...) needs dataset='<category>/<method>'")
            dataset = str(options.pop("dataset"))
            if "area_type" in options and options["area_type"] is None:
                options["area_type"] = "none"  # as given: none sent (see choose)
            params = {str(k): str(v) for k, v in options.items() if v is not None}
            return DatasetOperation.of(self, choose(dataset, params))
        raise TypeError(f"CrystalRoof.{method} has no bulk form: use occupation or dataset")

    # -- the adapter ------------------------------------------------------------------

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        """One call per lookup: the API takes one location a request."""
        (lookup,) = lookups
        answer = await self._send(lookup)
        remaining, reset_in = self.rate_news(answer)
        try:
            parsed = self._read(lookup, answer)
        except NotFoundError as exc:
            result = LookupResult(ResultKind.NOT_FOUND, answer.status, error=exc.message)
        except RejectedError as exc:
            result = LookupResult(ResultKind.INVALID, answer.status, error=exc.message)
        else:
            columns = tuple(flatten(parsed["data"]))
            result = LookupResult(ResultKind.OK, answer.status, body=answer.text, columns=columns)
        return Reply([result], remaining=remaining, reset_in=reset_in)

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        parsed = speedups.loads(body)
        line = flatten(parsed["data"])
        line["data_date"] = parsed.get("dataDate")
        return [line]

    def output_column(self, path: tuple[str | int, ...]) -> str | None:
        """The column of :meth:`output_rows`' line a value of a body at ``path`` (its keys
        and list places) is, if one: ``data``'s by their keys, ``dataDate``. A line is its
        body's values so named, and nothing else."""
        if path == ("dataDate",):
            return "data_date"
        if len(path) > 1 and path[0] == "data" and all(type(key) is str for key in path):
            return ".".join(map(str, path[1:]))  # as flatten names them
        return None

    def part_names(self, templates: Sequence[Mapping[str, str]]) -> list[str]:
        """The names runs' columns carry, by their datasets (see ``part_names``): what
        ``enrich``'s datasets are named, alone or side by side."""
        return part_names([_named(template) for template in templates])

    def known_columns(self, template: Mapping[str, str]) -> tuple[str, ...]:
        """The value columns a run's answers fill, where its dataset's answer is documented."""
        known = find(template.get("endpoint", ""))
        return () if known is None else known.columns

    def output_document(self, body: str) -> dict[str, Any]:
        parsed = speedups.loads(body)
        return {"data": parsed["data"], "data_date": parsed.get("dataDate")}

    # -- the wire ---------------------------------------------------------------------

    async def _ask(self, lookup: Lookup) -> str:
        """One request for one lookup: the 200's body, or the typed error its answer means."""
        answer = await self._send(lookup)
        self._read(lookup, answer)
        return answer.text

    def _path(self, lookup: Lookup) -> str:
        location = path_segment(lookup.param("location"))
        known = find(lookup.endpoint)
        segment = known.postcode_segment if known else NO_SEGMENT not in dict(lookup.params)
        middle = "postcode/" if segment else ""
        return f"/customer-api/{lookup.endpoint}/{middle}v1/{location}"

    async def _send(self, lookup: Lookup) -> Answer:
        path = self._path(lookup)
        query = {k: v for k, v in lookup.params if k not in {"location", NO_SEGMENT}}
        return await self.send("GET", path, params={**query, "api_key": self._api_key})

    def _read(self, lookup: Lookup, answer: Answer) -> dict[str, Any]:
        """The parsed body of a success, or the typed error the answer means."""
        endpoint = answer.endpoint
        if POLICY.succeeded(answer):
            try:
                body = speedups.loads(answer.text)
            except ValueError:
                raise BadResponseError(
                    "the answer is not JSON", status=200, endpoint=endpoint
                ) from None
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise BadResponseError(
                    "the answer has no 'data' object", status=200, endpoint=endpoint
                )
            return body
        raise _error_for(answer, lookup.param("location"))


@dataclass(frozen=True, slots=True)
class DatasetOperation(Generic[R]):
    """A dataset of one client, with its options, in bulk; each kept body read back as
    ``typed`` makes it."""

    client: CrystalRoof
    choice: DatasetChoice
    typed: Callable[[DatasetResult], R]

    @staticmethod
    def of(client: CrystalRoof, choice: DatasetChoice) -> DatasetOperation[DatasetResult]:
        """The dataset's answers as :class:`DatasetResult`."""
        return DatasetOperation(client, choice, _same)

    @property
    def dataset(self) -> str:
        return self.choice.path

    @property
    def short(self) -> str:
        """What its columns are prefixed with beside other datasets' (``income``)."""
        return self.choice.short

    @property
    def answer_bytes(self) -> int | None:
        """What one answer typically keeps in the store (for a plan's disk); None for a
        dataset outside the catalogue."""
        known = find(self.choice.path)
        return None if known is None else known.answer_chars

    @property
    def template(self) -> Mapping[str, str]:
        options = {k: v for k, v in self.choice.options.items() if k != "area_type"}
        return {
            "endpoint": self.choice.path,
            "area_type": self.choice.area_type or "",
            "origin": self.client.origin,
            **options,
        }

    def lookup(self, value: str) -> Lookup:
        return _lookup_of(self.client, self.choice, value)

    def result(self, body: str, lookup: Lookup) -> R:
        return self.typed(_dataset_result(lookup, body))


def _lookup_of(client: CrystalRoof, choice: DatasetChoice, location: str) -> Lookup:
    values = {"location": parse_location(location).value, **choice.options}
    return Lookup.of(NAME, client.origin, choice.path, values)


def _named(template: Mapping[str, str]) -> tuple[str, str | None]:
    """A run's dataset (by its template) as :func:`part_names` names it."""
    path = template.get("endpoint", "")
    known = find(path)
    short = known.short if known is not None else path.rsplit("/", 1)[-1]
    return short, template.get("area_type") or None


def _same(result: DatasetResult) -> DatasetResult:
    return result


def _dataset_result(lookup: Lookup, body: str) -> DatasetResult:
    parsed = speedups.loads(body)
    return DatasetResult(
        location=lookup.param("location"),
        data=parsed["data"],
        data_date=parsed.get("dataDate"),
        refreshed_date=parsed.get("refreshedDate"),
    )


def _no_more(method: str, options: Mapping[str, Any]) -> None:
    if options:
        raise TypeError(f"CrystalRoof.{method} takes no {', '.join(sorted(options))}")


# CrystalRoof's statuses mean what they mean to every API (its docs: 401 an unknown key,
# 402 the package spent, 403 a key not allowed the action, 404 no such location).
POLICY = StatusPolicy()


def _error_for(answer: Answer, location: str) -> ApiError:
    try:
        said = speedups.loads(answer.text)
    except ValueError:
        said = None
    error = said.get("error") if isinstance(said, dict) else None
    message = error if isinstance(error, str) else f"unexpected answer (HTTP {answer.status})"
    return POLICY.error(answer, message, lookup=location)
