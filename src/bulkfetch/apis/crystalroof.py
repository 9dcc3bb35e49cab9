"""CrystalRoof's customer API (UK): Census 2021 occupation and datasets of the same shape.

``GET {base}/customer-api/<category>/<method>/postcode/v1/{location}?api_key=KEY&area_type=oa``

The key travels in the query string, so no URL is ever put in a message or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import aiohttp

from bulkfetch.adapter import LookupResult, Reply
from bulkfetch.apis._flat import flatten
from bulkfetch.apis._http import (
    Answer,
    HttpClient,
    key_fingerprint,
    rate_headers,
    request,
    retry_after,
)
from bulkfetch.bulk import BulkOptions, RunReport, bulk_file
from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from bulkfetch.jobs import Lookup, OutcomeKind
from bulkfetch.locations import parse_location

__all__ = [
    "AREA_TYPES",
    "DEFAULT_BASE_URL",
    "OCCUPATION",
    "CrystalRoof",
    "DatasetResult",
    "OccupationResult",
    "enrich",
]

DEFAULT_BASE_URL = "https://crystalroof.co.uk"
OCCUPATION = "work-and-travel/occupation"
AREA_TYPES = ("oa", "lsoa", "msoa", "lad", "region", "country")
# The few datasets whose path has no /postcode/ segment (seen in the provider's docs).
_NO_POSTCODE_SEGMENT = frozenset({"geography/postcode-details", "environment/flood-risk"})
_API = "crystalroof"


@dataclass(frozen=True, slots=True)
class DatasetResult:
    """A dataset's answer for one location."""

    location: str
    data: Mapping[str, Any]
    data_date: str | None
    refreshed_date: str | None


@dataclass(frozen=True, slots=True)
class OccupationResult:
    """Census 2021 occupation (nine SOC 2020 major groups) for the area holding a location."""

    location: str
    area_type: str
    residents: Mapping[str, float]  # "Total" and one count per group
    rank: Mapping[str, float]  # one rank per group (undocumented; 1..10 in every example)
    data_date: str | None
    refreshed_date: str | None


def _dataset_path(dataset: str) -> str:
    dataset = dataset.strip("/")
    if dataset.count("/") != 1 or not all(dataset.split("/")):
        raise InvalidInputError(
            f"a dataset is '<category>/<method>', such as {OCCUPATION!r}; got {dataset!r}"
        )
    return dataset


