"""Recurring billing's bookkeeping: its rows in `recurring_charge`, their compare-and-set claims, and what
they tell a person (flows/recurring.py decides; these read and write)."""
from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from connectors.errors import PermanentError
from db.inbox import mark_enqueued, store_event
from db.models import RecurringCharge
from db.session import session_scope
from db.types import utcnow
from flows.recurring_plan import Claim, Line
from flows.review import Finding, file_findings
from schemas.domain import InvoiceInfo

if TYPE_CHECKING:
    from flows.recurring import _Billing

log = logging.getLogger("paysync.recurring")
alert_log = logging.getLogger("paysync.alert")


def _invoice_id(b: _Billing, invoice: InvoiceInfo) -> str | None:
    """The invoice_id to charge with: the invoice's value in the mapping's invoice_id link, else its
    reference; None (and a review item) when it is blank or names other invoices too, because the
    normal chain applies the sale by it and a doubt is settled by it."""
    link = b.ctx.mapping.references.links.get("invoice_id") if b.ctx.mapping is not None else None
    value = (invoice.fields.get(link) or "").strip() if link else ""
    search = link if value else getattr(b.ctx.erp, "invoice_reference_field", None)
    value = value or invoice.reference.strip()
    problem = "" if value else "has no reference to charge it by"
    if value and search in b.ctx.erp.invoice_link_fields:
        others = [i.reference or i.key for i in b.ctx.erp.find_invoices(search, value) if i.key != invoice.key]
        if others:
            problem = f"shares its {search} {value!r} with {', '.join(others[:5])}"
    if not problem:
        return value
    _file(b, "recurring_ambiguous_reference", invoice.key, f"invoice {invoice.reference or invoice.key} {problem}: "
          "not charged, since the payment could not be told apart from the others'", {"invoice": invoice.key})
    b.report.add(_line(invoice, invoice.open_amount, None, "skipped", f"not charged: {problem}"))
    return None


def _dun(b: _Billing, invoice: InvoiceInfo) -> None:
    """Mark the invoice with the dunning status (again, if it was lost) while a decline stands."""
    status = b.recurring.dunning_status
    if invoice.status == status:
        return
    try:
        b.ctx.erp.set_status("invoice", invoice.key, status)
    except (PermanentError, NotImplementedError) as exc:
        _file(b, "recurring_dunning_failed", invoice.key, f"invoice {invoice.reference}: the dunning status "
              f"{status!r} could not be set: {exc}", {"invoice": invoice.key})


def _rows(b: _Billing, invoice_key: str) -> list[RecurringCharge]:
    with session_scope(b.ctx.db_url) as s:
        return list(s.scalars(select(RecurringCharge).where(
            RecurringCharge.pair == b.pair, RecurringCharge.erp == b.erp,
            RecurringCharge.invoice_key == invoice_key).order_by(RecurringCharge.attempt)))


def _swap(b: _Billing, row_id: int, seen: str | None, claim: Claim, **values) -> bool:
    """Take a `charging` row over if nobody changed it since we read it (compare-and-set)."""
    same = RecurringCharge.response.is_(None) if seen is None else RecurringCharge.response == seen
    with session_scope(b.ctx.db_url) as s:
        return s.execute(update(RecurringCharge).where(RecurringCharge.id == row_id,
                                                       RecurringCharge.status == "charging", same)
                         .values(response=claim.text(), updated_at=utcnow(), **values)).rowcount == 1


def _release(b: _Billing, row_id: int, claim: Claim, doubt: str) -> None:
    """Leave the row `charging`, held by no one: whoever looks next asks PayTrace first."""
    try:
        _swap(b, row_id, claim.text(), claim.released(doubt))
    except Exception as exc:  # the claim then runs out with its lease; the doubt is kept all the same
        log.warning("could not release recurring charge %s (%s); its claim expires with the lease", row_id, exc)


def _record(b: _Billing, row_id: int, **values) -> None:
    """Write PayTrace's answer on the row (whoever holds its claim: the answer is the truth)."""
    values["response"] = (values.get("response") or "")[:2000]
    with session_scope(b.ctx.db_url) as s:
        s.execute(update(RecurringCharge).where(RecurringCharge.id == row_id, RecurringCharge.status == "charging")
                  .values(updated_at=utcnow(), **values))


def _send(b: _Billing, row: RecurringCharge, transaction_id: int | None) -> None:
    """Hand the approved sale to the normal chain; the poller would find it too (intake dedupes)."""
    if transaction_id is None:
        _file(b, "recurring_charged_without_id", row.invoice_key, f"invoice {row.invoice_reference} was charged but "
              "PayTrace named no transaction id: find the sale and let it sync", _context(row))
        return
    if b.enqueue is None:
        return
    inbox_id, created = store_event(
        b.ctx.db_url, source="recurring", event_id=f"{transaction_id}:sale", event_type="recurring.sale",
        transaction_id=transaction_id, payload={"invoice_key": row.invoice_key, "invoice_id": row.invoice_reference,
                                                "attempt": row.attempt, "day": b.day.isoformat()}, pair=b.pair)
    if not created:
        return
    try:
        b.enqueue(inbox_id)
        mark_enqueued(b.ctx.db_url, inbox_id)
    except Exception as exc:  # the row is committed: the sweeper sends it
        log.warning("enqueue of recurring sale %s (inbox %s) failed (%s: %s); the sweeper will send it",
                    transaction_id, inbox_id, type(exc).__name__, exc)


def _file(b: _Billing, kind: str, subject: str, reason: str, context: dict) -> None:
    alert_log.warning("REVIEW %s: %s", kind, reason)
    file_findings(b.ctx.db_url, f"recurring:{b.day.isoformat()}",
                  [Finding(kind, f"{b.erp}:{subject}"[:80], reason, {"day": b.day.isoformat(), **context})])


def _context(row: RecurringCharge) -> dict:
    return {"invoice": row.invoice_key, "invoice_id": row.invoice_reference, "profile": row.paytrace_customer_id,
            "amount": str(row.amount), "attempt": row.attempt}


def _due(invoice: InvoiceInfo) -> date:
    return invoice.due_date or invoice.date


def _txn_id(record: dict) -> int | None:
    value = record.get("transaction_id")
    return int(value) if str(value or "").isdigit() else None


def _message(record: dict) -> str:
    return " ".join(str(record.get(k) or "").strip() for k in ("response_code", "status_message", "approval_message")
                    if str(record.get(k) or "").strip())[:500]


def _line(invoice: InvoiceInfo, amount: Decimal | None, attempt: int | None, outcome: str, detail: str) -> Line:
    return Line(invoice.key, invoice.reference, invoice.customer_id, amount, attempt, outcome, detail)


def _row_line(row: RecurringCharge, invoice: InvoiceInfo | None, outcome: str, detail: str) -> Line:
    return Line(row.invoice_key, invoice.reference if invoice else row.invoice_reference, row.erp_customer_id,
                row.amount, row.attempt, outcome, detail)
