"""Which ERP invoice a payment pays, and what happens when none, a paid one, or too small a one is found.

The mapping owns the rules (docs/mapping.md): `references.invoice_lookup` is the order in which
the payment's fields are tried against the ERP fields `references.links` names, ending with an
open invoice of the same customer and amount dated within `window_days`; `policies.unmatched`
says what a payment whose invoice cannot be found becomes, and `policies.duplicate` what a
payment for an invoice already paid (or paid beyond what is due) becomes. Nothing is ever
applied to an invoice beyond what is due on it.

What is done with what it finds is decided once, at ingest (flows/decision.py), and kept in the
run's columns: the receipt it leads to changes what the ERP says is due, so a re-run must follow
the first decision, not re-decide against the invoice it has already paid.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

from connectors.base import ErpConnector
from flows import documents
from schemas.domain import GatewayTransaction, InvoiceInfo
from schemas.mapping import Mapping


def candidates(erp: ErpConnector, mapping: Mapping, txn: GatewayTransaction, customer_id: str | None,
               day: date) -> Iterable[tuple[str, list[InvoiceInfo]]]:
    """Each lookup step of the mapping, in order, with the invoices it finds (lazily: stop at the first hit)."""
    refs = mapping.references
    tried: set[tuple[str, str]] = set()
    for step in refs.invoice_lookup:
        if step == "amount_and_customer":
            if not customer_id:
                continue
            window = timedelta(days=refs.window_days)
            found = [i for i in erp.open_invoices(customer_id=customer_id, amount=txn.amount,
                                                  dated_from=day - window, dated_to=day + window)
                     if not documents.is_ours(mapping, i.reference)]
            # Several open invoices of one amount: the oldest is paid first, as a person would.
            yield step, sorted(found, key=lambda i: (i.date, i.reference))[:1]
            continue
        value = str(getattr(txn, step, "") or "").strip()
        field = refs.links.get(step)
        if not value or not field or (field, value) in tried:
            continue
        tried.add((field, value))
        yield step, [i for i in erp.find_invoices(field, value) if not documents.is_ours(mapping, i.reference)]


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
