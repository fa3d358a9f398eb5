"""Raw calls to Sage X3: SOAP classic web services (zeep) to write, REST api1 to read, and its error policy.

Every answer becomes data or an error in one place (`validate` for answers, `failure` for calls
that raised; the policy tables below), whichever side it came from: SOAP or api1.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Iterable
from urllib.parse import quote, urlencode, urlsplit

import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from connectors import gate
from connectors.errors import (ConfigurationError, ConnectorError, NotFoundError, PermanentError, RateLimitedError,
                               RetriableError, SkippableError, ValidationError)
from connectors.http import HttpClient, environment_session, retry_after_seconds
from connectors.sage_x3 import answers, mapping
from connectors.sage_x3.config import SageX3Config

SYSTEM = "sage_x3"
WSS = "http://www.adonix.com/WSS"
WSDL_PATH = "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
ENDPOINT_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
REQUEST_CONFIG = "adxwss.optreturn=JSON&adxwss.beautify=false&adxwss.trace.on=off"
MAX_PAGES = 50  # a lookup by reference never legitimately needs more; stops a looping $next

# -- the error policy, as a table (docs/sage-x3.md "Errors") ------------------------------------
# SOAP type-3 message text -> error class; first match wins, anything else is a ValidationError.
MESSAGE_POLICY: tuple[tuple[str, type[ConnectorError]], ...] = (
    ("locked record", RetriableError),                    # another user holds the record
    ("change in progress on another workstation", RetriableError),
    ("no web services accepted", RetriableError),         # the pool has no free child
    ("record that already exists", SkippableError),       # a second save of the same key
    ("not published", ConfigurationError),                # SAGEX3_PUB_* names a web service the site lacks
)
# api1 HTTP status -> error class, when the $diagnoses severity does not say "transient".
REST_POLICY: dict[int, type[ConnectorError]] = {
    400: PermanentError, 401: ConfigurationError, 403: ConfigurationError, 404: NotFoundError,
    409: SkippableError, 422: ValidationError, 429: RateLimitedError,
}
# api1 answers that say they failed, whatever their HTTP status (SData severities [C]).
FAILING_SEVERITIES = frozenset({"error", "fatal", "transient"})
MISSING_TEXT = ("does not exist", "not found")
_FIELD_AT_START = re.compile(r"(?:^|:\s)([A-Z][A-Z0-9]{2,11})\s:\s")

# X3's WSDL imports the SOAP-encoding schema by namespace only; zeep would fetch it from the
# internet on every start, so the part it needs (soapenc:Array and its attributes) ships here.
_SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
_SOAPENC_XSD = f"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{_SOAPENC}" targetNamespace="{_SOAPENC}">
 <xs:attribute name="arrayType" type="xs:string"/><xs:attribute name="offset" type="xs:string"/>
 <xs:attribute name="root" type="xs:boolean"/>
 <xs:attributeGroup name="arrayAttributes"><xs:attribute ref="tns:arrayType"/><xs:attribute ref="tns:offset"/>
 </xs:attributeGroup>
 <xs:attributeGroup name="commonAttributes"><xs:attribute name="id" type="xs:ID"/>
  <xs:attribute name="href" type="xs:anyURI"/><xs:anyAttribute namespace="##other" processContents="lax"/>
 </xs:attributeGroup>
 <xs:group name="Array"><xs:sequence>
  <xs:any namespace="##any" minOccurs="0" maxOccurs="unbounded" processContents="lax"/></xs:sequence></xs:group>
 <xs:complexType name="Array"><xs:group ref="tns:Array" minOccurs="0"/>
  <xs:attributeGroup ref="tns:arrayAttributes"/><xs:attributeGroup ref="tns:commonAttributes"/></xs:complexType>
 <xs:element name="Array" type="tns:Array"/>
</xs:schema>""".encode()


