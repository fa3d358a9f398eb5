"""PayTrace transaction -> the ERP documents that record it (the spine's built-in rules).

The references are deterministic (`PT<transaction id>-<step>`), short enough for Sage 50's
20-character limit, so every create can be looked up before it is made.
"""
from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.domain import (Customer, GatewayTransaction, JournalEntry, JournalLine, OrderLine, Payment,
                            PostingRules, SalesOrder)

__all__ = ["PostingRules", "reference", "customer_for", "sales_order_for", "invoice_for", "payment_for",
           "journal_for"]

STEP_CODES = {"sales_order": "SO", "invoice": "INV", "payment": "RCP", "journal": "JE",
              "credit_memo": "CM", "refund": "RFD", "void": "VD", "void_journal": "VJE", "chargeback": "CB",
              "on_account": "OA"}


def reference(transaction_id: int, step: str) -> str:
    return f"PT{transaction_id}-{STEP_CODES[step]}"


def customer_id_for(txn: GatewayTransaction, max_length: int = 20) -> str:
    """The vault customer id when there is one; else a stable hash of who paid."""
    if txn.customer_id:
        candidate = f"PT-{txn.customer_id}"
        if len(candidate) <= max_length:
            return candidate
        seed = "vault:" + txn.customer_id
    else:
        b = txn.billing
        seed = "|".join(s.strip().lower() for s in (b.name, b.postal_code, txn.email))
    digest = base64.b32encode(hashlib.sha1(seed.encode()).digest()).decode()
    return f"PTC-{digest[: max_length - 4]}"


def customer_for(txn: GatewayTransaction, max_length: int = 20) -> Customer:
    cid = customer_id_for(txn, max_length)
    return Customer(customer_id=cid, name=txn.billing.name or f"PayTrace customer {cid}",
                    email=txn.email, address=txn.billing)


def local_date(txn: GatewayTransaction, rules: PostingRules):
    """The merchant's calendar day of the transaction: what documents are dated."""
    return txn.created_at.astimezone(ZoneInfo(rules.timezone)).date()


def _lines(txn: GatewayTransaction, rules: PostingRules) -> tuple[OrderLine, ...]:
    what = txn.description or (f"Invoice {txn.invoice_id}" if txn.invoice_id else "Card payment")
    return (OrderLine(rules.default_item, Decimal("1"), txn.amount,
                      f"PayTrace {txn.transaction_id}: {what}"),)


def sales_order_for(txn: GatewayTransaction, customer_id: str, rules: PostingRules) -> SalesOrder:
    return SalesOrder(reference(txn.transaction_id, "sales_order"), customer_id, local_date(txn, rules),
                      _lines(txn, rules))


def invoice_for(txn: GatewayTransaction, customer_id: str, order_key: str | None, rules: PostingRules) -> SalesOrder:
    return SalesOrder(reference(txn.transaction_id, "invoice"), customer_id, local_date(txn, rules),
                      _lines(txn, rules), order_ref=order_key)


def payment_for(txn: GatewayTransaction, customer_id: str, invoice_key: str | None, rules: PostingRules) -> Payment:
    return Payment(reference(txn.transaction_id, "payment"), customer_id, local_date(txn, rules), txn.amount,
                   invoice_key, rules.cash_account, rules.payment_method)


def journal_for(txn: GatewayTransaction, rules: PostingRules) -> JournalEntry:
    """Move the receipt from undeposited funds to card clearing until the batch settles."""
    card = f"{txn.card_brand} {txn.masked_card[-4:]}".strip() if txn.masked_card else txn.card_brand
    text = f"PayTrace {txn.transaction_id} {card}"
    return JournalEntry(
        reference(txn.transaction_id, "journal"), local_date(txn, rules), text,
        (JournalLine(rules.clearing_account, txn.amount, text),
         JournalLine(rules.cash_account, -txn.amount, text)),
    )
