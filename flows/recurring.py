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

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterator

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from connectors.errors import ChargeInDoubt, PermanentError, RetriableError
from db.inbox import mark_enqueued, store_event
from db.models import CustomerLink, RecurringCharge
from db.session import session_scope
from db.types import utcnow
from flows.documents import is_ours
from flows.ledger import claimer, claimer_dead
from flows.runs import FlowContext, other_runs_pending_on
from flows.review import Finding, file_findings
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
OUTCOMES = ("charged", "declined", "retried", "resolved_after_doubt", "in_doubt", "failed", "skipped")


# -- the report ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """What one run did with one invoice."""

    invoice_key: str
    reference: str
    customer_id: str
    amount: Decimal | None
    attempt: int | None
    outcome: str
    detail: str


@dataclass
class RecurringReport:
    """A run's counts by outcome and one line per invoice it looked at.

    `charged` and `declined` are PayTrace's answers to charges this run made (`retried` counts
    those after a decline too); `resolved_after_doubt` are earlier charges in doubt that PayTrace's
    export settled without charging again; `in_doubt` are those it does not show yet.
    """

    day: date
    enabled: bool = True
    note: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    lines: list[Line] = field(default_factory=list)

    def add(self, line: Line, *also: str) -> None:
        self.lines.append(line)
        for outcome in (line.outcome, *also):
            self.counts[outcome] += 1

    @property
    def in_doubt(self) -> list[Line]:
        return [line for line in self.lines if line.outcome == "in_doubt"]

    def raise_if_in_doubt(self) -> None:
        """Charges PayTrace does not show yet need another look soon: a retriable error says so."""
        if self.in_doubt:
            keys = ", ".join(line.reference or line.invoice_key for line in self.in_doubt)
            raise ChargeInDoubt(f"{len(self.in_doubt)} charge(s) in doubt, not in PayTrace's export yet: {keys}",
                                system="paysync", operation="recurring")


# -- the claim on a `charging` row -------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """Who holds a `charging` row, since when, and when PayTrace was last called for it."""

    by: str | None
    at: datetime | None
    called_at: datetime | None
    doubt: str = ""

    @classmethod
    def calling(cls, previous: "Claim | None" = None) -> "Claim":
        now = utcnow()
        return cls(claimer(), now, now, previous.doubt if previous else "")

    def taken(self) -> "Claim":
        """This process holds it now; the time of the last call is kept."""
        return Claim(claimer(), utcnow(), self.called_at, self.doubt)

    def released(self, doubt: str) -> "Claim":
        return Claim(None, None, self.called_at, doubt[:500])

    def live(self, now: datetime, lease_seconds: float) -> bool:
        """Held by a process that may still be talking to PayTrace about it."""
        return bool(self.by) and self.at is not None and now - self.at < timedelta(seconds=lease_seconds) \
            and not claimer_dead(self.by)

    def text(self) -> str:
        return json.dumps({"claimed_by": self.by, "claimed_at": _iso(self.at), "called_at": _iso(self.called_at),
                           "doubt": self.doubt})

    @classmethod
    def parse(cls, text: str | None, written: datetime) -> "Claim":
        """The claim a row holds; one that cannot be read counts as a call made when the row was written."""
        try:
            data = json.loads(text or "")
            return cls(data.get("claimed_by"), _when(data.get("claimed_at")), _when(data.get("called_at")),
                       data.get("doubt") or "")
        except (ValueError, TypeError, AttributeError):
            return cls(None, None, written, "claim unreadable")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- what the ledger rows call for (pure) ------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The next thing to do for one invoice: charge, settle (a doubt), dun (keep the status) or skip."""

    action: str
    attempt: int = 0
    detail: str = ""


def plan_for(rows: list[RecurringCharge], due: date, day: date, recurring: Recurring) -> Plan:
    """What an invoice's ledger rows call for on `day`."""
    charged = [r for r in rows if r.status == "charged"]
    if charged:
        return Plan("skip", charged[0].attempt, f"already charged (sale {charged[0].transaction_id})")
    latest = max(rows, key=lambda r: r.attempt, default=None)
    if latest is not None and latest.status == "charging":
        return Plan("settle", latest.attempt)
    if latest is not None and latest.status == "declined":
        if latest.next_attempt_on is None:
            return Plan("skip", latest.attempt, "declined; retries exhausted (on the review list)")
        if latest.next_attempt_on > day:
            return Plan("dun", latest.attempt, f"declined; next attempt on {latest.next_attempt_on}")
        return Plan("charge", latest.attempt + 1)
    if latest is not None and latest.status == "failed":
        return Plan("skip", latest.attempt, "refused by PayTrace (on the review list)")
    # No row yet, or the last attempt was superseded (never charged; the invoice is due again).
    if (day - due).days > recurring.max_age_days:
        return Plan("skip", 0, f"due {due}, more than {recurring.max_age_days} days ago: left to a person")
    return Plan("charge", (latest.attempt + 1) if latest else 1)


def next_attempt_on(recurring: Recurring, attempt: int, day: date) -> date | None:
    """When to try again after attempt `attempt` was declined on `day`; None when no retries are left."""
    if attempt > len(recurring.retry_days):
        return None
    return day + timedelta(days=recurring.retry_days[attempt - 1])


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


# -- helpers -----------------------------------------------------------------------------------
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
