"""How one payment is posted: to which ERP invoice, how much of it, and what becomes of the rest.

Pure. flows/matching.py finds the invoice (ERP lookups); `decide` turns what it found into a
Decision, which the sale's run keeps in columns (sync_run.match_*) so every later stage, a retry
and a replay follow the first decision instead of re-deciding against the invoice it has just paid.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from schemas.domain import InvoiceInfo
from schemas.mapping import Mapping

#: What a decision does with the payment.
APPLY = "apply"  # the whole payment to the invoice found
PARTIAL = "partial"  # what is due to the invoice, the rest as the duplicate policy says (overpayment)
DUPLICATE = "duplicate"  # the invoice found is already paid
UNMATCHED = "unmatched"  # no invoice found
OUTCOMES = (APPLY, PARTIAL, DUPLICATE, UNMATCHED)
#: Policy words (schemas/mapping.py): create = the payment is a sale of its own (its own order and
#: invoice, as for a web shop); on_account = unapplied cash; review = nothing posted, a person decides;
#: flag = unapplied cash and a review item.
CREATE, ON_ACCOUNT, REVIEW, FLAG = "create", "on_account", "review", "flag"
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Decision:
    """How one payment is posted: to which invoice, how much of it, and what becomes of the rest."""

    outcome: str
    invoice_key: str = ""
    applied: Decimal = ZERO  # the part applied to `invoice_key`
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

    def own_documents(self, mapping: Mapping) -> bool:
        """True when the payment is a sale of its own: paysync writes its customer, order and invoice."""
        return not self.matched and self.rest_policy(mapping) == CREATE

    def rest(self, amount: Decimal) -> Decimal:
        """The part of `amount` not applied to an invoice found (all of it when none was found)."""
        return max(amount - self.applied, ZERO)

    def parks(self, mapping: Mapping, amount: Decimal) -> bool:
        """True when nothing may be posted: part of the payment is left and the mapping says a person decides."""
        return self.rest(amount) > 0 and self.rest_policy(mapping) == REVIEW

    def describe(self) -> str:
        where = f"invoice {self.invoice_reference or self.invoice_key}" if self.matched else "no invoice"
        how = f" (found by {self.via.replace('_', ' ')})" if self.via else ""
        return {APPLY: f"pays {where}{how}",
                PARTIAL: f"pays {self.applied} due on {where}{how}; the rest is an overpayment",
                DUPLICATE: f"{where}{how} is already paid: a duplicate payment",
                UNMATCHED: "no invoice found by any of the mapping's references"}[self.outcome]


def decide(invoice: InvoiceInfo | None, via: str, amount: Decimal, pending: Decimal = ZERO) -> Decision:
    """What to do with `amount` given the invoice found (None: not found).

    `pending` is what other payments of ours have been decided onto the invoice but not applied
    yet: it is not due any more, even though the ERP does not know it.
    """
    if invoice is None:
        return Decision(UNMATCHED)
    due = max(invoice.open_amount - pending, ZERO)
    base = Decision(APPLY, invoice.key, amount, via, invoice.customer_id, invoice.reference)
    if due <= 0:
        return replace(base, outcome=DUPLICATE, applied=ZERO)
    if amount > due:
        return replace(base, outcome=PARTIAL, applied=due)
    return base
