"""Flask app factory for the Sage X3 simulator: SOAP classic web services, REST api1 reads, admin routes."""
from __future__ import annotations

from decimal import Decimal

import hmac
import random
import socket
import time
from functools import partial
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import rest, rules, soap
from .faults import Faults, FaultSettingError
from .payload import PayloadError, parse_object, render
from .state import LANGUAGES, X3State

# Default publication (GESAWE) names; WSPAY and WSGAS are assumptions (sage.md §1.1 [I]).
PUBLICATIONS = {"WSBPC": "customers", "WSSOH": "orders", "WSSIH": "invoices", "WSPAY": "payments",
                "WSGAS": "journals"}
BUSY = "No Web services accepted"
_GATED = ("/soap-generic/", "/api1/")  # calls that consume the web-service licence


def _is_ws(path: str) -> bool:
    return path.startswith(_GATED) or path.startswith("/soap-wsdl/")


class _LicenceGate:
    """WSGI middleware: latency, and the exhausted licence that answers slowly, then not at all.

    Past the grace calls the request is held for `hang_ms`, then its socket is shut without a
    status line (SandboxServer exposes it as environ["werkzeug.socket"]), so a client
    sees a read timeout or a dropped connection, never an answer.
    """

    def __init__(self, wsgi_app: Callable, state: X3State, faults: Faults) -> None:
        self.wsgi_app, self.state, self.faults = wsgi_app, state, faults

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(_GATED):
            return self.wsgi_app(environ, start_response)
        delay = self.faults.latency_seconds()
        if delay > 0:
            self.state.record_fault("latency")
            time.sleep(delay)
        verdict, seconds = self.faults.licence_gate()
        if verdict == "slow":
            self.state.record_fault("licence_slow")
            time.sleep(seconds)
        elif verdict == "stop":
            self.state.record_fault("licence_stop")
            # Take the whole request in first, as the server does; unread bytes would otherwise be
            # parsed as a next request on the same (kept-alive) socket.
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            time.sleep(seconds)
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client may have given up already; nothing is answered either way
                raise ConnectionAbortedError("sandbox licence exhausted: connection dropped")
            start_response("504 Gateway Timeout", [("Content-Type", "text/plain")])
            return [b"licence exhausted"]
        return self.wsgi_app(environ, start_response)


