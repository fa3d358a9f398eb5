"""Which ERP invoice a payment pays, and what happens when none, a paid one, or too small a one is found.

The mapping owns the rules (docs/mapping.md): `references.invoice_lookup` is the order in which
the payment's fields are tried against the ERP fields `references.links` names, ending with an
open invoice of the same customer and amount dated within `window_days`; `policies.unmatched`
says what a payment whose invoice cannot be found becomes, and `policies.duplicate` what a
payment for an invoice already paid (or paid beyond what is due) becomes. Nothing is ever
applied to an invoice beyond what is due on it.

The decision is taken once per sale and kept in the step ledger (step "match"), because the
receipt it leads to changes what the ERP says is due: a re-run must follow the first decision,
not re-decide against the invoice it has already paid.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from connectors.base import ErpConnector
from flows import transform
from schemas.domain import GatewayTransaction, InvoiceInfo
from schemas.mapping import Mapping

#: What a decision does with the payment.
APPLY = "apply"  # the whole payment to the invoice found
PARTIAL = "partial"  # what is due to the invoice, the rest as the duplicate policy says (overpayment)
DUPLICATE = "duplicate"  # the invoice found is already paid
UNMATCHED = "unmatched"  # no invoice found
#: Policy words (schemas/mapping.py): create = the payment is a sale of its own (its own order and
#: invoice, as for a web shop); on_account = unapplied cash; review = nothing posted, a person decides;
#: flag = unapplied cash and a review item.
CREATE, ON_ACCOUNT, REVIEW, FLAG = "create", "on_account", "review", "flag"
_VIA_CODES = {"invoice_id": "id", "customer_reference_id": "po", "description": "desc",
              "amount_and_customer": "amt", "": ""}
_VIA_NAMES = {code: name for name, code in _VIA_CODES.items()}


@dataclass(frozen=True)
class Decision:
    """How one payment is posted: to which invoice, how much of it, and what becomes of the rest."""

    outcome: str
    invoice_key: str = ""
    applied: Decimal = Decimal("0.00")  # the part applied to `invoice_key`
    via: str = ""  # the lookup step that found the invoice
    invoice_customer: str = ""  # whose invoice it is: the receipt is that customer's
    invoice_reference: str = ""

    @property
    def matched(self) -> bool:
        return bool(self.invoice_key)

    def rest_policy(self, mapping: Mapping) -> str:
        """What becomes of the part not applied to an invoice: create, on_account, flag or review."""
        if self.outcome == UNMATCHED:
            return mapping.policies.unmatched
        return mapping.policies.duplicate

    def encode(self) -> str:
        """The decision as the ledger keeps it (erp_reference_number, at most 40 characters)."""
        # The invoice's customer is not kept here (it may not fit): it is read from the ERP when needed.
        return f"{self.outcome}:{self.applied}:{_VIA_CODES[self.via]}"

    @classmethod
    def decode(cls, invoice_key: str | None, text: str | None) -> "Decision":
        outcome, applied, via = (text or f"{UNMATCHED}:0.00:").split(":", 3)[:3]
        return cls(outcome, invoice_key or "", Decimal(applied), _VIA_NAMES.get(via, via))

    def describe(self) -> str:
        where = f"invoice {self.invoice_reference or self.invoice_key}" if self.matched else "no invoice"
        how = f" (found by {self.via.replace('_', ' ')})" if self.via else ""
        return {APPLY: f"pays {where}{how}",
                PARTIAL: f"pays {self.applied} due on {where}{how}; the rest is an overpayment",
                DUPLICATE: f"{where}{how} is already paid: a duplicate payment",
                UNMATCHED: "no invoice found by any of the mapping's references"}[self.outcome]


def candidates(erp: ErpConnector, mapping: Mapping, txn: GatewayTransaction, customer_id: str | None,
               day: date) -> Iterable[tuple[str, list[InvoiceInfo]]]:
    """Each lookup step of the mapping, in order, with the invoices it finds (lazily: stop at the first hit)."""
    refs, own = mapping.references, transform.OURS
    tried: set[tuple[str, str]] = set()
    for step in refs.invoice_lookup:
        if step == "amount_and_customer":
            if not customer_id:
                continue
            window = timedelta(days=refs.window_days)
            found = [i for i in erp.open_invoices(customer_id=customer_id, amount=txn.amount,
                                                  dated_from=day - window, dated_to=day + window)
                     if not own.match(i.reference)]
            # Several open invoices of one amount: the oldest is paid first, as a person would.
            yield step, sorted(found, key=lambda i: (i.date, i.reference))[:1]
            continue
        value = str(getattr(txn, step, "") or "").strip()
        field = refs.links.get(step)
        if not value or not field or (field, value) in tried:
            continue
        tried.add((field, value))
        yield step, [i for i in erp.find_invoices(field, value) if not own.match(i.reference)]


def decide(invoice: InvoiceInfo | None, via: str, amount: Decimal, pending: Decimal = Decimal("0.00")) -> Decision:
    """What to do with `amount` given the invoice found (None: not found).

    `pending` is what other payments of ours have been decided onto the invoice but not applied
    yet: it is not due any more, even though the ERP does not know it.
    """
    if invoice is None:
        return Decision(UNMATCHED)
    due = max(invoice.open_amount - pending, Decimal("0.00"))
    base = Decision(APPLY, invoice.key, amount, via, invoice.customer_id, invoice.reference)
    if due <= 0:
        return replace(base, outcome=DUPLICATE, applied=Decimal("0.00"))
    if amount > due:
        return replace(base, outcome=PARTIAL, applied=due)
    return base


def find(erp: ErpConnector, mapping: Mapping, txn: GatewayTransaction, customer_id: str | None,
         day: date) -> tuple[InvoiceInfo | None, str]:
    """The invoice the payment pays by the mapping's chain, and the step that found it."""
    for step, found in candidates(erp, mapping, txn, customer_id, day):
        if len(found) == 1:
            return found[0], step
        if len(found) > 1:
            # One reference on several invoices: prefer the one with something due, then the oldest.
            found.sort(key=lambda i: (i.open_amount <= 0, i.date, i.reference))
            return found[0], step
    return None, ""
