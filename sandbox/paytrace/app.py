"""Flask app factory for the PayTrace v1 simulator: OAuth, the /v1 operations, sandbox admin."""
from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import check_api  # noqa: F401  (registers the /v1/checks operations on import)
from . import codes
from .api import OPERATIONS, Context
from .codes import ApiError
from .formats import dumps, dumps_chunks, is_streamed, loads, timestamp, truthy
from .state import Clock, PayTraceState

STATE_KEY = "PAYTRACE_STATE"

# Doorkeeper's stock message, verbatim [C] (LOGS, AM unit test).
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The provided authorization grant is invalid, expired, revoked, does not "
                         "match the redirection URI used in the authorization request, or was "
                         "issued to another client.",
}
UNSUPPORTED_GRANT = {  # [I] Doorkeeper's default; no PayTrace sample was found
    "error": "unsupported_grant_type",
    "error_description": "The authorization grant type is not supported by the authorization server.",
}
# [I] Doorkeeper's default texts for a bad or expired bearer token.
TOKEN_ERRORS = {"invalid": "The access token is invalid", "expired": "The access token expired"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# NACHA return reasons for the sandbox's check-return control (public NACHA codes).
RETURN_REASONS = {"R01": "Insufficient Funds", "R02": "Account Closed",
                  "R03": "No Account/Unable to Locate Account", "R04": "Invalid Account Number",
                  "R08": "Payment Stopped", "R10": "Customer Advises Not Authorized",
                  "R16": "Account Frozen", "R29": "Corporate Customer Advises Not Authorized"}


#: Every recorded answer says so, charset included [C] (narch/paytracer cassettes).
JSON_TYPE = "application/json; charset=utf-8"


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    """JSON with money as two-decimal numbers (see formats.dumps); a Streamed list goes out in chunks."""
    if is_streamed(payload):
        return Response(dumps_chunks(payload), status=status, content_type=JSON_TYPE, headers=headers)
    return Response(dumps(payload), status=status, content_type=JSON_TYPE, headers=headers)


def _request_json(error: Exception) -> dict[str, Any]:
    """The body as a JSON object ({} when empty); `error` is raised for anything else."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = loads(raw)
    except ValueError:
        raise error from None
    if not isinstance(body, dict):
        raise error
    return body


def _echoes_external_id(path: str) -> bool:
    """Whether an error answer carries `external_transaction_id`: the recorded errors of capture and
    refund do, those of void, checks and customer/create do not [C] (AM fixtures); the rest follow
    their family [I]."""
    return path.startswith("/v1/transactions/") and not path.startswith("/v1/transactions/void")


class _AdminError(Exception):
    """A malformed request to a /_sandbox route."""


def create_app(username: str = "demo", password: str = "demo", integrator_id: str = "PAYSYNC1",
               clock: Clock | None = None, token_ttl: int = 7200, *,
               first_transaction_id: int = 100000000, first_batch_number: int = 1,
               seed: int | None = None, first_check_id: int | None = None,
               answers: dict[str, Any] | None = None, refund_links: bool = False) -> Flask:
    """Build the simulator; its state is at `app.config["PAYTRACE_STATE"]`.

    Check ids start at `first_check_id`, by default the same number as the card transaction ids.
    `answers` sets the account's answering habits (sandbox/paytrace/answers.py), kept over a reset.
    `refund_links` makes refunds export `original_transaction_id`, a link no public source shows
    PayTrace sending: off by default, so paysync is tested on what real records carry.
    """
    state = PayTraceState(username=username, password=password, integrator_id=integrator_id,
                          clock=clock, token_ttl=token_ttl,
                          first_transaction_id=first_transaction_id,
                          first_batch_number=first_batch_number, seed=seed,
                          first_check_id=first_check_id, answers=answers, refund_links=refund_links)
    app = Flask("sandbox.paytrace")
    app.config[STATE_KEY] = state
    app.extensions["paytrace"] = state

    @app.before_request
    def _count() -> None:
        state.count_request(request.path)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        body = error.body()
        if not _echoes_external_id(request.path):
            body.pop("external_transaction_id", None)
        return json_response(body, error.status)

    @app.errorhandler(_AdminError)
    def _admin_error(error: _AdminError) -> Response:
        return json_response({"error": str(error)}, 400)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        # JSON even for 404/405, because clients parse every body they get.
        return json_response({"error": error.name.lower().replace(" ", "_"),
                              "error_description": error.description}, error.code or 500)

    # ----- OAuth (no /v1 prefix [C]) -------------------------------------------------------
    @app.post("/oauth/token")
    def oauth_token() -> Response:
        if request.is_json:  # MOQUI and AM2 post JSON, which apparently works [C]
            try:
                params = _request_json(ValueError())
            except ValueError:
                params = {}  # unreadable JSON then fails as an unsupported grant below
        else:
            params = request.form.to_dict()
        if str(params.get("grant_type", "")) != "password":
            return json_response(UNSUPPORTED_GRANT, 400, NO_STORE)
        granted = state.grant_token(str(params.get("username", "")), str(params.get("password", "")))
        if granted is None:
            return json_response(INVALID_GRANT, 400, NO_STORE)  # [I] 400, not confirmed
        return json_response(granted, 200, NO_STORE)

    # ----- /v1 -----------------------------------------------------------------------------
    def _fault() -> Response | None:
        latency_ms, fail = state.fault_decision()
        if latency_ms:
            time.sleep(latency_ms / 1000)  # outside the state lock, so other requests proceed
        if fail:
            # [I] narch/paytracer maps 503 to "more than 20 requests per second".
            return json_response({"success": False, "status_message": "Service Unavailable"},
                                 503, {"Retry-After": "1"})
        return None

    def _authenticate() -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        reason = "invalid"
        if scheme.lower() == "bearer" and token.strip():
            reason = state.check_token(token.strip())
        if reason is None:
            return None
        text = TOKEN_ERRORS[reason]
        header = f'Bearer realm="Doorkeeper", error="invalid_token", error_description="{text}"'
        return json_response({"error": "invalid_token", "error_description": text}, 401,
                             {"WWW-Authenticate": header})

    @app.route("/v1/ping", methods=["GET", "POST"])
    def ping() -> Response:
        # No authentication and no integrator_id [C]; {"status": "success"} [C] (PayTrace/paytrace_py).
        return _fault() or json_response(codes.PING)

    @app.post("/v1/<path:operation>")
    def v1(operation: str) -> Response:
        failure = _fault()
        if failure is not None:
            return failure
        handler = OPERATIONS.get(operation)
        if operation.startswith("checks/") and not state.answers.checks_api:
            handler = None  # an account whose API has no checks (sandbox answers.checks_api)
        if handler is None:
            return json_response({"error": "not_found",
                                  "error_description": f"No route matches /v1/{operation}"}, 404)
        # Authentication comes before any body check, as an OAuth guard would.
        failure = _authenticate()
        if failure is not None:
            return failure
        body = _request_json(ApiError.one(codes.E_BAD_BODY))
        integrator = body.get("integrator_id")
        if integrator is None or str(integrator).strip() == "":
            raise ApiError.one(codes.E_MISSING, codes.missing("integrator_id"))
        if str(integrator).strip() != state.integrator_id:
            raise ApiError.one(codes.E_INTEGRATOR)
        status, payload = handler(state, body, Context(ip=request.remote_addr or ""))
        return json_response(payload, status)

    _register_admin(app, state)
    return app


def _register_admin(app: Flask, state: PayTraceState) -> None:
    """Sandbox-only routes (not PayTrace's API, no auth) for tests to inspect and steer."""

    def body() -> dict[str, Any]:
        return _request_json(_AdminError("the body must be a JSON object"))

    def number(payload: dict, key: str, default: Any = None) -> Any:
        value = payload.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise _AdminError(f"{key} must be a number")
        return float(value)

    @app.get("/_sandbox/state")
    def admin_state() -> Response:
        return json_response(state.snapshot())

    @app.post("/_sandbox/reset")
    def admin_reset() -> Response:
        state.reset(keep_tokens=truthy(body().get("keep_tokens", False)))
        return json_response({"reset": True})

    @app.route("/_sandbox/clock", methods=["GET", "POST"])
    def admin_clock() -> Response:
        if request.method == "POST":
            try:
                state.advance(number(body(), "advance_seconds", 0))
            except ValueError as error:
                raise _AdminError(str(error)) from None
        now = state.now()
        return json_response({"now": now.isoformat(), "pacific": timestamp(now)})

    @app.post("/_sandbox/expire_tokens")
    def admin_expire_tokens() -> Response:
        return json_response({"expired": state.expire_tokens()})

    @app.get("/_sandbox/stats")
    def admin_stats() -> Response:
        return json_response(state.stats())

    @app.post("/_sandbox/generate")
    def admin_generate() -> Response:
        """Bulk settled traffic for benchmarks: `count` sales (every `refund_every`-th a refund of
        the one before) closed into `batches` batches now (or at `created_at`, ISO 8601 with its
        zone, e.g. yesterday's day for a poller), without the per-sale HTTP round trip."""
        payload = body()
        try:
            when = payload.get("created_at")
            return json_response(state.generate(
                count=int(number(payload, "count", 0)), batches=int(number(payload, "batches", 1)),
                refund_every=int(number(payload, "refund_every", 0)),
                created_at=datetime.fromisoformat(str(when)) if when is not None else None))
        except ValueError as error:
            raise _AdminError(str(error)) from None

    @app.post("/_sandbox/checks/settle")
    def admin_checks_settle() -> Response:
        """Settle every check pending settlement, as the ACH run would (cards: /v1/transactions/settle)."""
        settled = state.checks.settle()
        return json_response({"settled": settled, "count": len(settled)})

    @app.post("/_sandbox/checks/return")
    def admin_checks_return() -> Response:
        """An ACH return days later: {check_transaction_id, ach_code="R01", ach_message}."""
        payload = body()
        check_id = payload.get("check_transaction_id")
        if isinstance(check_id, bool) or not isinstance(check_id, int):
            raise _AdminError("check_transaction_id must be an integer")
        reason = str(payload.get("ach_code") or "R01").upper()
        if not (reason.startswith("R") and reason[1:].isdigit()):
            raise _AdminError("ach_code must be a NACHA return code such as R01")
        ach_message = str(payload.get("ach_message") or RETURN_REASONS.get(reason, "Returned"))
        try:
            # ach_code travels as a number [C]; the NACHA code leads the message [I].
            return json_response({"check": state.checks.mark_returned(check_id, int(reason[1:]),
                                                                     f"{reason} {ach_message}")})
        except ValueError as error:
            raise _AdminError(str(error)) from None

    @app.route("/_sandbox/answers", methods=["GET", "POST"])
    def admin_answers() -> Response:
        """How this account answers where real ones may differ (sandbox/paytrace/answers.py)."""
        if request.method == "GET":
            return json_response(state.answers.snapshot())
        try:
            return json_response(state.answers.update(body()))
        except ValueError as error:
            raise _AdminError(str(error)) from None

    @app.route("/_sandbox/faults", methods=["GET", "POST"])
    def admin_faults() -> Response:
        if request.method == "GET":
            return json_response(state.set_faults())
        payload = body()
        latency = number(payload, "latency_ms")
        try:
            return json_response(state.set_faults(
                error_rate=number(payload, "error_rate"),
                latency_ms=None if latency is None else int(latency)))
        except ValueError as error:
            raise _AdminError(str(error)) from None
