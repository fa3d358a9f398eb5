"""What a mapping file would make of a PayTrace record: the documents the workers would post, never posted.

One preview for every place that shows one (`paysync mapping check`, the console's mapping page):
every document comes from flows/documents.py, the builder the workers post with.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from config.mapping import Conversion, convert, paytrace_status, status_for
from flows import documents
from flows.decision import UNMATCHED, Decision
from flows.intake import load_record
from flows.payment_sync import SYNCED_TYPES
from schemas.domain import CreditMemo, Customer, GatewayTransaction, JournalEntry, Payment, Refund, SalesOrder
from schemas.mapping import Mapping, PaymentType, StatusTarget
from schemas.masking import mask_payload

#: In a dry run no ERP is asked which invoice a payment pays: it is shown as if none is found.
AS_IF_UNMATCHED = Decision(UNMATCHED)


@dataclass(frozen=True)
class Preview:
    """What one PayTrace transaction would become in the ERP under a mapping; nothing is posted.

    Every document comes from flows/documents.py, the builder the workers post with.
    """

    transaction: GatewayTransaction
    status: str
    status_target: StatusTarget
    note: str = ""  # why nothing would be posted, when nothing would
    remark: str = ""  # what a person should know about the documents shown
    conversion: Conversion | None = None
    payment_type: PaymentType | None = None
    customer: Customer | None = None
    customer_key: str = ""  # the customer's key in the ERP (X3 BPCNUM, Sage Pro CUSTNO)
    sales_order: SalesOrder | None = None
    invoice: SalesOrder | None = None
    payment: Payment | None = None
    journal: JournalEntry | None = None
    on_account: Payment | None = None
    credit_memo: CreditMemo | None = None
    refund: Refund | None = None


def preview(mapping: Mapping, record: dict, rates: dict[str, Decimal] | None = None,
            max_reference_length: int = 20) -> Preview:
    """The documents the workers would write for one export record, with the mapping's rules.

    Raises marshmallow.ValidationError for a malformed record and UnmappableError for a payment
    the mapping cannot translate.
    """
    txn = load_record(mask_payload(record), mapping.dates.timezone)
    status = paytrace_status(txn)
    target = status_for(mapping, status)
    if txn.is_declined:
        return Preview(txn, status, target, note="declined: the order is kept and marked; nothing is posted to cash")
    rate = convert(mapping, Decimal(1), mapping.paytrace.currency, rates).rate
    conversion = convert(mapping, txn.amount, mapping.paytrace.currency, rates)
    method = documents.rules_for(mapping, txn).payment_type
    if txn.transaction_type == "REFUND":
        held = documents.Held(customer="(the sale's customer)", invoice="(the sale's invoice)",
                              credit_memo="(the credit memo)")
        docs = documents.refund(mapping, txn, txn, held, rate)
        return Preview(txn, status, target, conversion=conversion, payment_type=method,
                       remark="a refund: its credit memo credits the sale it is linked to at ingest (on account, "
                              "and on the review list, when nothing links it)",
                       credit_memo=docs.credit_memo, refund=docs.refund, journal=docs.journal)
    if txn.transaction_type not in SYNCED_TYPES:
        return Preview(txn, status, target, note=f"{txn.transaction_type}: handled by the lifecycle flows")
    if AS_IF_UNMATCHED.parks(mapping, conversion.amount):
        return Preview(txn, status, target, conversion=conversion, payment_type=method,
                       note="no invoice found (a dry run asks no ERP): parked for a person (policies.unmatched: review)")
    held = documents.Held(sales_order="(the sales order)", invoice="(the invoice)")
    docs = documents.sale(mapping, txn, held, AS_IF_UNMATCHED, rate, max_reference_length)
    return Preview(txn, status, target, conversion=conversion, payment_type=method, customer=docs.customer,
                   customer_key=_erp_customer_key(mapping.erp, docs.customer_key), sales_order=docs.sales_order,
                   invoice=docs.invoice, payment=docs.receipt, journal=docs.journal, on_account=docs.on_account)


def _erp_customer_key(erp: str, customer_id: str) -> str:
    if erp == "sage_x3":
        from connectors.sage_x3.config import SageX3Layout
        from connectors.sage_x3.mapping import bpcnum_for

        return bpcnum_for(customer_id, SageX3Layout().bpcnum_length)
    if erp == "sage_pro":
        from connectors.sage_pro.mapping import custno_for

        return custno_for(customer_id)
    return customer_id


