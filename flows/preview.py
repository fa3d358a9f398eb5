"""What a mapping file would make of a PayTrace record: the sale flow's documents, built, never posted.

One preview for every place that shows one (`paysync mapping check`, the console's mapping page):
it calls the same pure builders the workers post with (flows/transform.py, config/mapping.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from config.mapping import (Conversion, convert, normalize_address, payment_type_for, paytrace_status,
                            posting_rules, reference_for, status_for)
from flows import transform
from schemas.domain import Customer, GatewayTransaction, JournalEntry, Payment, SalesOrder
from schemas.mapping import Mapping, PaymentType, StatusTarget
from schemas.masking import mask_payload
from schemas.paytrace import load_transaction

#: The transaction types the sale flow posts (flows/payment_sync.py SYNCED_TYPES).
SALE_TYPES = frozenset({"SALE", "SETTLED", "PENDING"})


@dataclass(frozen=True)
class Preview:
    """What one PayTrace transaction would become in the ERP under a mapping; nothing is posted."""

    transaction: GatewayTransaction
    status: str
    status_target: StatusTarget
    note: str = ""  # why nothing would be posted, when nothing would
    conversion: Conversion | None = None
    payment_type: PaymentType | None = None
    customer: Customer | None = None
    customer_key: str = ""  # the customer's key in the ERP (X3 BPCNUM, Sage Pro CUSTNO)
    sales_order: SalesOrder | None = None
    invoice: SalesOrder | None = None
    payment: Payment | None = None
    journal: JournalEntry | None = None


def preview(mapping: Mapping, record: dict, rates: dict[str, Decimal] | None = None) -> Preview:
    """The documents the sale flow would write for one export record, with the mapping's rules.

    Raises marshmallow.ValidationError for a malformed record and UnmappableError for a payment
    the mapping cannot translate.
    """
    txn = load_transaction(mask_payload(record), mapping.dates.timezone)
    status = paytrace_status(txn)
    target = status_for(mapping, status)
    if txn.is_declined:
        return Preview(txn, status, target, note="declined: nothing is posted to cash")
    if txn.transaction_type not in SALE_TYPES:
        return Preview(txn, status, target, note=f"{txn.transaction_type}: handled by the lifecycle flows")
    conversion = convert(mapping, txn.amount, mapping.paytrace.currency, rates)
    txn = replace(txn, amount=conversion.amount)
    rules = posting_rules(mapping, brand=txn.card_brand)
    customer = transform.customer_for(txn)
    customer = replace(customer, address=normalize_address(mapping, customer.address))
    cid, tid = customer.customer_id, txn.transaction_id

    def ref(doc, step):
        return replace(doc, reference=reference_for(mapping, tid, step))

    return Preview(
        txn, status, target, conversion=conversion, payment_type=payment_type_for(mapping, txn.card_brand),
        customer=customer, customer_key=_erp_customer_key(mapping.erp, cid),
        sales_order=ref(transform.sales_order_for(txn, cid, rules), "sales_order"),
        invoice=ref(transform.invoice_for(txn, cid, "(the sales order)", rules), "invoice"),
        payment=ref(transform.payment_for(txn, cid, "(the invoice)", rules), "payment"),
        journal=ref(transform.journal_for(txn, rules), "journal"),
    )


def _erp_customer_key(erp: str, customer_id: str) -> str:
    if erp == "sage_x3":
        from connectors.sage_x3.config import SageX3Layout
        from connectors.sage_x3.mapping import bpcnum_for

        return bpcnum_for(customer_id, SageX3Layout().bpcnum_length)
    if erp == "sage_pro":
        from connectors.sage_pro.mapping import custno_for

        return custno_for(customer_id)
    return customer_id
