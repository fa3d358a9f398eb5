"""PayTrace transaction -> the ERP documents that record it (the spine's built-in rules).

The references are deterministic (`PT<transaction id>-<step>`), short enough for Sage 50's
20-character limit, so every create can be looked up before it is made.
"""
from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.domain import (Customer, GatewayTransaction, JournalEntry, JournalLine, OrderLine, Payment,
                            PostingRules, SalesOrder)

__all__ = ["PostingRules", "reference", "ref", "customer_for", "sales_order_for", "invoice_for", "payment_for",
           "journal_for"]

STEP_CODES = {"sales_order": "SO", "invoice": "INV", "payment": "RCP", "journal": "JE",
              "credit_memo": "CM", "refund": "RFD", "void": "VD", "void_journal": "VJE", "chargeback": "CB",
              "on_account": "OA"}


#: Reference prefix by PayTrace payment type: checks are numbered apart from card transactions, so
#: check 1234 and card sale 1234 must never share a reference.
PREFIXES = {"CARD": "PT", "ACH": "PTA"}


def reference(transaction_id: int, step: str, payment_type: str = "CARD") -> str:
    return f"{PREFIXES[payment_type]}{transaction_id}-{STEP_CODES[step]}"


#: Any reference paysync writes itself (card or check): PT123-INV, PTA123-RCP, ...
OURS = re.compile(r"^(?:%s)\d+-[A-Z]+$" % "|".join(sorted(PREFIXES.values(), key=len, reverse=True)))


def is_ours(reference: str) -> bool:
    """True for a reference paysync generated (its own order, invoice, receipt...)."""
    return bool(OURS.match(reference or ""))


def review_reference(txn: GatewayTransaction, pair: str = "default") -> str:
    """What a review item about the transaction is keyed by: its pair, payment type and id."""
    base = f"{PREFIXES[txn.payment_type]}{txn.transaction_id}"
    return base if pair == "default" else f"{pair}:{base}"


def ref(txn: GatewayTransaction, step: str) -> str:
    """The reference of the document `step` writes for `txn` (card or check)."""
    return reference(txn.transaction_id, step, txn.payment_type)


def customer_id_for(txn: GatewayTransaction, max_length: int = 20) -> str:
    """The vault customer id when there is one; else a stable hash of who paid."""
    if txn.customer_id:
        return erp_customer_id_for_profile(txn.customer_id, max_length)
    b = txn.billing
    return _hashed_customer_id("|".join(s.strip().lower() for s in (b.name, b.postal_code, txn.email)), max_length)


def erp_customer_id_for_profile(profile_id: str, max_length: int = 20) -> str:
    """The ERP customer id of a PayTrace vault profile: `PT-<vault id>`, or a stable hash when too long.

    Sales by the profile (customer_id_for) and the customer sync (flows/customers.py) both use it,
    so a profile and its payments land on one ERP customer.
    """
    candidate = f"PT-{profile_id}"
    if len(candidate) <= max_length:
        return candidate
    return _hashed_customer_id("vault:" + profile_id, max_length)


def _hashed_customer_id(seed: str, max_length: int) -> str:
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
    return SalesOrder(ref(txn, "sales_order"), customer_id, local_date(txn, rules),
                      _lines(txn, rules), invoice_id=txn.invoice_id)


def invoice_for(txn: GatewayTransaction, customer_id: str, order_key: str | None, rules: PostingRules) -> SalesOrder:
    return SalesOrder(ref(txn, "invoice"), customer_id, local_date(txn, rules),
                      _lines(txn, rules), order_ref=order_key, invoice_id=txn.invoice_id)


def payment_for(txn: GatewayTransaction, customer_id: str, invoice_key: str | None, rules: PostingRules) -> Payment:
    return Payment(ref(txn, "payment"), customer_id, local_date(txn, rules), txn.amount,
                   invoice_key, rules.cash_account, rules.payment_method)


def journal_for(txn: GatewayTransaction, rules: PostingRules) -> JournalEntry:
    """Move the receipt from undeposited funds to card clearing until the batch settles."""
    card = f"{txn.card_brand} {txn.masked_card[-4:]}".strip() if txn.masked_card else txn.card_brand
    text = f"PayTrace {txn.transaction_id} {card}"
    return JournalEntry(
        ref(txn, "journal"), local_date(txn, rules), text,
        (JournalLine(rules.clearing_account, txn.amount, text),
         JournalLine(rules.cash_account, -txn.amount, text)),
    )