def create_app(username: str = "admin", password: str = "admin", pool_alias: str = "SEED", endpoint: str = "SEED",
               seed: bool = True, seed_rng: random.Random | int | None = None,
               publications: dict[str, str] | None = None, *, classes: dict[str, str] | None = None,
               invoice_currency_group: str = "SIH2_1", missing_detail_status: int = rest.MISSING_DETAIL_STATUS) -> Flask:
    """Build the simulator; `seed` loads sites, customers, items, stock and accounts; `seed_rng`
    (a Random or an int) makes fault draws reproducible; `publications` renames the web services.

    A folder set up otherwise: `classes` renames api1 classes ({"SINVOICEV": "ZSIH"}: only ZSIH
    answers); `invoice_currency_group` is where the SIH publication takes CUR (SIH0_1 on a custom
    one); `missing_detail_status` answers a $details read of a missing key with 404 instead of 200.
    """
    rng = seed_rng if isinstance(seed_rng, random.Random) else random.Random(seed_rng)
    state, faults = X3State(seed=seed), Faults(random.Random(rng.getrandbits(64)))
    pubs = dict(publications or PUBLICATIONS)
    renamed = dict(classes or {})  # public name -> the site's name
    by_site_name = {site: public for public, site in renamed.items()}
    savers = {**rules.SAVERS, "invoices": partial(rules.save_invoice, currency_group=invoice_currency_group)}
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config.update(X3_STATE=state, X3_FAULTS=faults)
    app.wsgi_app = _LicenceGate(app.wsgi_app, state, faults)  # type: ignore[method-assign]

    def soap_xml(body: str, status: int = 200) -> Response:
        return Response(body, status, content_type="text/xml; charset=utf-8")

    @app.before_request
    def _auth() -> Response | None:
        if not _is_ws(request.path):
            return None
        auth = request.authorization
        if auth and auth.type == "basic" and hmac.compare_digest(str(auth.username), username) \
                and hmac.compare_digest(str(auth.password), password):
            return None
        if request.path.startswith("/api1/"):
            raise rest.Diagnosis(401, "Authentication failed", code="Unauthorized",
                                 headers={"WWW-Authenticate": 'Basic realm="Sage X3"'})
        return Response("Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="Sage X3"'})

    @app.after_request
    def _count(response: Response) -> Response:
        if _is_ws(request.path) and not request.path.startswith("/soap-wsdl/"):
            state.record_request(g.get("call_name") or f"{request.method} {request.path.split('?')[0]}",
                                 g.get("call_status", response.status_code))
        return response

    @app.errorhandler(rest.Diagnosis)
    def _diagnosis(err: rest.Diagnosis) -> Response:
        response = jsonify(err.body())
        response.status_code = err.status
        response.headers.update(err.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        if request.path.startswith("/api1/"):
            return _diagnosis(rest.Diagnosis(err.code or 500, err.description or str(err), code="BadRequest"))
        if request.path.startswith("/soap-"):
            return soap_xml(soap.fault(err.description or str(err), "soapenv:Client"), err.code or 500)
        return jsonify({"error": err.description}), err.code or 500

    # ---- SOAP classic web services ------------------------------------------------------------
    @app.get(soap.WSDL_PATH)
    def wsdl() -> Response:
        return soap_xml(soap.wsdl(request.host_url))

    @app.post(soap.ENDPOINT_PATH)
    def soap_call() -> Response:
        started = time.monotonic()
        try:
            call = soap.parse_call(request.get_data())
        except soap.EnvelopeError as exc:
            return soap_xml(soap.fault(str(exc), "soapenv:Client"), 500)
        g.call_name = f"SOAP {call.operation} {call.public_name}"
        if call.context.get("poolAlias") != pool_alias:
            return soap_xml(soap.fault(f"Pool alias {call.context.get('poolAlias')!r} is not defined"), 500)
        if faults.pool_busy or faults.draw_error():
            state.record_fault("pool_busy" if faults.pool_busy else "error_rate")
            return soap_xml(soap.fault(BUSY), 500)
        status, messages, result_text = _dispatch(state, faults, pubs, call, savers)
        g.call_status = status
        elapsed = (time.monotonic() - started) * 1000
        return soap_xml(soap.result(call.operation, status, messages, result_text, elapsed))

    # ---- REST api1 ----------------------------------------------------------------------------
    @app.get("/api1/x3/erp/<name>/<path:target>")
    def api1(name: str, target: str) -> Response:
        if name != endpoint:
            raise rest.Diagnosis(404, f"endpoint {name} does not exist", code="EndpointNotFound")
        asked, key = rest.split_target(target)
        if asked in renamed:  # the public name is not this folder's
            raise rest.Diagnosis(404, f"{asked}: unknown class", code="ResourceKindNotFound")
        cls = by_site_name.get(asked, asked)
        g.call_name = f"REST {cls}{'(key)' if key is not None else ''}"
        if faults.draw_error():
            state.record_fault("error_rate")
            raise rest.Diagnosis(503, "Too many sessions: try again later", "transient", headers={"Retry-After": "1"})
        facet = rest.check_representation(asked, request.args.get("representation"), key is not None)
        if key is None:
            def next_url(last: str) -> str:
                args = {k: v for k, v in request.args.items() if k != "key"}
                return f"{request.base_url}?{urlencode({**args, 'key': f'gt.{last}'})}"
            return jsonify(rest.query_page(state, cls, request.args, next_url))
        if facet == "edit" and cls == "BPCUSTOMER" and key in faults.locked():
            # Opening an edit session takes the record's lock; X3 says "transient" while someone holds it.
            raise rest.Diagnosis(503, f"BPCUSTOMER {key}: Locked record", "transient", headers={"Retry-After": "1"})
        return jsonify(rest.detail(state, cls, key, missing_detail_status))

    # ---- sandbox-only control (no auth: not part of X3) ---------------------------------------
    @app.get("/_sandbox/state")
    def sandbox_state() -> Response:
        return jsonify(state.snapshot())

    @app.post("/_sandbox/reset")
    def sandbox_reset() -> Response:
        state.reset()
        return jsonify({"reset": True, "faults": faults.snapshot()})

    @app.get("/_sandbox/faults")
    def sandbox_faults() -> Response:
        return jsonify(faults.snapshot())

    @app.post("/_sandbox/faults")
    def sandbox_set_faults():
        try:
            return jsonify(faults.update(request.get_json(silent=True)))
        except FaultSettingError as exc:
            return jsonify({"error": str(exc)}), 400

    @app.delete("/_sandbox/faults")
    def sandbox_clear_faults() -> Response:
        return jsonify(faults.clear())

    @app.get("/_sandbox/stats")
    def sandbox_stats() -> Response:
        return jsonify(state.stats())

    @app.post("/_sandbox/items")
    def sandbox_add_item():
        body = request.get_json(silent=True)
        try:
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return jsonify(rest.flat("ITMMASTER", body.get("ITMREF", ""), state.add_item(body))), 201
        except (ValueError, ArithmeticError) as exc:
            return jsonify({"error": str(exc)}), 400

    @app.post("/_sandbox/stock")
    def sandbox_receive_stock():
        """A stock receipt (a person's or a purchase's): accepted stock of an item at a site."""
        body = request.get_json(silent=True) or {}
        try:
            with state.lock:
                if body.get("ITMREF") not in state.items:
                    raise ValueError(f"ITMREF {body.get('ITMREF')}: Record does not exist")
                row = {"STOFCY": body.get("STOFCY") or "NA011", "ITMREF": body["ITMREF"], "LOT": body.get("LOT", ""),
                       "STA": "A", "LOC": body.get("LOC") or "A09", "QTYSTU": Decimal(str(body["QTYSTU"])),
                       "CUMALLQTY": Decimal("0")}
                state.stock.append(row)
            return jsonify(rest.flat("STOCK", row["ITMREF"], row)), 201
        except (ValueError, ArithmeticError, KeyError) as exc:
            return jsonify({"error": str(exc)}), 400

    return app


def _dispatch(state: X3State, faults: Faults, pubs: dict[str, str], call: soap.Call, savers: dict
              ) -> tuple[int, list[tuple[int, str]], str | None]:
    """Run one call against the folder: (status, messages, resultXml)."""
    kind = pubs.get(call.public_name)
    if kind is None:
        return 0, [(rules.ERROR, f"{call.public_name} : Web service not published")], None
    lang = call.context.get("codeLang", "")
    if lang not in LANGUAGES:
        return 0, [(rules.ERROR, f"codeLang : {lang} : {rules.MISSING}")], None
    options = dict(p.split("=", 1) for p in call.context.get("requestConfig", "").replace(" ", "").split("&")
                   if "=" in p)
    as_json = options.get("adxwss.optreturn", "").upper() == "JSON"
    try:
        with state.lock:
            if call.operation == "save":
                result: Any = savers[kind](state, parse_object(call.params.get("objectXml")), faults.locked())
                state.record_save(kind)
            elif call.operation == "read":
                result = rules.find(state, kind, call.keys)
            elif call.operation == "modify" and kind == "customers":
                key = dict(call.keys).get("BPCNUM", "")
                result = rules.modify_customer(state, key, parse_object(call.params.get("objectXml")),
                                               faults.locked())
            elif call.operation == "modify" and kind in ("orders", "invoices"):
                key = dict(call.keys).get(rules.GROUPS[kind][2][0], "")
                result = rules.modify_document(state, kind, key, parse_object(call.params.get("objectXml")),
                                               faults.locked())
            elif call.operation == "query":
                header = rules.GROUPS[kind][0]
                size = int(call.params.get("listSize") or 20)
                result = [dict(rec[header]) for rec in state.records[kind].values()
                          if all(str(rec[header].get(k, "")) == v for k, v in call.keys)][:max(size, 0)]
            else:
                raise rules.Refusal(f"{call.public_name} : operation {call.operation} is not allowed")
    except rules.Refusal as refusal:
        return 0, refusal.messages, None
    except (PayloadError, ValueError) as exc:
        return 0, [(rules.ERROR, str(exc))], None
    return 1, [], render(result, as_json)
