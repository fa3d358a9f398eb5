"""Recurring billing: ERP invoices falling due are charged to the customer's PayTrace profile, once.

For one day: the linked profiles (customer_link), the open invoices due by that day of those
customers, and for each the plan its ledger rows (recurring_charge) call for: nothing (charged,
a retry not due yet, retries exhausted), a first charge, a retry after a decline, or settling a
charge left in doubt. Last, the charges in doubt whose invoice is no longer listed as due.

Never twice. A charge is a row committed *before* PayTrace is called; the unique
(pair, erp, invoice, attempt) insert is the claim, so of two racing workers one charges. A row
still `charging` when anyone looks again (a crash or a timeout after the commit) is settled by
asking PayTrace for the invoice's sales by invoice id before anything is charged again. Taking
such a row over is a compare-and-set on it, as in flows/ledger.py: no lock is held while
PayTrace answers. While a row is `charging` its `response` holds the claim (who, since when,
when PayTrace was last called), so a live claim is left alone and a dead one is taken over.

The approved sale goes through the normal chain (inbox, then ingest) and is applied to the
invoice through the mapping's invoice_id link. A decline marks the invoice with the dunning
status and schedules the next attempt (mapping.recurring.retry_days).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.errors import ChargeInDoubt, PermanentError, RetriableError
from db.models import CustomerLink, RecurringCharge
from db.session import session_scope
from db.types import utcnow
from flows.documents import is_ours
from flows.runs import FlowContext, other_runs_pending_on
from flows.recurring_plan import Claim, RecurringReport, next_attempt_on, plan_for
from flows.recurring_rows import (_invoice_id, _dun, _rows, _swap, _release, _record, _send, _file, _context, _due, _txn_id, _message, _line, _row_line)
from schemas.domain import InvoiceInfo
from schemas.mapping import Recurring

log = logging.getLogger("paysync.recurring")
alert_log = logging.getLogger("paysync.alert")

#: How long after a call that ended in doubt PayTrace's silence is believed. A sale still being
#: processed when our read timed out shows in the export only later [I: PayTrace's lag is not
#: documented], and charging again before then could charge twice.
DOUBT_QUIET_SECONDS = 15 * 60
#: Export record types that are not a charge of the invoice (a decline, money given back).
NOT_CHARGES = frozenset({"DECLINED", "REFUND"})
CENT = Decimal("0.01")


# -- one run ---------------------------------------------------------------------------------
@dataclass
class _Billing:
    """One run's context: the systems, the day, and the report being written."""

    ctx: FlowContext
    pair: str
    day: date
    recurring: Recurring
    enqueue: Callable[[int], None] | None
    quiet: timedelta
    report: RecurringReport

    @property
    def erp(self) -> str:
        return self.ctx.erp.kind


def run_recurring(ctx: FlowContext, day: date, *, pair: str | None = None,
                  enqueue: Callable[[int], None] | None = None,
                  quiet_seconds: float = DOUBT_QUIET_SECONDS) -> RecurringReport:
    """Charge what falls due by `day`, settle what is in doubt; safe to run again, or twice at once.

    `pair` is the integration pair (default: the context's). `enqueue` hands an inbox id to the
    normal sync (else the poller finds the sale). A charge PayTrace did not answer raises
    ChargeInDoubt (retriable) and ends the run there.
    """
    recurring = ctx.mapping.recurring if ctx.mapping is not None else Recurring()
    report = RecurringReport(day)
    if not recurring.enabled:
        report.enabled, report.note = False, "recurring billing is off (the mapping's recurring.enabled)"
        return report
    b = _Billing(ctx, pair or getattr(ctx, "pair", "default"), day, recurring, enqueue,
                 timedelta(seconds=quiet_seconds), report)
    profiles = linked_profiles(b)
    seen: set[str] = set()
    for invoice in due_invoices(b, profiles):
        seen.add(invoice.key)
        try:
            bill_invoice(b, invoice, profiles[invoice.customer_id])
        except PermanentError as exc:  # this invoice needs a person; the others go on
            _file(b, "recurring_error", invoice.key, f"invoice {invoice.reference}: {exc}", {"invoice": invoice.key})
            report.add(_line(invoice, None, None, "failed", str(exc)))
    settle_unlisted_doubts(b, seen)
    log.info("recurring %s: %s", day, {k: v for k, v in report.counts.items() if v})
    return report


# -- the steps, in the order they run --------------------------------------------------------
def linked_profiles(b: _Billing) -> dict[str, str]:
    """ERP customer -> the PayTrace profile its invoices are charged to; two profiles are a person's call."""
    with session_scope(b.ctx.db_url) as s:
        rows = s.execute(select(CustomerLink.erp_customer_id, CustomerLink.paytrace_customer_id).where(
            CustomerLink.pair == b.pair, CustomerLink.erp == b.erp, CustomerLink.status == "linked")).all()
    profiles: dict[str, set[str]] = {}
    for customer, profile in rows:
        profiles.setdefault(customer, set()).add(profile)
    for customer, several in profiles.items():
        if len(several) > 1:
            _file(b, "recurring_ambiguous_profile", f"customer:{customer}",
                  f"ERP customer {customer} is linked to {len(several)} PayTrace profiles "
                  f"({', '.join(sorted(several))}); its invoices are not charged until one link is left",
                  {"customer": customer, "profiles": sorted(several)})
    return {customer: several.pop() for customer, several in profiles.items() if len(several) == 1}