class _Transport(Transport):
    """zeep's transport with the SOAP-encoding schema served from here, not the internet; a 429, or a
    503 with Retry-After, pauses every worker's X3 calls (connectors/gate.py) and is retried later,
    as the REST side's are (zeep alone would see an empty body and call it a permanent failure)."""

    def load(self, url: str) -> bytes:
        if url.rstrip("/") == _SOAPENC.rstrip("/"):
            return _SOAPENC_XSD
        return super().load(url)

    def post(self, address: str, message: Any, headers: dict) -> requests.Response:
        response = super().post(address, message, headers)
        wait = retry_after_seconds(response)
        if response.status_code == 429 or (response.status_code == 503 and wait):
            gate.current().pause(SYSTEM, wait if wait else 1.0)
            raise RateLimitedError(f"HTTP {response.status_code}: X3 asked to slow down", retry_after=wait or 1.0,
                                   status=response.status_code, system=SYSTEM, operation="soap")
        return response


class SageX3Client:
    """SOAP save/read/modify/query on published web services, and api1 reads; errors from the one tree."""

    def __init__(self, config: SageX3Config) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        secret = f"{config.username}:{config.password.reveal()}".encode()
        auth = {"Authorization": "Basic " + base64.b64encode(secret).decode()}
        self.rest = HttpClient(self.base_url, system=SYSTEM, timeout=config.timeout, retries=config.retries,
                               headers=auth)
        self.session = environment_session(self.base_url)  # zeep's transport, for the SOAP pool
        self.session.headers.update({"User-Agent": "paysync/0.1", **auth})
        self._service: Any = None
        self._keys_type: Any = None
        self._key_type: Any = None

    # ---- SOAP -----------------------------------------------------------------------------
    def _soap(self) -> Any:
        """The bound service, built on first use from the server's own WSDL."""
        if self._service is None:
            t = self.config.timeout
            try:
                client = zeep.Client(f"{self.base_url}{WSDL_PATH}?wsdl",
                                     transport=_Transport(session=self.session, timeout=t, operation_timeout=t),
                                     settings=zeep.Settings(strict=False, xsd_ignore_sequence_order=True))
            except (requests.RequestException, zeep.exceptions.Error) as exc:
                raise failure(exc, operation="wsdl") from exc
            self._keys_type = client.get_type(f"{{{WSS}}}ArrayOfCAdxParamKeyValue")
            self._key_type = client.get_type(f"{{{WSS}}}CAdxParamKeyValue")
            # Bind to our base URL: the WSDL's address is whatever host name Syracuse believes it has.
            self._service = client.create_service(f"{{{WSS}}}CAdxWebServiceXmlCCSoapBinding",
                                                  f"{self.base_url}{ENDPOINT_PATH}")
        return self._service

    def context(self) -> dict[str, str]:
        """CAdxCallContext; since V12 the user travels in Basic auth, not in codeUser/password."""
        c = self.config
        return {"codeLang": c.code_lang, "poolAlias": c.pool_alias, "poolId": "", "requestConfig": REQUEST_CONFIG}

    def _keys(self, keys: dict[str, str]) -> Any:
        return self._keys_type([self._key_type(key=k, value=v) for k, v in keys.items()])

    def _call(self, operation: str, public_name: str, *args: Any, fields: Iterable[str] = ()) -> Any:
        label = f"{operation} {public_name}"
        service = self._soap()
        try:
            with gate.current().slot(SYSTEM):
                answer = getattr(service, operation)(self.context(), public_name, *args)
        except (requests.RequestException, zeep.exceptions.Error) as exc:
            raise failure(exc, operation=label) from exc
        return validate(answer, operation=label, fields=fields)

    def save(self, public_name: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self._call("save", public_name, json.dumps(obj), fields=mapping.field_names(obj))

    def read(self, public_name: str, keys: dict[str, str]) -> dict[str, Any]:
        self._soap()
        return self._call("read", public_name, self._keys(keys), fields=keys)

    def modify(self, public_name: str, keys: dict[str, str], obj: dict[str, Any]) -> dict[str, Any]:
        self._soap()
        return self._call("modify", public_name, self._keys(keys), json.dumps(obj), fields=mapping.field_names(obj))

    def query(self, public_name: str, keys: dict[str, str], list_size: int = 20) -> list[dict[str, Any]]:
        self._soap()
        rows = self._call("query", public_name, self._keys(keys), list_size, fields=keys)
        return rows if isinstance(rows, list) else next(iter(rows.values()), []) if rows else []

    # ---- REST api1 ------------------------------------------------------------------------
    def _get(self, path: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.rest.request("GET", path, operation=operation, idempotent=True, params=params)
        return validate(response, operation=operation)

    def rest_query(self, cls: str, where: str = "", count: int = 100,
                   max_pages: int = MAX_PAGES) -> list[dict[str, Any]]:
        """Every `$query` resource matching `where` (all of them when empty), following `$links.$next`."""
        operation = f"GET {cls}.$query"
        params = {"representation": f"{cls}.$query", **({"where": where} if where else {}), "count": count}
        # Spaces as %20, not '+': not every Syracuse front end reads '+' in a query as a space.
        query = urlencode(params, quote_via=quote, safe="$'")
        path: str | None = f"/api1/x3/erp/{self.config.endpoint}/{cls}?{query}"
        out: list[dict[str, Any]] = []
        for _ in range(max_pages):
            page = self._get(path, operation)
            out.extend(page.get("$resources") or [])
            path = ((page.get("$links") or {}).get("$next") or {}).get("$url")
            if not path:
                return out
            path = self._relative(path)
        raise PermanentError(f"{cls}: more than {max_pages} pages for {where or 'everything'}", system=SYSTEM,
                             operation=operation)

    def rest_sample(self, cls: str, count: int = 5) -> list[dict[str, Any]]:
        """The first `count` resources of a class, one page only: a read-only probe (`paysync doctor`)."""
        query = urlencode({"representation": f"{cls}.$query", "count": count}, quote_via=quote, safe="$'")
        return list(self._get(f"/api1/x3/erp/{self.config.endpoint}/{cls}?{query}", f"GET {cls}.$query")
                    .get("$resources") or [])

    def _relative(self, url: str) -> str:
        """A `$next` URL made relative to our base (Syracuse may name itself by another host)."""
        if url.startswith(self.base_url):
            return url[len(self.base_url):]
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def rest_details(self, cls: str, key: str) -> dict[str, Any]:
        quoted = quote(key.replace("'", "''"), safe="~-_.")
        return self._get(f"/api1/x3/erp/{self.config.endpoint}/{cls}('{quoted}')", f"GET {cls}.$details",
                         {"representation": f"{cls}.$details"})

    def close(self) -> None:
        self.rest.close()
        self.session.close()


# -- validate: the one place where X3 answers and failed calls become data or errors --------------
def validate(answer: Any, *, operation: str, fields: Iterable[str] = ()) -> Any:
    """A CAdxResultXml -> its parsed resultXml; an api1 response -> its JSON; else raise."""
    if isinstance(answer, requests.Response):
        return _rest_answer(answer, operation)
    return _soap_answer(answer, operation, list(fields))


def _messages(result: Any) -> list[tuple[str, str]]:
    items = getattr(result, "messages", None) or []
    items = getattr(items, "_value_1", items) or []  # a soapenc array zeep did not unwrap
    return [(str(m["type"]).strip(), str(m["message"] or "")) for m in items]


def _soap_answer(result: Any, operation: str, fields: list[str]) -> Any:
    status = int(getattr(result, "status", 0) or 0)
    messages = _messages(result)
    if status == 1:
        return answers.parse_result(getattr(result, "resultXml", None))
    errors = [text for kind, text in messages if kind == "3"] or [text for _, text in messages]
    text = "; ".join(errors) or "X3 refused the call without a message"
    kw = {"system": SYSTEM, "operation": operation, "status": 200, "body": text}
    lowered = text.lower()
    for needle, cls in MESSAGE_POLICY:
        if needle in lowered:
            raise cls(text, **kw)
    if operation.startswith("read ") and "does not exist" in lowered:
        raise NotFoundError(text, **kw)
    raise ValidationError(text, field=_field(text, fields), **kw)


def _field(message: str, fields: list[str]) -> str | None:
    """The field a message names: the earliest field we sent, else a code before ' : '."""
    found = [(m.start(), f) for f in fields for m in [re.search(rf"\b{re.escape(f)}\b", message)] if m]
    if found:
        return min(found)[1]
    match = _FIELD_AT_START.search(message)
    return match.group(1) if match else None


def _rest_answer(response: requests.Response, operation: str) -> dict[str, Any]:
    kw = {"system": SYSTEM, "operation": operation, "status": response.status_code, "body": response.text}
    try:
        body = response.json()
    except ValueError:
        body = None
    diagnoses = [d for d in ((body.get("$diagnoses") or []) if isinstance(body, dict) else []) if isinstance(d, dict)]
    severities = {str(d.get("$severity", "")).lower() for d in diagnoses}
    if response.status_code < 300:
        if not isinstance(body, dict):
            raise PermanentError("api1 answered something that is not a JSON object", **kw)
        failed = [d for d in diagnoses if str(d.get("$severity", "")).lower() in FAILING_SEVERITIES]
        if not failed:
            return body
        # A 200 that still says it failed (a published guide shows "Record does not exist" so): a miss
        # or a failure, never data.
        text = "; ".join(str(d.get("$message")) for d in failed)
        if "transient" in severities:
            raise RetriableError(text, retry_after=retry_after_seconds(response), **kw)
        if any(needle in text.lower() for needle in MISSING_TEXT):
            raise NotFoundError(text, **kw)
        raise PermanentError(text, **kw)
    text = "; ".join(str(d.get("$message")) for d in diagnoses) or response.reason or "error"
    cls = REST_POLICY.get(response.status_code)
    if "transient" in severities or (cls is None and response.status_code >= 500):
        cls = RateLimitedError if response.status_code == 429 else RetriableError
    if cls is None:
        cls = PermanentError
    if issubclass(cls, RetriableError):
        raise cls(text, retry_after=retry_after_seconds(response), **kw)
    if cls is ValidationError:
        raise ValidationError(text, field=next((d["$payloadPath"] for d in diagnoses if d.get("$payloadPath")), None),
                              **kw)
    raise cls(text, **kw)


def failure(exc: BaseException, *, operation: str) -> ConnectorError:
    """The error to raise for a call that raised `exc` instead of answering."""
    kw: dict[str, Any] = {"system": SYSTEM, "operation": operation}
    if isinstance(exc, requests.Timeout):
        # A save that timed out may have been written: the step above looks the reference up first.
        return RetriableError("timed out waiting for X3 (licence exhausted or pool stalled?)", **kw)
    if isinstance(exc, requests.ConnectionError):
        return RetriableError(f"connection failed: {type(exc).__name__}", **kw)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:  # fetching the WSDL
        status = exc.response.status_code
        cls = ConfigurationError if status in (401, 403, 404) else RetriableError
        return cls(f"WSDL: HTTP {status}", status=status, body=exc.response.text, **kw)
    if isinstance(exc, zeep.exceptions.Fault):
        text = exc.message or "SOAP fault"
        if "pool alias" in text.lower():
            return ConfigurationError(text, status=500, body=text, **kw)
        return RetriableError(text, status=500, body=text, **kw)  # the pool, not X3, answered
    if isinstance(exc, zeep.exceptions.TransportError):
        status, body = exc.status_code, exc.content.decode(errors="replace") if isinstance(exc.content, bytes) \
            else str(exc.content or "")
        if status in (401, 403):
            return ConfigurationError(f"HTTP {status}: check SAGEX3_USERNAME/PASSWORD", status=status, body=body, **kw)
        if status == 429:
            return RateLimitedError(f"HTTP 429: {body[:200]}", retry_after=1.0, status=status, body=body, **kw)
        cls = RetriableError if status >= 500 or "no web services accepted" in body.lower() else PermanentError
        return cls(f"HTTP {status}: {body[:200]}", status=status, body=body, **kw)
    # A garbled envelope (a proxy's error page, a cut answer): the outcome is unknown, so retry
    # after the reference lookup rather than give up.
    return RetriableError(f"unreadable SOAP answer: {type(exc).__name__}: {exc}", **kw)
