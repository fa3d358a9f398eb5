"""Flask app factory and routes for the Sage 50 bridge-agent simulator (docs/sage50-bridge-api.md)."""
from __future__ import annotations

import hmac
import random
import socket
import time
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .faults import Faults
from .fields import SageError, bad_request, parse_json_object
from .query import (CUSTOMER_FILTERS, INVOICE_FILTERS, PAGING, TRANSACTION_FILTERS, customer_filter, page_of,
                    transaction_filter)
from .state import Sage50State

ABORTED = "aborted"  # the stats "status" of a request answered by dropping the connection
_HTTP_TYPES = {404: "NotFound", 405: "MethodNotAllowed", 413: "BadRequest", 415: "BadRequest"}
# Filters each list endpoint accepts; anything else is refused so a misspelt filter cannot
# silently return every record (which would defeat a lookup-before-create idempotency check).
# Every list also pages (`limit`, `cursor`): docs/sage50-bridge-api.md "Lists: filters and paging".
_TRANSACTION_FILTERS = {
    "sales_orders": TRANSACTION_FILTERS,
    "invoices": TRANSACTION_FILTERS + INVOICE_FILTERS,
    "payments": TRANSACTION_FILTERS,
    "journal_entries": ("reference_number", "date_from", "date_to"),
    "credit_memos": TRANSACTION_FILTERS,
    "customer_refunds": TRANSACTION_FILTERS,
    "receipt_voids": TRANSACTION_FILTERS,
}


def _is_agent_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _error_response(err: SageError) -> Response:
    response = jsonify(err.body())
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _query(allowed: Iterable[str]) -> dict[str, str]:
    allowed = tuple(allowed)
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) or "none"
        raise bad_request(f"unknown filter(s): {', '.join(unknown)} (accepted: {accepted})",
                          unknown[0])
    return {name: request.args[name] for name in allowed if name in request.args}


def _body() -> dict[str, Any]:
    return parse_json_object(request.get_data(), request.content_type)


def _created(record: dict[str, Any], location: str) -> tuple[Response, int, dict[str, str]]:
    return jsonify(record), 201, {"Location": location}


class _DownSwitch:
    """WSGI middleware for the `down` fault: /v1 requests get no HTTP answer at all.

    Under SandboxServer (and werkzeug's dev server) the client socket is in
    `environ["werkzeug.socket"]`: it is shut down and ConnectionAbortedError raised, which the
    server treats as a dropped connection, so the client sees the connection closed with no status
    line (requests raises ConnectionError). Other WSGI servers (or the Flask test client) get 503
    ServiceUnavailable without Retry-After instead.
    """

    def __init__(self, app: Flask, wsgi_app: Callable, state: Sage50State, faults: Faults) -> None:
        self.app, self.wsgi_app, self.state, self.faults = app, wsgi_app, state, faults

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not (_is_agent_path(environ.get("PATH_INFO", "")) and self.faults.down):
            return self.wsgi_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            rule, _ = self.app.url_map.bind_to_environ(environ).match(return_rule=True)
            template = rule.rule
        except HTTPException:
            template = "<unmatched>"
        self.state.record_fault("down")
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            self.state.record_request(method, template, ABORTED)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client may already have gone; either way nothing is answered
            raise ConnectionAbortedError("sandbox fault 'down': connection dropped")
        self.state.record_request(method, template, 503)
        err = SageError(503, "ServiceUnavailable", "The Sage 50 bridge agent is down")
        with self.app.app_context():
            return _error_response(err)(environ, start_response)