def due_invoices(b: _Billing, profiles: dict[str, str]) -> Iterator[InvoiceInfo]:
    """Open invoices due on or before the day (no due date: due on its date) of customers with a profile.

    Never an invoice paysync wrote for a payment (PT<id>-INV: a voided or still-applying sale is
    open, but its money came by card already), nor one a payment of ours is on its way to.
    """
    for invoice in b.ctx.erp.open_invoices(due_by=b.day):
        if invoice.customer_id in profiles and invoice.open_amount > 0 and _due(invoice) <= b.day \
                and not is_ours(b.ctx.mapping, invoice.reference) and not _payment_on_its_way(b, invoice.key):
            yield invoice


def _payment_on_its_way(b: _Billing, invoice_key: str) -> bool:
    """Is a payment of ours decided onto this invoice and not applied yet (charging now could charge twice)?"""
    with session_scope(b.ctx.db_url) as s:
        return other_runs_pending_on(s, invoice_key, 0, b.ctx.erp.kind, b.ctx.pair) > 0


def bill_invoice(b: _Billing, invoice: InvoiceInfo, profile: str) -> None:
    """Do what the invoice's ledger rows call for."""
    rows = _rows(b, invoice.key)
    plan = plan_for(rows, _due(invoice), b.day, b.recurring)
    if plan.action == "settle":
        _settle(b, next(r for r in rows if r.attempt == plan.attempt), invoice)
    elif plan.action == "charge":
        _charge(b, invoice, profile, plan.attempt)
    else:
        if plan.action == "dun":
            _dun(b, invoice)
        b.report.add(_line(invoice, invoice.open_amount, plan.attempt or None, "skipped", plan.detail))


def settle_unlisted_doubts(b: _Billing, seen: set[str]) -> None:
    """Charges in doubt whose invoice is not listed as due any more (paid, perhaps by that very charge)."""
    with session_scope(b.ctx.db_url) as s:
        rows = list(s.scalars(select(RecurringCharge).where(
            RecurringCharge.pair == b.pair, RecurringCharge.erp == b.erp, RecurringCharge.status == "charging")))
    for row in rows:
        if row.invoice_key in seen:
            continue
        try:
            _settle(b, row, None)
        except PermanentError as exc:
            _file(b, "recurring_error", row.invoice_key, f"charge in doubt of invoice {row.invoice_reference}: {exc}",
                  _context(row))
            b.report.add(_row_line(row, None, "failed", str(exc)))


STEPS = (linked_profiles, due_invoices, bill_invoice, settle_unlisted_doubts)


# -- charging ----------------------------------------------------------------------------------
def _charge(b: _Billing, invoice: InvoiceInfo, profile: str, attempt: int) -> None:
    """Claim the attempt with a committed row, then charge."""
    invoice_id = _invoice_id(b, invoice)
    if invoice_id is None:
        return
    claim = Claim.calling()
    try:
        with session_scope(b.ctx.db_url) as s:
            row = RecurringCharge(pair=b.pair, erp=b.erp, invoice_key=invoice.key, invoice_reference=invoice_id,
                                  erp_customer_id=invoice.customer_id, paytrace_customer_id=profile,
                                  amount=invoice.open_amount.quantize(CENT), due_date=_due(invoice), attempt=attempt,
                                  status="charging", response=claim.text())
            s.add(row)
            s.flush()
    except IntegrityError:
        b.report.add(_line(invoice, invoice.open_amount, attempt, "skipped", "another run claimed this attempt"))
        return
    _call(b, row, claim, invoice)


def _call(b: _Billing, row: RecurringCharge, claim: Claim, invoice: InvoiceInfo) -> None:
    """Charge the row's amount; record PayTrace's answer, or leave the row in doubt and raise."""
    try:
        answer = b.ctx.gateway.sale_by_customer(row.paytrace_customer_id, row.amount, invoice_id=row.invoice_reference,
                                                description=f"Invoice {invoice.reference}")
    except PermanentError as exc:  # refused before any money moved (unknown profile, a field)
        _record(b, row.id, status="failed", response=str(exc))
        _file(b, "recurring_failed", invoice.key, f"charge of invoice {invoice.reference} ({row.amount}) to profile "
              f"{row.paytrace_customer_id} refused: {exc}", _context(row))
        b.report.add(_line(invoice, row.amount, row.attempt, "failed", str(exc)))
        return
    except BaseException as exc:
        _release(b, row.id, claim, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, RetriableError):
            raise ChargeInDoubt(f"charge of invoice {invoice.reference} in doubt: {exc}", system=exc.system,
                                operation=exc.operation, status=exc.status, retry_after=exc.retry_after) from exc
        raise
    approved = answer.get("success") is True
    _answered(b, row, invoice, approved, _txn_id(answer), _message(answer), found=False)


