"""Labor Market Intelligence (US; the Mapademics Embedded API): occupations and labor-market
data by SOC or CIP codes, up to 25 codes a request, nationally or by state or MSA.

``POST {base}/v1/labor-market-intelligence/by-soc`` (or ``by-cip``) with a JSON body;
``GET {base}/v1/labor-market-intelligence/regions``. The platform key travels as
``Authorization: Bearer``; in production an end-customer key travels in a header too.

What the provider's pages leave unconfirmed (the region field's name, the MSA-fallback
flag's name, the customer-key header, how a CIP answer says which code an occupation came
from, the code that means "quota exceeded") lives in :class:`WireNames`, with the
documented or most likely default; every one can be overridden.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Unpack

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
    UsageError,
)
from bulkfetch.jobs import Lookup, OutcomeKind
from bulkfetch.store import Store

__all__ = [
    "BASE_URLS",
    "MAX_CODES",
    "REGION_TYPES",
    "Demand",
    "LaborMarket",
    "LaborMarketData",
    "LaborMarketResult",
    "Occupation",
    "Region",
    "Skill",
    "Warning",
    "WireNames",
    "check_region",
    "known_regions",
    "labor_market",
    "normalise_cip",
    "normalise_soc",
    "resolve_region",
]

_API = "labormarket"
MAX_CODES = 25
BASE_URLS = {
    "test": "https://embedded-api.testing.mapademics.com",
    "production": "https://embedded-api.mapademics.com",
}
Environment = Literal["test", "production"]
By = Literal["soc", "cip"]
REGION_TYPES = ("national", "state", "msa")
_PATH = "/v1/labor-market-intelligence"
# How files hold codes: a label before them ("SOC 15-1252", "CIP: 11.0701"), any dash a
# word processor makes, O*NET-SOC's detail suffix ("15-1252.00", "15-1299.08" lie within
# SOC 15-1252 and 15-1299), a decimal comma ("11,0701"), a spreadsheet's lost leading zero.
_SOC = re.compile(r"^(?:SOC\s*[:#-]?\s*)?(\d{2})[-\u2010-\u2015\s.]?(\d{4})(?:\.\d{2})?$", re.I)
_CIP = re.compile(r"^(?:CIP\s*[:#-]?\s*)?(\d{1,2})[.,]?(\d{4})$", re.I)


@dataclass(frozen=True, slots=True)
class WireNames:
    """Names on the wire that the provider's pages do not settle, in one place."""

    region_field: str = "region"  # third-party client code sends "region"
    msa_fallback_field: str = "msaFallback"  # the docs describe the flag but not its name
    customer_key_header: str = "X-Customer-Key"  # the API reference (one guide says otherwise)
    platform_key_header: str = "Authorization"  # sent as "Bearer <key>"
    # A CIP answer's occupations may say which input codes they match; under this name.
    cip_attribution_field: str = "matchedCipCodes"
    quota_codes: frozenset[str] = field(
        default_factory=lambda: frozenset({"QUOTA_EXCEEDED", "QUOTA_EXHAUSTED"})
    )


@dataclass(frozen=True, slots=True)
class Demand:
    score: float | None
    factors: Sequence[str]
    growth_percentile: float | None
    openings_percentile: float | None


@dataclass(frozen=True, slots=True)
class LaborMarketData:
    median_annual_salary: float | None
    total_employment: float | None
    forecasted_employment_growth: float | None
    average_annual_openings: float | None
    typical_degree_level: str | None
    typical_work_experience: str | None
    demand: Demand | None


@dataclass(frozen=True, slots=True)
class Skill:
    id: str
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class Occupation:
    soc_code: str
    name: str | None
    description: str | None
    alternative_titles: Sequence[str]
    labor_market_data: LaborMarketData | None
    skills: Mapping[str, Sequence[Skill]]  # "coreSkills" and the like, when asked for
    cip_codes: Sequence[str]  # the input CIP codes it matched, when the API says


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class LaborMarketResult:
    region_type: str
    region: str | None
    occupations: Sequence[Occupation]
    warnings: Sequence[Warning]


