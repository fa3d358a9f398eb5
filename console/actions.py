"""What an operator may do from the console: replay a dead letter, resolve a review item. Each is audited.

A replay goes to the workers by task name and runs workers.replay.replay, the function behind
`paysync dlq replay`: the run resumes at its failed step through the flows the workers use.
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import abort, flash, g, redirect, request, url_for

from console import auth, queries
from flows import review
from schemas.masking import mask_text

log = logging.getLogger("paysync.console")
MAX_NOTE = 2000


def operator_only(view):
    """Only an operator may do this; a viewer gets a 403 and an audit line."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if g.user.role != "operator":
            auth.audit(g.db_url, g.user.name, f"denied:{request.endpoint}", request.path, outcome="denied",
                       remote_addr=request.remote_addr or "")
            abort(403, "Only an operator may do this.")
        return view(*args, **kwargs)
    return guarded


def register(app) -> None:
    send_replay = app.extensions["paysync"]["send_replay"]

    @app.post("/dead-letters/<int:letter_id>/replay")
    @operator_only
    def replay(letter_id: int):
        found = queries.dead_letter(g.db_url, letter_id)
        if found is None:
            abort(404, f"There is no dead letter {letter_id}.")
        letter, _ = found
        where = request.form.get("back") or url_for("letter", letter_id=letter_id)
        if letter.status != "open":
            flash(f"Dead letter {letter_id} is {letter.status}, not open: nothing was sent.", "error")
            auth.audit(g.db_url, g.user.name, "replay", f"dead letter {letter_id}", outcome="refused",
                       detail=f"status {letter.status}", remote_addr=request.remote_addr or "")
            return redirect(_local(where))
        try:
            send_replay(letter_id)
        except Exception as exc:  # the broker is down: say so, change nothing
            log.warning("replay of dead letter %s could not be sent: %s: %s", letter_id, type(exc).__name__, exc)
            auth.audit(g.db_url, g.user.name, "replay", f"dead letter {letter_id}", outcome="failed",
                       detail=type(exc).__name__, remote_addr=request.remote_addr or "")
            flash("The workers' queue could not be reached; nothing was replayed. Try again in a minute.", "error")
            return redirect(_local(where))
        auth.audit(g.db_url, g.user.name, "replay", f"dead letter {letter_id}",
                   detail=f"run {letter.run_id} from step {letter.step or 'start'}", remote_addr=request.remote_addr or "")
        flash(f"Replay of dead letter {letter_id} sent: the run starts again at "
              f"“{(letter.step or 'the start').replace('_', ' ')}”. This page shows its progress.", "ok")
        return redirect(_local(where))

    @app.post("/review/<int:item_id>/resolve")
    @operator_only
    def resolve(item_id: int):
        note = request.form.get("note", "").strip()
        if not note:
            flash("Write a note saying what was done or decided; it is kept with the item.", "error")
            return redirect(url_for("review"))
        try:
            item = review.resolve(g.db_url, item_id, who=g.user.name, note=mask_text(note[:MAX_NOTE]))
        except LookupError:
            abort(404, f"There is no review item {item_id}.")
        auth.audit(g.db_url, g.user.name, "resolve", f"review item {item_id}", detail=note[:MAX_NOTE],
                   remote_addr=request.remote_addr or "")
        flash(f"Review item {item_id} ({item.reference}) resolved.", "ok")
        return redirect(_local(request.form.get("back") or url_for("review")))


def _local(target: str) -> str:
    """Only paths of this console are followed after a form (never another site)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
