"""Labor Market Intelligence (US; the Mapademics Embedded API): occupations and labor-market
data by SOC or CIP codes, up to 25 codes a request, nationally or by state or MSA.

``POST {base}/v1/labor-market-intelligence/by-soc`` (or ``by-cip``) with a JSON body;
``GET {base}/v1/labor-market-intelligence/regions``. The platform key travels as
``Authorization: Bearer``; in production an end-customer key travels in a header too.

What the provider's pages leave unconfirmed (the region field's name, the MSA-fallback
flag's name, the customer-key header, how a CIP answer says which code an occupation came
from, the code that means "quota exceeded") lives in :class:`WireNames`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bulkfetch import speedups
from bulkfetch.adapter import Reply
from bulkfetch.apis.labormarket import answers
from bulkfetch.apis.labormarket.adapter import Codes
from bulkfetch.apis.labormarket.codes import normalise, resolve_region
from bulkfetch.apis.labormarket.models import LaborMarketResult, Region, codes_of, result_of
from bulkfetch.apis.labormarket.wire import (
    BASE_URLS,
    MAX_CODES,
    NAME,
    PATH,
    By,
    Environment,
    WireNames,
)
from bulkfetch.errors import (
    ApiError,
    BadResponseError,
    InvalidInputError,
)
from bulkfetch.http import (
    MAX_ANSWER_BYTES,
    Answer,
    HttpClient,
    key_fingerprint,
)
from bulkfetch.jobs import Lookup
from bulkfetch.policy import StatusPolicy

__all__ = ["CodesOperation", "LaborMarket"]

_OPTIONS = ("region_type", "region", "fields", "include_skills", "msa_fallback")


class LaborMarket(HttpClient):
    """A Labor Market Intelligence client: calls for your code, and the requests bulk runs
    send (their adapter and writer, one kind of code each: :class:`~.adapter.Codes`).

    ``async with LaborMarket("pk_test_...") as api: result = await api.by_soc(["15-1252"])``
    """

    name = NAME

    def __init__(
        self,
        platform_key: str,
        *,
        customer_key: str | None = None,
        environment: Environment = "test",
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        rate: float | None = None,
        max_attempts: int = 5,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
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
        # Its one difference from every API's: a refused key whose code (or message) says
        # quota is the package spent (the docs leave the code open: WireNames).
        self._policy = StatusPolicy(quota_codes=self.wire.quota_codes, quota_words=("quota",))
        super().__init__(
            base_url or BASE_URLS[environment],
            session=session,
            timeout=timeout,
            rate=rate,
            max_attempts=max_attempts,
            secrets=(platform_key, customer_key),
            max_answer_bytes=max_answer_bytes,
        )
        self._platform_key = platform_key
        self._customer_key = customer_key
        # Whether CIP answers say which input code each occupation matched: unknown until an
        # answer with an occupation in it has been read. Until then, one CIP code a request,
        # one request at a time (the adapter is probing: the engine waits for each answer).
        self._cip_attribution: bool | None = None
        self._notices: list[str] = []

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self._platform_key, self._customer_key)

    def spec(self) -> dict[str, Any]:
        wire = {
            name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in dataclasses.asdict(self.wire).items()
        }
        return {
            "api": NAME,
            "base_url": self._base_url,
            "environment": self.environment,
            "timeout": self.timeout,
            "max_answer_bytes": self.max_answer_bytes,
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
        :func:`~bulkfetch.apis.labormarket.codes.resolve_region`): never answered nationally.
        """
        code = normalise(by, code)
        region_type, region = resolve_region(region_type, region)
        params = {
            "code": code,
            "regionType": region_type,
            "region": region,
            "fields": ",".join(fields or ()),
            "includeSkills": "true" if include_skills else "",
            "msaFallback": "true" if msa_fallback and region_type == "msa" else "",
        }
        return Lookup.of(NAME, self._base_url, f"by-{by}", params)

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
        key = "|".join(lookup.fingerprint for lookup in lookups)
        data = await self._caller.call(key, lambda: self._ask(lookups))
        return result_of(data, self.wire)

    async def regions(self, type: str | None = None) -> list[Region]:
        """The regions the API knows (national, states by FIPS code, MSAs)."""
        path = f"{PATH}/regions"

        async def ask() -> Any:
            params = {"type": type} if type else None
            return self._read(await self.send("GET", path, params=params, headers=self._headers()))

        data = await self._caller.call(f"regions|{type}", ask)
        try:
            return [
                Region(str(item["type"]), str(item["code"]), str(item["label"])) for item in data
            ]
        except (KeyError, TypeError):
            raise BadResponseError(
                "the regions answer has an unexpected shape", endpoint=path
            ) from None

    def operation(self, method: str, query: Mapping[str, Any]) -> CodesOperation:
        """The bulk form of ``by_soc`` or ``by_cip`` with these options: one lookup a code,
        25 codes a request (``fetch_many`` and ``bulkfetch labor-market`` run it)."""
        if method not in ("by_soc", "by_cip"):
            raise TypeError(f"LaborMarket.{method} has no bulk form: use by_soc or by_cip")
        unknown = set(query) - set(_OPTIONS)
        if unknown:
            raise TypeError(f"LaborMarket.{method} takes no {', '.join(sorted(unknown))}")
        by: By = "soc" if method == "by_soc" else "cip"
        probe = self.lookup("15-1252" if by == "soc" else "11.0701", by=by, **query)
        return CodesOperation(self, by, dict(query), probe)

    # -- what bulk runs send --------------------------------------------------------------

    @property
    def cip_attribution(self) -> bool | None:
        """Whether CIP answers say which input code each occupation matched (None: no
        answer with an occupation read yet)."""
        return self._cip_attribution

    @property
    def notices(self) -> Sequence[str]:
        return tuple(self._notices)

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        answer = await self._send(lookups)
        remaining, reset_in = self.rate_news(answer)
        data = self._read(answer)
        codes = [lookup.param("code") for lookup in lookups]
        if lookups[0].endpoint == "by-soc":
            per_code = answers.split_soc(data, codes)
        else:
            if len(codes) == 1:
                self._learn_attribution(data.get("matchedOccupations") or [])
            per_code = answers.split_cip(data, codes, self.wire.cip_attribution_field)
        results = [
            answers.code_result(answer.status, lookup, per_code.get(lookup.param("code")), data)
            for lookup in lookups
        ]
        return Reply(results, remaining=remaining, reset_in=reset_in)

    def _learn_attribution(self, occupations: Sequence[Mapping[str, Any]]) -> None:
        if self._cip_attribution is not None or not occupations:
            return
        self._cip_attribution = all(
            codes_of(o.get(self.wire.cip_attribution_field)) for o in occupations
        )
        if not self._cip_attribution:
            self._notices.append(
                "CIP answers do not say which input code each occupation came from, so CIP "
                "codes are sent one a request (each code is still one lookup, billed once)"
            )

    # -- the wire -----------------------------------------------------------------------

    async def _ask(self, lookups: Sequence[Lookup]) -> Any:
        return self._read(await self._send(lookups))

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
        return await self.send(
            "POST", f"{PATH}/{first.endpoint}", headers=self._headers(), json=body
        )

    def _read(self, answer: Answer) -> Any:
        """The ``data`` of a 200, or the typed error the answer means."""
        try:
            parsed = speedups.loads(answer.text)
        except ValueError:
            parsed = None
        if self._policy.succeeded(answer):
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
        return self._policy.error(answer, text, code=code)


@dataclass(frozen=True, slots=True)
class CodesOperation:
    """SOC or CIP codes of one client, with one set of options, in bulk."""

    api: LaborMarket
    by: By
    options: Mapping[str, Any]
    probe: Lookup  # a lookup made with these options: they hold

    @property
    def client(self) -> Codes:
        """What its runs call and write: the adapter of its kind of code."""
        return Codes(self.api, self.by)

    @property
    def template(self) -> Mapping[str, str]:
        shared = {k: v for k, v in self.probe.params if k != "code"}
        return {"endpoint": self.probe.endpoint, "origin": self.api.origin, **shared}

    def lookup(self, value: str) -> Lookup:
        return self.api.lookup(value, by=self.by, **self.options)

    def result(self, body: str, lookup: Lookup) -> LaborMarketResult:
        return answers.kept_result(body, self.api.wire)