@dataclass(frozen=True, slots=True)
class Region:
    type: str
    code: str
    label: str


def normalise_soc(raw: str) -> str:
    """``151252``, `` 15-1252 ``, ``SOC 15-1252`` and O*NET-SOC ``15-1252.00`` ->
    ``15-1252`` (SOC 2018, six digits)."""
    match = _SOC.match(raw.strip())
    if not match:
        raise InvalidInputError(f"not a SOC code (like 15-1252): {raw.strip()!r}", value=raw)
    return f"{match.group(1)}-{match.group(2)}"


def normalise_cip(raw: str) -> str:
    """``110701``, ``CIP 11.0701``, ``11,0701`` and ``1.0101`` (a spreadsheet's lost zero)
    -> ``11.0701``, ``01.0101`` (CIP 2020, six digits)."""
    match = _CIP.match(raw.strip())
    if not match:
        raise InvalidInputError(f"not a CIP code (like 11.0701): {raw.strip()!r}", value=raw)
    return f"{int(match.group(1)):02d}.{match.group(2)}"


_NORMALISE = {"soc": normalise_soc, "cip": normalise_cip}
_NATIONAL_CODE = "99"  # what the regions endpoint calls the nation


def resolve_region(region_type: str | None, region: str | int | None) -> tuple[str, str]:
    """``(region type, code)`` as the API takes them, or :class:`InvalidInputError`.

    Without a type, a code is what its digits make it: 1-2 digits a state FIPS code
    (``06`` and ``6`` are both California), 5 an MSA code, ``99`` the nation. A code that
    fits neither, or a national query given a code, is refused: never answered nationally
    in silence. National has no code (``""``).
    """
    code = "" if region is None else str(region).strip()
    if region_type is not None and region_type not in REGION_TYPES:
        raise InvalidInputError(
            f"the region type must be one of {', '.join(REGION_TYPES)}; got {region_type!r}"
        )
    if code and not code.isdigit():
        raise InvalidInputError(
            f"a region code is a state FIPS code (like 6) or an MSA code (like 41860); got {code!r}"
        )
    if region_type is None:
        if not code or code == _NATIONAL_CODE:
            return "national", ""
        if len(code) <= 2:
            region_type = "state"
        elif len(code) == 5:
            region_type = "msa"
        else:
            raise InvalidInputError(
                f"{code!r} is neither a state FIPS code (1-2 digits) nor an MSA code (5 "
                "digits); give the region type (state or msa)"
            )
    if region_type == "national":
        if code not in ("", _NATIONAL_CODE):
            raise InvalidInputError(
                f"a national query takes no region code (got {code!r}); give the region "
                "type (state or msa) the code belongs to"
            )
        return "national", ""
    if not code:
        raise InvalidInputError(f"a {region_type} query needs a region code")
    # FIPS codes are written with a leading zero as often as without; the API's have none.
    return region_type, str(int(code)) if region_type == "state" else code


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _codes(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


class LaborMarket(HttpClient):
    """A Labor Market Intelligence client: calls for your code, and the adapter bulk runs use.

    ``async with LaborMarket("pk_test_...") as api: result = await api.by_soc(["15-1252"])``
    """

    name = _API
    fixed_columns = ("regionType", "region", "warnings")

    def __init__(
        self,
        platform_key: str,
        *,
        customer_key: str | None = None,
        environment: Environment = "test",
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        wire: WireNames | None = None,
    ) -> None:
        if environment not in BASE_URLS:
            raise InvalidInputError(
                f"environment must be 'test' or 'production', not {environment!r}"
            )
        if not platform_key:
            raise InvalidInputError("the Labor Market API needs a platform key (LMI_PLATFORM_KEY)")
        if environment == "production" and not customer_key:
            raise InvalidInputError(
                "production calls need an end-customer key (LMI_CUSTOMER_KEY); none was given"
            )
        self.environment = environment
        self.wire = wire or WireNames()
        super().__init__(base_url or BASE_URLS[environment], session=session, timeout=timeout)
        self._platform_key = platform_key
        self._customer_key = customer_key
        # Whether CIP answers say which input code each occupation matched: unknown until an
        # answer with an occupation in it has been read. Until then, one CIP code a request.
        self._cip_attribution: bool | None = None
        self._notices: list[str] = []
        self._by: By = "soc"

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self._platform_key, self._customer_key)

    def spec(self) -> dict[str, Any]:
        wire = {
            name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in dataclasses.asdict(self.wire).items()
        }
        return {
            "api": _API,
            "base_url": self._base_url,
            "environment": self.environment,
            "timeout": self.timeout,
            "by": self._by,
            "wire": wire,
        }

    def __repr__(self) -> str:
        return (
            f"LaborMarket(environment={self.environment!r}, base_url={self._base_url!r}, "
            "platform_key=<hidden>, customer_key=<hidden>)"
        )

    def _headers(self) -> dict[str, str]:
        headers = {self.wire.platform_key_header: f"Bearer {self._platform_key}"}
        if self._customer_key:
            headers[self.wire.customer_key_header] = self._customer_key
        return headers

    # -- lookups ------------------------------------------------------------------------

    def lookup(
        self,
        code: str,
        *,
        by: By = "soc",
        region_type: str | None = None,
        region: str | int | None = None,
        fields: Sequence[str] | None = None,
        include_skills: bool = False,
        msa_fallback: bool = False,
    ) -> Lookup:
        """The normalised lookup for one code; :class:`InvalidInputError` if it cannot be one.

        A region given without its type is taken for what its code must be (see
        :func:`resolve_region`): never answered nationally.
        """
        if by not in _NORMALISE:
            raise InvalidInputError(f"codes are looked up by 'soc' or 'cip', not {by!r}")
        region_type, region = resolve_region(region_type, region)
        params = {
            "code": _NORMALISE[by](code),
            "regionType": region_type,
            "region": region,
            "fields": ",".join(fields or ()),
            "includeSkills": "true" if include_skills else "",
            "msaFallback": "true" if msa_fallback and region_type == "msa" else "",
        }
        return Lookup.of(_API, self._base_url, f"by-{by}", params)

    async def by_soc(self, codes: Sequence[str], **options: Any) -> LaborMarketResult:
        """Occupations for up to 25 SOC codes."""
        return await self._by_codes("soc", codes, options)

    async def by_cip(self, codes: Sequence[str], **options: Any) -> LaborMarketResult:
        """Occupations that programs of up to 25 CIP codes lead to."""
        return await self._by_codes("cip", codes, options)

    async def _by_codes(
        self, by: By, codes: Sequence[str], options: dict[str, Any]
    ) -> LaborMarketResult:
        if isinstance(codes, str):
            codes = [codes]
        if not codes:
            raise InvalidInputError("no codes given")
        if len(codes) > MAX_CODES:
            raise InvalidInputError(f"at most {MAX_CODES} codes a request; got {len(codes)}")
        lookups = [self.lookup(code, by=by, **options) for code in codes]
        answer = await self._send(lookups)
        data = self._read(answer)
        return _result(data, self.wire)

    async def regions(self, type: str | None = None) -> list[Region]:
        """The regions the API knows (national, states by FIPS code, MSAs)."""
        path = f"{_PATH}/regions"
        answer = await request(
            self._client(),
            "GET",
            self._base_url + path,
            endpoint=path,
            params={"type": type} if type else None,
            headers=self._headers(),
        )
        data = self._read(answer)
        try:
            return [
                Region(str(item["type"]), str(item["code"]), str(item["label"])) for item in data
            ]
        except (KeyError, TypeError):
            raise BadResponseError(
                "the regions answer has an unexpected shape", endpoint=path
            ) from None

    # -- the adapter --------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        if self._by == "cip" and self._cip_attribution is not True:
            return 1
        return MAX_CODES

    @property
    def expands_rows(self) -> bool:
        return self._by == "cip"

    @property
    def notices(self) -> Sequence[str]:
        return tuple(self._notices)

    def prepare(self, by: By) -> None:
        """Tell the adapter which kind of code the bulk run sends."""
        self._by = by

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        answer = await self._send(lookups)
        remaining, reset_in = rate_headers(answer.headers)
        data = self._read(answer)
        by = lookups[0].endpoint.removeprefix("by-")
        codes = [lookup.param("code") for lookup in lookups]
        per_code = self._split_soc(data, codes) if by == "soc" else self._split_cip(data, codes)
        results = [
            _lookup_result(answer.status, lookup, per_code.get(lookup.param("code")), data)
            for lookup in lookups
        ]
        return Reply(results, remaining=remaining, reset_in=reset_in)

    def _split_soc(self, data: Mapping[str, Any], codes: list[str]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for occupation in data.get("matchedOccupations") or []:
            code = occupation.get("socCode")
            if code in codes:
                found.setdefault(code, []).append(occupation)
        return found

    def _split_cip(self, data: Mapping[str, Any], codes: list[str]) -> dict[str, list[Any]]:
        occupations = data.get("matchedOccupations") or []
        if len(codes) == 1:
            self._learn_attribution(occupations)
            return {codes[0]: list(occupations)} if occupations else {}
        found: dict[str, list[Any]] = {}
        for occupation in occupations:
            matched = _codes(occupation.get(self.wire.cip_attribution_field))
            if not matched:
                # Batches are only sent once attribution was seen; an answer without it cannot
                # be split back, so say nothing rather than say something wrong.
                raise BadResponseError(
                    "a CIP answer did not say which code an occupation came from",
                    endpoint=f"{_PATH}/by-cip",
                )
            for code in matched:
                if code in codes:
                    found.setdefault(code, []).append(occupation)
        return found

    def _learn_attribution(self, occupations: Sequence[Mapping[str, Any]]) -> None:
        if self._cip_attribution is not None or not occupations:
            return
        self._cip_attribution = all(
            _codes(o.get(self.wire.cip_attribution_field)) for o in occupations
        )
        if not self._cip_attribution:
            self._notices.append(
                "CIP answers do not say which input code each occupation came from, so CIP "
                "codes are sent one a request (each code is still one lookup, billed once)"
            )

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        stored = json.loads(body)
        fixed = {
            "regionType": stored.get("regionType"),
            "region": stored.get("region"),
            "warnings": _warnings_text(stored.get("warnings", [])),
        }
        rows = [{**flatten(o), **fixed} for o in stored["occupations"]]
        return rows or [fixed]

    def output_document(self, body: str) -> dict[str, Any]:
        stored = json.loads(body)
        return {
            "regionType": stored.get("regionType"),
            "region": stored.get("region"),
            "occupations": stored["occupations"],
            "warnings": stored.get("warnings", []),
        }

    # -- the wire -----------------------------------------------------------------------

    async def _send(self, lookups: Sequence[Lookup]) -> Answer:
        first = lookups[0]
        if any(
            (lk.endpoint, [p for p in lk.params if p[0] != "code"])
            != (first.endpoint, [p for p in first.params if p[0] != "code"])
            for lk in lookups
        ):
            raise ValueError("one request carries codes of one endpoint and one set of options")
        options = dict(first.params)
        by = first.endpoint.removeprefix("by-")
        body: dict[str, Any] = {
            f"{by}Codes": [lookup.param("code") for lookup in lookups],
            "regionType": options["regionType"],
        }
        if options["region"]:
            body[self.wire.region_field] = options["region"]
        if options["fields"]:
            body["fields"] = options["fields"].split(",")
        if options["includeSkills"]:
            body["includeSkills"] = True
        if options["msaFallback"]:
            body[self.wire.msa_fallback_field] = True
        path = f"{_PATH}/{first.endpoint}"
        return await request(
            self._client(),
            "POST",
            self._base_url + path,
            endpoint=path,
            headers=self._headers(),
            json=body,
        )

    def _read(self, answer: Answer) -> Any:
        """The ``data`` of a 200, or the typed error the answer means."""
        try:
            parsed = json.loads(answer.text)
        except ValueError:
            parsed = None
        if answer.status == 200:
            if not isinstance(parsed, dict) or "data" not in parsed:
                raise BadResponseError(
                    "the answer has no 'data'", status=200, endpoint=answer.endpoint
                )
            return parsed["data"]
        raise self._error(answer, parsed)

    def _error(self, answer: Answer, parsed: Any) -> ApiError:
        error = parsed.get("error") if isinstance(parsed, dict) else None
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        text = f"{code}: {message}" if code else f"unexpected answer (HTTP {answer.status})"
        context: dict[str, Any] = {"status": answer.status, "endpoint": answer.endpoint}
        status = answer.status
        if status == 429:
            return RateLimitedError(text, retry_after=retry_after(answer.headers), **context)
        if status == 403 and (code in self.wire.quota_codes or "quota" in message.lower()):
            return QuotaExhaustedError(text, **context)
        if status in (401, 403):
            return AuthenticationError(text, **context)
        if status == 400:
            return RejectedError(text, **context)
        if status == 404:
            return NotFoundError(text, **context)
        return ServerError(text, retry_after=retry_after(answer.headers), **context)


def _lookup_result(
    status: int, lookup: Lookup, occupations: list[Any] | None, data: Mapping[str, Any]
) -> LookupResult:
    """One code's part of an answer: its occupations, the warnings that concern it, and
    the region it was answered for (as the answer says; else as it was asked)."""
    code = lookup.param("code")
    if occupations:
        socs = {o.get("socCode") for o in occupations}
        warnings = [w for w in data.get("warnings") or [] if _warning_concerns(w, socs)]
    else:  # a code with no occupation keeps the warnings that name it (INVALID_CIP_CODE)
        occupations = []
        warnings = [w for w in data.get("warnings") or [] if code in str(w.get("message", ""))]
    stored = {
        "regionType": data.get("regionType") or lookup.param("regionType"),
        "region": data.get("region") or lookup.param("region") or None,
        "occupations": occupations,
        "warnings": warnings,
    }
    body = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
    if not occupations:
        reason = _warnings_text(warnings) or "the answer does not mention this code"
        return LookupResult(OutcomeKind.NOT_FOUND, status, body=body, error=reason)
    columns = tuple(
        dict.fromkeys(column for occupation in occupations for column in flatten(occupation))
    )
    return LookupResult(OutcomeKind.DONE, status, body=body, columns=columns)


def _warning_concerns(warning: Any, socs: set[Any]) -> bool:
    """A warning belongs to a code's answer when it names one of that code's occupations."""
    if not isinstance(warning, Mapping):
        return False
    named = warning.get("socCode")
    if named is not None:
        return named in socs
    message = str(warning.get("message", ""))
    return any(isinstance(soc, str) and soc in message for soc in socs)


def _warnings_text(warnings: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{w.get('code')}: {w.get('message')}" for w in warnings)


def _occupation(raw: Mapping[str, Any], wire: WireNames) -> Occupation:
    market = raw.get("laborMarketData")
    demand = market.get("demand") if isinstance(market, Mapping) else None
    skills = raw.get("skillRequirements") or {}
    return Occupation(
        soc_code=str(raw.get("socCode", "")),
        name=_text(raw.get("name")),
        description=_text(raw.get("description")),
        alternative_titles=list(raw.get("alternativeTitles") or []),
        labor_market_data=LaborMarketData(
            median_annual_salary=_number(market.get("medianAnnualSalary")),
            total_employment=_number(market.get("totalEmployment")),
            forecasted_employment_growth=_number(market.get("forecastedEmploymentGrowth")),
            average_annual_openings=_number(market.get("averageAnnualOpenings")),
            typical_degree_level=_text(market.get("typicalDegreeLevel")),
            typical_work_experience=_text(market.get("typicalWorkExperience")),
            demand=Demand(
                score=_number(demand.get("score")),
                factors=list(demand.get("factors") or []),
                growth_percentile=_number(demand.get("growthPercentile")),
                openings_percentile=_number(demand.get("openingsPercentile")),
            )
            if isinstance(demand, Mapping)
            else None,
        )
        if isinstance(market, Mapping)
        else None,
        skills={
            group: [
                Skill(
                    str(s.get("mslSkillId")),
                    str(s.get("mslSkillName")),
                    _text(s.get("mslSkillDescription")),
                )
                for s in items
            ]
            for group, items in skills.items()
            if isinstance(items, list)
        },
        cip_codes=_codes(raw.get(wire.cip_attribution_field)),
    )


def _result(data: Any, wire: WireNames) -> LaborMarketResult:
    if not isinstance(data, Mapping):
        raise BadResponseError("the answer's 'data' is not an object")
    return LaborMarketResult(
        region_type=str(data.get("regionType", "national")),
        region=_text(data.get("region")),
        occupations=[_occupation(o, wire) for o in data.get("matchedOccupations") or []],
        warnings=[
            Warning(str(w.get("code")), str(w.get("message")))
            for w in data.get("warnings") or []
            if isinstance(w, Mapping)
        ],
    )


async def known_regions(api: LaborMarket, store: Store) -> list[Region]:
    """The API's regions, fetched once per origin and kept in the store."""
    kept = await store.reference.get(api.origin, "regions")
    if kept is None:
        kept = [[r.type, r.code, r.label] for r in await api.regions()]
        await store.reference.put(api.origin, "regions", kept, now=time.time())
    return [Region(*row) for row in kept]


async def check_region(
    api: LaborMarket, store: Store, region_type: str | None, region: str | int | None
) -> None:
    """Refuse an unknown state or MSA code before a bulk run spends a call on it."""
    region_type, region = resolve_region(region_type, region)
    if region_type == "national":
        return
    codes = {r.code for r in await known_regions(api, store) if r.type == region_type}
    if region not in codes:
        raise UsageError(
            f"{region!r} is not a known {region_type} code; "
            f"'bulkfetch regions --type {region_type}' lists them"
        )


async def labor_market(
    api: LaborMarket,
    input_path: str | Path,
    *,
    by: By,
    column: str,
    out: str | Path,
    region_type: str | None = None,
    region: str | int | None = None,
    fields: Sequence[str] | None = None,
    include_skills: bool = False,
    msa_fallback: bool = False,
    **options: Unpack[BulkOptions],
) -> RunReport:
    """Add labor-market data to every row of a CSV file of SOC or CIP codes.

    Codes are packed 25 to a request (CIP too, once answers say which code an occupation
    came from), split back per code, and stored per code.
    """

    def make_lookup(code: str) -> Lookup:
        return api.lookup(
            code,
            by=by,
            region_type=region_type,
            region=region,
            fields=fields,
            include_skills=include_skills,
            msa_fallback=msa_fallback,
        )

    probe = make_lookup("15-1252" if by == "soc" else "11.0701")  # bad options fail here
    api.prepare(by)
    template = {k: v for k, v in probe.params if k != "code"}
    return await bulk_file(
        api,
        input_path,
        column=column,
        out=out,
        make_lookup=make_lookup,
        template={"endpoint": probe.endpoint, "origin": api.origin, **template},
        before=lambda store: check_region(api, store, region_type, region),
        **options,
    )
