"""The console's read-only pages: payments and their story, the day, dead letters, review, reconciliation, mapping."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import abort, g, redirect, render_template, request, send_file, url_for

from config.mapping import MappingError, active_mapping, rates_for
from console import queries, story as stories
from console.auth import recent_audit

GATEWAYS = (stories.CARD, stories.ACH)


def _today() -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(g.settings.merchant_timezone)).date()


def register(app) -> None:
    @app.get("/")
    def index():
        return redirect(url_for("today"))

    @app.get("/payments")
    def payments():
        q = request.args.get("q", "").strip()[:120]
        found = stories.search(g.db_url, q) if q else []
        if len(found) == 1 and q:
            return redirect(found[0].path)
        return render_template("payments.html", q=q, found=found, searched=bool(q))

    @app.get("/payments/<pair>/<gateway>/<int:transaction_id>")
    def payment(pair: str, gateway: str, transaction_id: int):
        if gateway not in GATEWAYS:
            abort(404, "No such payment type.")
        told = stories.story(g.db_url, pair, gateway, transaction_id)
        if told is None:
            abort(404, f"paysync has not seen PayTrace transaction {transaction_id} for {pair}.")
        return render_template("payment.html", story=told)

    @app.get("/today")
    def today():
        return _day(_today(), live=True)

    @app.get("/days/<day>")
    def day(day: str):
        try:
            when = date.fromisoformat(day)
        except ValueError:
            abort(404, "A day is written YYYY-MM-DD.")
        return _day(when, live=when == _today())

    @app.get("/days")
    def pick_day():
        return redirect(url_for("day", day=request.args.get("day") or _today().isoformat()))

    def _day(when: date, live: bool):
        from datetime import timedelta

        return render_template("day.html", day=when, live=live, pairs_day=queries.day_summary(
            g.db_url, when, g.settings.merchant_timezone), previous=when - timedelta(days=1),
            following=when + timedelta(days=1), today=_today())

    @app.get("/dead-letters")
    def letters():
        status = request.args.get("status", "open")
        return render_template("letters.html", status=status,
                               letters=queries.dead_letters(g.db_url, None if status == "all" else status))

    @app.get("/dead-letters/<int:letter_id>")
    def letter(letter_id: int):
        found = queries.dead_letter(g.db_url, letter_id)
        if found is None:
            abort(404, f"There is no dead letter {letter_id}.")
        return render_template("letter.html", letter=found[0], run=found[1])

    @app.get("/review")
    def review():
        status = request.args.get("status", "open")
        return render_template("review.html", status=status,
                               items=queries.review_items(g.db_url, None if status == "all" else status))

    @app.get("/reconciliation")
    def reconciliation():
        return render_template("reconcile_runs.html", runs=queries.reconcile_runs(g.db_url))

    @app.get("/reconciliation/<int:run_id>")
    def reconcile_run(run_id: int):
        from flows.settlement_report import batch_rows, exceptions

        run = queries.reconcile_run(g.db_url, run_id)
        if run is None:
            abort(404, f"There is no reconciliation run {run_id}.")
        return render_template("reconcile_run.html", run=run, batches=batch_rows(run),
                               exceptions=list(exceptions(g.db_url, run_id, limit=500)))

    @app.get("/reconciliation/<int:run_id>/report.<kind>")
    def reconcile_report(run_id: int, kind: str):
        run = queries.reconcile_run(g.db_url, run_id)
        path = getattr(run, f"report_{kind}", None) if run is not None and kind in ("csv", "html") else None
        if not path:
            abort(404, "That report has not been written.")
        file = Path(path).resolve()
        # Only files the reconciliation wrote into its reports folder are served.
        if g.settings.reports_dir.resolve() not in file.parents or not file.is_file():
            abort(404, "That report is no longer on disk.")
        return send_file(file, mimetype="text/csv" if kind == "csv" else "text/html",
                         as_attachment=kind == "csv", download_name=file.name)

    @app.get("/mapping")
    def mapping():
        pair = request.args.get("pair") or g.settings.pair
        if pair not in g.settings.pair_names:
            abort(404, f"There is no integration pair {pair}.")
        try:
            current = active_mapping(g.settings.for_pair(pair))
        except MappingError as exc:
            return render_template("mapping.html", pair=pair, error=exc.errors, mapping=None, previews=[])
        text = Path(current.source).read_text(encoding="utf-8") if Path(current.source).is_file() else ""
        return render_template("mapping.html", pair=pair, mapping=current, text=text, error=None,
                               previews=_previews(current, queries.recent_records(g.db_url, pair)))

    @app.get("/audit")
    def audit_log():
        return render_template("audit.html", lines=recent_audit(g.db_url))


def _previews(mapping, records: list[dict]) -> list[dict]:
    """`paysync mapping check`'s preview of each sample (flows/preview.py), or why it cannot be made."""
    from marshmallow import ValidationError

    from config.mapping import UnmappableError
    from flows.preview import preview

    rates = rates_for(mapping) if mapping.currency.rates.kind != "table" else None
    out = []
    for record in records:
        try:
            out.append({"preview": preview(mapping, record, rates), "error": None, "id": record.get("transaction_id")})
        except (ValidationError, UnmappableError) as exc:
            out.append({"preview": None, "error": str(exc), "id": record.get("transaction_id")})
    return out