class CrystalRoof(HttpClient):
    """A CrystalRoof client: single lookups for your code, and the adapter bulk runs use.

    ``async with CrystalRoof(key) as api: result = await api.occupation("W6 0WW")``
    """

    name = _API
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
    ) -> None:
        if not api_key:
            raise InvalidInputError("CrystalRoof needs an API key (CRYSTALROOF_API_KEY)")
        super().__init__(base_url, session=session, timeout=timeout)
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"CrystalRoof(base_url={self._base_url!r}, api_key=<hidden>)"

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self._api_key)

    def spec(self) -> dict[str, Any]:
        return {"api": _API, "base_url": self._base_url, "timeout": self.timeout}

    # -- lookups ----------------------------------------------------------------------

    def lookup(
        self,
        location: str,
        *,
        dataset: str = OCCUPATION,
        area_type: str | None = "oa",
        **params: str,
    ) -> Lookup:
        """The normalised lookup for a location; :class:`InvalidInputError` if it cannot be one."""
        values = {"location": parse_location(location).value, **params}
        if area_type is not None:
            if area_type not in AREA_TYPES:
                raise InvalidInputError(
                    f"area_type must be one of {', '.join(AREA_TYPES)}; got {area_type!r}"
                )
            values["area_type"] = area_type
        return Lookup.of(_API, self._base_url, _dataset_path(dataset), values)

    async def dataset(
        self, dataset: str, location: str, *, area_type: str | None = "oa", **params: str
    ) -> DatasetResult:
        """Any dataset of the occupation shape, for one location."""
        lookup = self.lookup(location, dataset=dataset, area_type=area_type, **params)
        body = self._read(lookup, await self._send(lookup))
        return DatasetResult(
            location=lookup.param("location"),
            data=body["data"],
            data_date=body.get("dataDate"),
            refreshed_date=body.get("refreshedDate"),
        )

    async def occupation(self, location: str, area_type: str = "oa") -> OccupationResult:
        """Census 2021 occupation of usual residents for the area that holds ``location``."""
        result = await self.dataset(OCCUPATION, location, area_type=area_type)
        return OccupationResult(
            location=result.location,
            area_type=area_type,
            residents=dict(result.data.get("residents", {})),
            rank=dict(result.data.get("rank", {})),
            data_date=result.data_date,
            refreshed_date=result.refreshed_date,
        )

    # -- the adapter ------------------------------------------------------------------

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        """One call per lookup: the API takes one location a request."""
        (lookup,) = lookups
        answer = await self._send(lookup)
        remaining, reset_in = rate_headers(answer.headers)
        try:
            parsed = self._read(lookup, answer)
        except NotFoundError as exc:
            result = LookupResult(OutcomeKind.NOT_FOUND, answer.status, error=exc.message)
        except RejectedError as exc:
            result = LookupResult(OutcomeKind.INVALID, answer.status, error=exc.message)
        else:
            columns = tuple(flatten(parsed["data"]))
            result = LookupResult(
                OutcomeKind.DONE, answer.status, body=answer.text, columns=columns
            )
        return Reply([result], remaining=remaining, reset_in=reset_in)

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        parsed = json.loads(body)
        return [{**flatten(parsed["data"]), "data_date": parsed.get("dataDate")}]

    def output_document(self, body: str) -> dict[str, Any]:
        parsed = json.loads(body)
        return {"data": parsed["data"], "data_date": parsed.get("dataDate")}

    # -- the wire ---------------------------------------------------------------------

    def _path(self, lookup: Lookup) -> str:
        location = parse_location(lookup.param("location")).path_segment
        middle = "" if lookup.endpoint in _NO_POSTCODE_SEGMENT else "postcode/"
        return f"/customer-api/{lookup.endpoint}/{middle}v1/{location}"

    async def _send(self, lookup: Lookup) -> Answer:
        path = self._path(lookup)
        query = {k: v for k, v in lookup.params if k != "location"}
        return await request(
            self._client(),
            "GET",
            self._base_url + path,
            endpoint=path,
            params={**query, "api_key": self._api_key},
        )

    def _read(self, lookup: Lookup, answer: Answer) -> dict[str, Any]:
        """The parsed body of a 200, or the typed error the answer means."""
        endpoint = answer.endpoint
        if answer.status == 200:
            try:
                body = json.loads(answer.text)
            except ValueError:
                raise BadResponseError(
                    "the answer is not JSON", status=200, endpoint=endpoint
                ) from None
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise BadResponseError(
                    "the answer has no 'data' object", status=200, endpoint=endpoint
                )
            return body
        raise _error_for(answer, endpoint, lookup.param("location"))


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: RejectedError,
    401: AuthenticationError,
    402: QuotaExhaustedError,
    403: AuthenticationError,
    404: NotFoundError,
}


def _error_for(answer: Answer, endpoint: str, location: str) -> ApiError:
    try:
        message = str(json.loads(answer.text)["error"])
    except (ValueError, KeyError, TypeError):
        message = f"unexpected answer (HTTP {answer.status})"
    context: dict[str, Any] = {"status": answer.status, "endpoint": endpoint, "lookup": location}
    if answer.status == 429:
        return RateLimitedError(message, retry_after=retry_after(answer.headers), **context)
    if answer.status in _STATUS_ERRORS:
        return _STATUS_ERRORS[answer.status](message, **context)
    return ServerError(message, retry_after=retry_after(answer.headers), **context)


async def enrich(
    api: CrystalRoof,
    input_path: str | Path,
    *,
    column: str,
    out: str | Path,
    dataset: str = OCCUPATION,
    area_type: str | None = "oa",
    **options: Unpack[BulkOptions],
) -> RunReport:
    """Add a CrystalRoof dataset's columns to every row of a CSV file of locations.

    ``await enrich(api, "postcodes.csv", column="postcode", out="enriched.csv", rate=5)``
    """
    api.lookup("W6 0WW", dataset=dataset, area_type=area_type)  # bad options fail before any work
    return await bulk_file(
        api,
        input_path,
        column=column,
        out=out,
        make_lookup=lambda value: api.lookup(value, dataset=dataset, area_type=area_type),
        template={"endpoint": dataset, "area_type": area_type or "", "origin": api.origin},
        **options,
    )