def create_app(
    api_key: str = "demo-key",
    seed: bool = True,
    seed_rng: random.Random | int | None = None,
) -> Flask:
    """Build the simulator; `seed` loads the chart of accounts and products, `seed_rng`
    (a Random or an int) makes Keys and fault draws reproducible."""
    rng = seed_rng if isinstance(seed_rng, random.Random) else random.Random(seed_rng)
    # Two derived rngs so fault draws do not shift the sequence of record Keys, or vice versa.
    state = Sage50State(seed=seed, rng=random.Random(rng.getrandbits(64)))
    faults = Faults(random.Random(rng.getrandbits(64)))

    app = Flask(__name__)
    app.json.sort_keys = False  # keep the SDK-like field order (ID, Name, ... Balance)
    app.config.update(SAGE50_STATE=state, SAGE50_FAULTS=faults, SAGE50_API_KEY=api_key)
    app.wsgi_app = _DownSwitch(app, app.wsgi_app, state, faults)  # type: ignore[method-assign]
    expected = f"Bearer {api_key}".encode()

    # ---- cross-cutting: latency, auth, faults, stats, errors --------------------------------
    @app.before_request
    def _agent_gate() -> None:
        if not _is_agent_path(request.path):
            return
        state.arrive(time.time())
        g.arrived = True
        delay = faults.latency_seconds()
        if delay > 0:
            state.record_fault("latency")
            time.sleep(delay)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise SageError(401, "Unauthorized", "missing or wrong agent api key",
                            headers={"WWW-Authenticate": "Bearer"})
        fault = faults.request_fault()
        if fault is not None:
            kind, err = fault
            state.record_fault(kind)
            raise err

    @app.teardown_request
    def _left(_exc) -> None:
        if g.pop("arrived", False):
            state.leave()

    @app.after_request
    def _count(response: Response) -> Response:
        if _is_agent_path(request.path):
            template = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            state.record_request(request.method, template, response.status_code)
        return response

    @app.errorhandler(SageError)
    def _sage_error(err: SageError) -> Response:
        return _error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        code = err.code or 500
        response = _error_response(
            SageError(code, _HTTP_TYPES.get(code, "BadRequest"), err.description or str(err))
        )
        if code == 405 and err.get_headers():
            response.headers.update({k: v for k, v in err.get_headers() if k == "Allow"})
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        app.logger.exception("sage50 sandbox: unexpected error")
        return _error_response(SageError(500, "InternalError", f"{type(err).__name__}: {err}"))

    # ---- customers -----------------------------------------------------------------------
    @app.get("/v1/customers")
    def list_customers() -> Response:
        q = _query(CUSTOMER_FILTERS + PAGING)
        return jsonify(state.list_customers(customer_filter(q), page_of(q)))

    @app.post("/v1/customers")
    def create_customer():
        record = state.create_customer(_body(), faults.records_in_use())
        return _created(record, f"/v1/customers/{record['ID']}")

    @app.get("/v1/customers/<path:customer_id>")
    def get_customer(customer_id: str) -> Response:
        _query(())
        return jsonify(state.get_customer(customer_id))

    @app.put("/v1/customers/<path:customer_id>")
    def update_customer(customer_id: str) -> Response:
        return jsonify(state.update_customer(customer_id, _body(), faults.records_in_use()))

    # ---- products and accounts -----------------------------------------------------------
    @app.get("/v1/products")
    def list_products() -> Response:
        _query(())
        return jsonify({"items": state.list_products()})

    @app.post("/v1/products")
    def create_product():
        record = state.create_product(_body())
        return _created(record, f"/v1/products/{record['ID']}")

    @app.get("/v1/products/<path:product_id>")
    def get_product(product_id: str) -> Response:
        _query(())
        return jsonify(state.get_product(product_id))

    @app.put("/v1/products/<path:product_id>")
    def update_product(product_id: str) -> Response:
        return jsonify(state.update_product(product_id, _body()))

    @app.get("/v1/accounts")
    def list_accounts() -> Response:
        _query(())
        return jsonify({"items": state.list_accounts()})

    # ---- transactions (immutable: list, create, get by Key) ------------------------------
    creators: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "sales_orders": lambda body: state.create_sales_order(body, faults.records_in_use()),
        "invoices": lambda body: state.create_invoice(body, faults.records_in_use()),
        "payments": lambda body: state.create_payment(body, faults.records_in_use()),
        "journal_entries": state.create_journal_entry,
        "credit_memos": lambda body: state.create_credit_memo(body, faults.records_in_use()),
        "customer_refunds": lambda body: state.create_customer_refund(body, faults.records_in_use()),
        "receipt_voids": lambda body: state.create_receipt_void(body, faults.records_in_use()),
    }
    for kind in _TRANSACTION_FILTERS:
        _add_transaction_routes(app, state, kind, creators[kind])

    # ---- notes: the one edit a posted sales order or invoice takes (docs: "Statuses") -------
    def _patch_notes(kind: str) -> Callable[[str], Response]:
        def view(key: str) -> Response:
            return jsonify(state.update_notes(kind, key, _body(), faults.records_in_use()))
        return view

    for kind in ("sales_orders", "invoices"):
        app.add_url_rule(f"/v1/{kind}/<key>", f"patch_{kind}", _patch_notes(kind), methods=["PATCH"])

    # ---- sandbox-only control endpoints (no api key: they are not part of the agent) -------
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
    def sandbox_set_faults() -> Response:
        return jsonify(faults.update(_body()))

    @app.delete("/_sandbox/faults")
    def sandbox_clear_faults() -> Response:
        return jsonify(faults.clear())

    @app.get("/_sandbox/stats")
    def sandbox_stats() -> Response:
        return jsonify(state.stats())

    @app.delete("/_sandbox/products/<path:product_id>")
    def sandbox_delete_product(product_id: str) -> Response:
        return jsonify({"deleted": state.delete_product(product_id)})

    return app


def _add_transaction_routes(
    app: Flask, state: Sage50State, kind: str, create: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """GET list (with the kind's filters), POST, and GET by Key for one transaction kind."""

    def list_view() -> Response:
        q = _query(_TRANSACTION_FILTERS[kind] + PAGING)
        return jsonify(state.list_records(kind, transaction_filter(kind, q), page_of(q)))

    def create_view():
        record = create(_body())
        return _created(record, f"/v1/{kind}/{record['Key']}")

    def get_view(key: str) -> Response:
        _query(())
        return jsonify(state.get_record(kind, key))

    app.add_url_rule(f"/v1/{kind}", f"list_{kind}", list_view, methods=["GET"])
    app.add_url_rule(f"/v1/{kind}", f"create_{kind}", create_view, methods=["POST"])
    app.add_url_rule(f"/v1/{kind}/<key>", f"get_{kind}", get_view, methods=["GET"])