def _answered(b: _Billing, row: RecurringCharge, invoice: InvoiceInfo | None, approved: bool,
              transaction_id: int | None, message: str, *, found: bool) -> None:
    """Record PayTrace's answer (given, or found in its export), then what follows from it."""
    also = ("retried",) if row.attempt > 1 and not found else ()
    outcome = "resolved_after_doubt" if found else ("charged" if approved else "declined")
    how = "found in PayTrace's export" if found else "PayTrace answered"
    if approved:
        _record(b, row.id, status="charged", transaction_id=transaction_id, response=message)
        b.report.add(_row_line(row, invoice, outcome, f"{how}: approved, sale {transaction_id}"), *also)
        _send(b, row, transaction_id)
        return
    retry_on = next_attempt_on(b.recurring, row.attempt, b.day)
    _record(b, row.id, status="declined", transaction_id=transaction_id, response=message, next_attempt_on=retry_on)
    then = f"next attempt on {retry_on}" if retry_on else "no retries left"
    b.report.add(_row_line(row, invoice, outcome, f"{how}: declined ({message}); {then}"), *also)
    if invoice is not None:
        _dun(b, invoice)
    if retry_on is None:
        _file(b, "recurring_declined", row.invoice_key, f"invoice {row.invoice_reference}: {row.attempt} charge(s) "
              f"to profile {row.paytrace_customer_id} declined, the last with {message!r}; no retries left",
              _context(row))


# -- settling a charge in doubt -----------------------------------------------------------------
def _settle(b: _Billing, row: RecurringCharge, invoice: InvoiceInfo | None) -> None:
    """Ask PayTrace whether the row's charge happened; charge again only if it clearly did not."""
    now = utcnow()
    claim = Claim.parse(row.response, row.created_at)
    if claim.live(now, b.ctx.lease_seconds):
        b.report.add(_row_line(row, invoice, "skipped", f"being charged right now by {claim.by}"))
        return
    mine = claim.taken()
    if not _swap(b, row.id, row.response, mine):
        b.report.add(_row_line(row, invoice, "skipped", "another run took this charge over"))
        return
    try:
        sale = _find_sale(b, row)
    except BaseException:
        _release(b, row.id, mine, claim.doubt or "PayTrace lookup failed")
        raise
    if sale is not None:
        approved = str(sale.get("transaction_type") or "").upper() not in NOT_CHARGES
        _answered(b, row, invoice, approved, _txn_id(sale), _message(sale), found=True)
        return
    quiet_until = (claim.called_at or row.created_at) + b.quiet
    if now < quiet_until:
        _release(b, row.id, mine, claim.doubt or "no answer from PayTrace")
        b.report.add(_row_line(row, invoice, "in_doubt", f"PayTrace shows no sale for invoice id "
                               f"{row.invoice_reference} yet; charged again after {quiet_until:%Y-%m-%d %H:%M} UTC "
                               f"if it still shows none"))
        return
    if invoice is None:
        _record(b, row.id, status="superseded", response="never charged (PayTrace shows no sale); "
                                                          "the invoice is no longer due")
        b.report.add(_row_line(row, None, "skipped", "never charged, and the invoice is no longer due"))
        return
    # PayTrace shows no charge long after the call: it never happened. Charge under the same row.
    again = Claim.calling(claim)
    amount = invoice.open_amount.quantize(CENT)
    if not _swap(b, row.id, mine.text(), again, amount=amount):
        b.report.add(_row_line(row, invoice, "skipped", "another run took this charge over"))
        return
    row.amount = amount
    _call(b, row, again, invoice)


def _find_sale(b: _Billing, row: RecurringCharge) -> dict | None:
    """PayTrace's record of the row's charge: an approved sale first, else a decline; None if neither.

    Sales for the invoice that earlier attempts recorded are not this attempt's.
    """
    with session_scope(b.ctx.db_url) as s:
        known = set(s.scalars(select(RecurringCharge.transaction_id).where(
            RecurringCharge.pair == row.pair, RecurringCharge.erp == row.erp,
            RecurringCharge.invoice_key == row.invoice_key, RecurringCharge.transaction_id.is_not(None))))
    start = min(row.created_at.date(), b.day) - timedelta(days=1)
    end = max(utcnow().date(), b.day) + timedelta(days=1)
    records = [r for r in b.ctx.gateway.sales_for_invoice(row.paytrace_customer_id, row.invoice_reference, start, end)
               if _txn_id(r) not in known]
    charges = sorted((r for r in records if str(r.get("transaction_type") or "").upper() not in NOT_CHARGES),
                     key=lambda r: _txn_id(r) or 0)
    if len(charges) > 1:
        _file(b, "recurring_double_charge", row.invoice_key,
              f"PayTrace shows {len(charges)} approved sales for invoice id {row.invoice_reference} "
              f"({', '.join(str(_txn_id(r)) for r in charges)}); the first is taken as the charge, refund the others",
              _context(row))
    if charges:
        return charges[0]
    declines = sorted((r for r in records if str(r.get("transaction_type") or "").upper() == "DECLINED"),
                      key=lambda r: _txn_id(r) or 0)
    return declines[-1] if declines else None
