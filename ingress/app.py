"""The ingress app: 202 only after the inbox row is committed; a repeat answers 200 and sends nothing.

It enqueues by task name through the one Celery app, so the web process never loads flows or ERP
clients. If the enqueue fails after the commit, the event is still safe: the sweeper sends it.
"""
from __future__ import annotations

import logging
from typing import Callable

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from config.settings import Settings, get_settings
from db.inbox import mark_enqueued, store_event
from db.session import get_engine
from ingress.bodies import UnsupportedBody, json_media_type, parse_json_object, problem as _problem
from ingress.signatures import SignatureError, verify
from ingress.store import register_store_routes
from schemas.events import ChargebackSchema, SilentPostSchema, WebhookEventSchema, parse_silent_post
from ingress.silent_post import SilentPostGuard
from schemas.masking import find_card_data, install_log_masking, keyed_id, mask_text

log = logging.getLogger("paysync.ingress")
Enqueue = Callable[[int], None]


def celery_enqueue(inbox_id: int) -> None:
    from config.celery import send_ingest

    send_ingest(inbox_id)


def create_app(settings: Settings | None = None, enqueue: Enqueue | None = None) -> Flask:
    settings = settings or get_settings()
    enqueue = enqueue or celery_enqueue
    app = Flask("paysync.ingress")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    db_url = settings.database_url
    id_key = settings.id_hash_key.reveal().encode()
    silent_guard = SilentPostGuard(settings)
    # One instance per schema: building a marshmallow schema per request cost ~5% of a webhook's CPU.
    schemas = {cls: cls() for cls in (WebhookEventSchema, ChargebackSchema)}

    pairs = settings.pair_names

    def accept(source: str, event_id: str, event_type: str, transaction_id: int, payload: dict,
               pair: str | None = None):
        pair = pair or settings.pair
        if pair not in pairs:
            return _problem(404, f"no integration pair {mask_text(pair)!r}", pairs=list(pairs))
        # An id from outside is a key: one that carries a card-like number is stored masked and
        # keyed by an HMAC, so repeats are still found and the number is nowhere.
        event_id = keyed_id(event_id, id_key)
        hits = find_card_data(payload)
        if hits:
            # Masked before the insert; the paths (never the values) go to the log.
            log.warning("card data masked in %s event %s at %s", source, event_id, ", ".join(hits[:5]))
        try:
            inbox_id, created = store_event(db_url, source=source, event_id=event_id,
                                            event_type=event_type, transaction_id=transaction_id, payload=payload,
                                            pair=pair)
        except DataError as exc:
            # The database refuses this content (a value it cannot store): the sender must change
            # it, so a retry-later answer would only loop. The log keeps the reason, not the data.
            log.warning("inbox refused %s event %s: %s", source, event_id, type(exc.orig).__name__)
            return _problem(400, "payload holds a value that cannot be stored")
        except SQLAlchemyError:
            log.error("inbox write failed for %s event %s; answering 503", source, event_id)
            return _problem(503, "storage unavailable; retry later")
        if not created:
            return jsonify({"status": "duplicate", "inbox_id": inbox_id}), 200
        try:
            enqueue(inbox_id)
            mark_enqueued(db_url, inbox_id)
        except Exception:  # the row is committed: the sweeper enqueues it, so the 202 stands
            log.exception("enqueue failed for inbox %s; the sweeper will send it", inbox_id)
        return jsonify({"status": "accepted", "inbox_id": inbox_id}), 202

    def signed_json(schema):
        """Read, verify and validate a signed JSON push: (event id, payload, loaded) or an error answer."""
        if not json_media_type(request.mimetype, request.mimetype_params.get("charset", "").lower() or None):
            return _problem(415, "send the body as application/json in UTF-8")
        # Read at most one byte past the limit. A chunked body has no Content-Length to refuse early,
        # and werkzeug would silently cut it at the limit, so it is read from the server's own stream.
        source = request.stream if request.content_length is not None else request.environ["wsgi.input"]
        body = source.read(settings.max_body_bytes + 1)
        if len(body) > settings.max_body_bytes:
            return too_large(None)
        try:
            event_id = verify(body, request.headers, [s.reveal() for s in settings.webhook_secrets],
                              tolerance=settings.webhook_tolerance_seconds)
        except SignatureError as exc:
            return _problem(401, str(exc))
        try:
            payload = parse_json_object(body)
        except UnsupportedBody as exc:
            return _problem(415, str(exc))
        except ValueError as exc:
            return _problem(400, str(exc))
        try:
            return event_id, payload, schemas[schema].load(payload)
        except ValidationError as exc:
            return _problem(400, "invalid event", fields=exc.normalized_messages())

    # Each route also answers under /pairs/<pair>/ for a deployment serving several PayTrace
    # accounts (PAYSYNC_PAIRS); without the prefix an event is the default (first) pair's.
    @app.post("/webhooks/paytrace")
    @app.post("/pairs/<pair>/webhooks/paytrace")
    def webhook(pair: str | None = None):
        answer = signed_json(WebhookEventSchema)
        if not isinstance(answer, tuple) or len(answer) != 3:
            return answer
        event_id, payload, event = answer
        return accept("webhook", event_id, event["type"], event["data"]["transaction_id"], payload, pair)

    @app.post("/webhooks/chargebacks")
    @app.post("/pairs/<pair>/webhooks/chargebacks")
    def chargeback(pair: str | None = None):
        """A chargeback case pushed by the processor's portal or a case tool, signed like the webhooks."""
        answer = signed_json(ChargebackSchema)
        if not isinstance(answer, tuple) or len(answer) != 3:
            return answer
        _, payload, case = answer
        # The case id is the idempotency key: the same case pushed twice (or also imported) is one.
        return accept("chargeback", f"cb:{case['case_id']}", "chargeback", case["transaction_id"], payload, pair)

    @app.post("/webhooks/paytrace/silent-post")
    @app.post("/pairs/<pair>/webhooks/paytrace/silent-post")
    def silent_post(pair: str | None = None):
        refusal = silent_guard.refuse(request.remote_addr, request.args.get("token"))
        if refusal is not None:
            return _problem(refusal.status, refusal.reason, refusal.headers)
        if request.content_length and request.mimetype not in ("application/x-www-form-urlencoded",
                                                               "multipart/form-data"):
            return _problem(415, "send the silent post as a form (application/x-www-form-urlencoded)")
        parm_list = request.form.get("parmList") or request.form.get("parmlist")
        if not parm_list:
            return _problem(400, "missing form field parmList")
        try:
            fields = SilentPostSchema().load(parse_silent_post(parm_list))
        except ValidationError as exc:
            return _problem(400, "invalid silent post", fields=exc.normalized_messages())
        txn = fields["TRANSACTIONID"]
        # Unsigned and only a hint: the worker re-reads the transaction from PayTrace.
        return accept("silent_post", f"txn-{txn}", "silent_post", txn, dict(fields), pair)

    register_store_routes(app, settings, accept)  # store order webhooks (ingress/store.py): the same inbox

    @app.get("/openapi.json")
    def openapi():
        from ingress.openapi import openapi_document

        return jsonify(openapi_document())

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/metrics")
    def metrics():
        from metrics.exposition import serve_metrics

        return serve_metrics(request, settings)

    @app.get("/readyz")
    def readyz():
        checks = {}
        try:
            with get_engine(db_url).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except SQLAlchemyError as exc:
            # Why, in the server's words (first line, no card data, no password: the URL is not in it).
            reason = mask_text(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200])
            checks["database"] = f"down: {type(exc).__name__}: {reason}"
        try:
            from config.celery import celery_app

            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["broker"] = f"down: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc=None):
        return _problem(413, f"body larger than {settings.max_body_bytes} bytes")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # A 405 names the methods that are allowed (RFC 9110 15.5.6); other headers stay the exception's.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods and not any(k == "Allow" for k, _ in headers):
            headers.append(("Allow", ", ".join(exc.valid_methods)))
        return _problem(exc.code or 500, exc.description or exc.name, headers)

    return app


def wsgi_app() -> Flask:
    """gunicorn entry point: `gunicorn 'ingress.app:wsgi_app()'`."""
    from config.logs import setup_logging

    setup_logging("ingress")
    install_log_masking()  # no card number reaches the log, whoever logs it
    return create_app()
