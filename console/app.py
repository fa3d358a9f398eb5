"""The console's Flask app: sign-in, sessions, CSRF on every POST, roles, and the pages.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax) holding the user's id and a CSRF
token; the user's role is read again on every request, so a user switched off is out at once.
Nothing here writes a posting: a replay is handed to the workers by task name (the same replay
the CLI runs), a review item is resolved through flows/review.py.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Callable

from flask import Flask, abort, flash, g, redirect, render_template, request, session, url_for

from config.console import ConsoleSettings, get_console_settings, session_key
from config.settings import Settings, get_settings
from console import actions, auth, format as fmt, pages, queries

log = logging.getLogger("paysync.console")
SendReplay = Callable[[int], None]


def celery_replay(letter_id: int) -> None:
    """Ask a worker to replay the letter with workers.replay.replay, the function `paysync dlq replay` runs."""
    from config.celery import INGEST_QUEUE, celery_app

    celery_app.send_task("paysync.replay_dead_letter", args=[letter_id], queue=INGEST_QUEUE)


def create_app(settings: Settings | None = None, console: ConsoleSettings | None = None,
               send_replay: SendReplay | None = None) -> Flask:
    settings = settings or get_settings()
    console = console or get_console_settings()
    app = Flask(__name__)  # templates/ and static/ beside this file
    app.config.update(
        SECRET_KEY=session_key(console).reveal(), SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=console.url.startswith("https://"), SESSION_COOKIE_NAME="paysync_console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=console.session_hours), MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["paysync"] = {"settings": settings, "console": console,
                                 "send_replay": send_replay or celery_replay}
    fmt.install(app, settings.merchant_timezone, settings.currency)

    @app.before_request
    def load_user():
        g.db_url, g.settings, g.console = settings.database_url, settings, console
        g.user = None
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method == "POST":
            given = request.form.get("csrf_token", "")
            if not hmac.compare_digest(given.encode(), session["csrf"].encode()):
                abort(400, "This form has expired or did not come from the console. Go back, reload and try again.")
        if session.get("user_id"):
            g.user = auth.get_user(settings.database_url, session["user_id"])
        public = request.endpoint in ("login", "static", "healthz")
        if g.user is None and not public:
            session.pop("user_id", None)
            return redirect(url_for("login", next=request.full_path if request.method == "GET" else None))
        return None

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def common():
        waiting = queries.counts(settings.database_url) if g.get("user") else {}
        return {"user": g.get("user"), "csrf_token": session.get("csrf", ""), "waiting": waiting,
                "pairs": settings.pair_names, "zone": settings.merchant_timezone}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            return render_template("login.html")
        name = request.form.get("name", "").strip()[:80]
        user = auth.authenticate(settings.database_url, name, request.form.get("password", ""))
        if user is None:
            auth.audit(settings.database_url, name or "(blank)", "login", outcome="refused",
                       remote_addr=request.remote_addr or "")
            flash("That name and password do not match an active user.", "error")
            return render_template("login.html", name=name), 401
        session.clear()  # a fresh session (and CSRF token) for the signed-in user
        session.permanent = True
        session.update(user_id=user.id, csrf=secrets.token_urlsafe(32))
        auth.audit(settings.database_url, user.name, "login", remote_addr=request.remote_addr or "")
        target = request.args.get("next") or ""
        return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("today"))

    @app.post("/logout")
    def logout():
        auth.audit(settings.database_url, g.user.name, "logout", remote_addr=request.remote_addr or "")
        session.clear()
        return redirect(url_for("login"))

    pages.register(app)
    actions.register(app)

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def problem(exc):
        return render_template("problem.html", code=exc.code, message=exc.description), exc.code

    return app


def wsgi_app() -> Flask:
    """gunicorn entry point: `gunicorn 'console.app:wsgi_app()'`."""
    from config.logs import setup_logging

    setup_logging("console")
    return create_app()
