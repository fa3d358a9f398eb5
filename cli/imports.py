"""`paysync import`: what PayTrace has no API for (chargeback cases from a CSV), stored and sent on."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from cli.common import console, settings_or_exit


@click.group("import")
def import_() -> None:
    """Bring in what PayTrace has no API for."""


@import_.command("chargebacks")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_chargebacks(file: Path) -> None:
    """A CSV of chargeback cases (case_id, transaction_id, amount, reason, date): each posted once.

    Every row is checked first; bad rows are listed with their line and reason and nothing of
    theirs is stored; good rows are stored (a case seen before is a repeat) and sent to the
    workers, or left for the sweeper when the broker cannot be reached.
    """
    import csv

    from marshmallow import ValidationError

    from db.inbox import mark_enqueued, store_event
    from schemas.events import ChargebackSchema
    from schemas.masking import keyed_id, mask_text

    settings = settings_or_exit(broker=True)
    good, bad = [], []
    with open(file, newline="", encoding="utf-8-sig") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            row = {k: v for k, v in row.items() if v != "" or k in ("case_id", "transaction_id", "amount")}
            try:
                good.append((row, ChargebackSchema().load(row)))
            except ValidationError as exc:
                bad.append((line, exc.normalized_messages()))
    for line, errors in bad:
        console.print(f"[red]line {line}[/]: {escape(mask_text(str(errors)))}")
    stored = repeats = 0
    for raw, case in good:
        # The case id is the key, as at the ingress: one with a card-like number is masked and HMAC-keyed.
        event_id = keyed_id(f"cb:{case['case_id']}", settings.id_hash_key.reveal().encode())
        inbox_id, created = store_event(settings.database_url, source="chargeback", event_id=event_id,
                                        event_type="chargeback", transaction_id=case["transaction_id"], payload=raw)
        if not created:
            repeats += 1
            continue
        stored += 1
        try:
            from config.celery import send_ingest

            send_ingest(inbox_id)
            mark_enqueued(settings.database_url, inbox_id)
        except Exception as exc:  # stored: the sweeper sends it; say so rather than fail the import
            console.print(f"case {escape(mask_text(case['case_id']))}: stored, queued later by the sweeper "
                          f"({type(exc).__name__})")
    console.print(f"{stored} chargebacks stored, {repeats} seen before, {len(bad)} rows refused")
    sys.exit(1 if bad else 0)
