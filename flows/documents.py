"""The one place that decides which ERP documents a PayTrace transaction becomes.

Pure: from a transaction, the pair's mapping and what the ERP already holds (the keys earlier
stages recorded), it returns the exact documents, with their references, accounts, items,
payment methods and amounts. The workers post what it returns and `paysync mapping check` shows
what it returns; nothing else decides an account, a reference or a code.

References follow the mapping's `references.pattern` (cards) and `references.ach_pattern`
(checks, whose ids are a sequence of their own) with its `codes`, so every create can be looked
up before it is made. Amounts are in the ERP's base currency, converted once with the rate the
run keeps.
"""
from __future__ import annotations

import base64
import hashlib
import re
import string
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache

from config.mapping import (account_for, convert, item_for, local_date as mapping_local_date, normalize_address,
                            payment_type_for, reference_for)
from flows.decision import Decision
from schemas.domain import (CreditMemo, Customer, GatewayTransaction, JournalEntry, JournalLine, OrderLine, Payment,
                            Refund, Reversal, SalesOrder)
from schemas.mapping import Mapping, PaymentType, reference_regex

ACH = "ACH"


# -- references ----------------------------------------------------------------------------------
def pattern_for(mapping: Mapping, payment_type: str = "CARD") -> str:
    refs = mapping.references
    return refs.ach_pattern if payment_type == ACH else refs.pattern


def reference(mapping: Mapping, transaction_id: int, step: str, payment_type: str = "CARD") -> str:
    """The reference of the document `step` writes for a transaction, e.g. PT125391271-INV, PTA88-RCP."""
    return reference_for(mapping, transaction_id, step, pattern_for(mapping, payment_type))


def ref(mapping: Mapping, txn: GatewayTransaction, step: str) -> str:
    return reference(mapping, txn.transaction_id, step, txn.payment_type)


@lru_cache(maxsize=64)
def _ours(pattern: str, codes: tuple[str, ...]) -> re.Pattern[str]:
    return reference_regex(pattern, codes)


def is_ours(mapping: Mapping, reference_text: str) -> bool:
    """True for a reference paysync writes itself under this mapping (its own order, invoice, receipt...)."""
    codes = tuple(mapping.references.codes.values())
    text = (reference_text or "").strip()
    return any(_ours(p, codes).fullmatch(text) for p in (mapping.references.pattern, mapping.references.ach_pattern))


@lru_cache(maxsize=64)
def _step_regex(pattern: str, code: str) -> re.Pattern[str]:
    out = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if name == "transaction_id":
            out.append(r"(?P<id>\d+)")
        elif name == "code":
            out.append(re.escape(code))
    return re.compile("".join(out), re.IGNORECASE)


def transaction_of(mapping: Mapping, reference_text: str, step: str, payment_type: str = "CARD") -> int | None:
    """The transaction id in one of our references of `step`'s document (PT123-RCP -> 123), or None."""
    found = _step_regex(pattern_for(mapping, payment_type), mapping.references.codes[step]).fullmatch(
        (reference_text or "").strip())
    return int(found.group("id")) if found else None


def review_reference(txn: GatewayTransaction, pair: str = "default") -> str:
    """What a review item about the transaction is keyed by: its pair, payment type and id (PT123, PTA123)."""
    base = f"{'PTA' if txn.payment_type == ACH else 'PT'}{txn.transaction_id}"
    return base if pair == "default" else f"{pair}:{base}"


# -- customers -------------------------------------------------------------------------------------
def customer_id_for(txn: GatewayTransaction, max_length: int = 20) -> str:
    """The vault customer id when there is one; else a stable hash of who paid."""
    if txn.customer_id:
        return erp_customer_id_for_profile(txn.customer_id, max_length)
    b = txn.billing
    return _hashed_customer_id("|".join(s.strip().lower() for s in (b.name, b.postal_code, txn.email)), max_length)


def erp_customer_id_for_profile(profile_id: str, max_length: int = 20) -> str:
    """The ERP customer id of a PayTrace vault profile: `PT-<vault id>`, or a stable hash when too long.

    Sales by the profile and the customer sync (flows/customers.py) both use it, so a profile
    and its payments land on one ERP customer.
    """
    candidate = f"PT-{profile_id}"
    if len(candidate) <= max_length:
        return candidate
    return _hashed_customer_id("vault:" + profile_id, max_length)


def _hashed_customer_id(seed: str, max_length: int) -> str:
    digest = base64.b32encode(hashlib.sha1(seed.encode()).digest()).decode()
    return f"PTC-{digest[: max_length - 4]}"


def customer(mapping: Mapping, txn: GatewayTransaction, max_length: int = 20) -> Customer:
    """The ERP customer of the payer, its address normalized as the mapping says."""
    cid = customer_id_for(txn, max_length)
    return Customer(customer_id=cid, name=txn.billing.name or f"PayTrace customer {cid}", email=txn.email,
                    address=normalize_address(mapping, txn.billing))


# -- rules -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """The accounts, item and payment type one transaction posts with (by its card brand, or ACH)."""

    cash: str
    clearing: str
    item: str
    payment_type: PaymentType


def brand_of(txn: GatewayTransaction) -> str:
    return ACH if txn.payment_type == ACH else txn.card_brand


def rules_for(mapping: Mapping, txn: GatewayTransaction) -> Rules:
    brand = brand_of(txn)
    return Rules(account_for(mapping, "cash", brand), account_for(mapping, "clearing", brand), item_for(mapping),
                 payment_type_for(mapping, brand))


def local_date(mapping: Mapping, txn: GatewayTransaction) -> date:
    """The merchant's calendar day of the transaction: what documents are dated."""
    return mapping_local_date(mapping, txn.created_at)


def amount_of(mapping: Mapping, amount: Decimal, rate: Decimal | None) -> Decimal:
    """`amount` (in the PayTrace account's currency) in the ERP's base currency, at the run's rate."""
    if mapping.currency.base == mapping.paytrace.currency:
        return amount
    return convert(mapping, amount, None, {mapping.paytrace.currency: rate} if rate else None).amount


def _what(txn: GatewayTransaction) -> str:
    fallback = "ACH payment" if txn.payment_type == ACH else "Card payment"
    return txn.description or (f"Invoice {txn.invoice_id}" if txn.invoice_id else fallback)


def _instrument(txn: GatewayTransaction) -> str:
    return f"{txn.card_brand} {txn.masked_card[-4:]}".strip() if txn.masked_card else txn.card_brand


# -- what the ERP already holds for a run -----------------------------------------------------------
@dataclass(frozen=True)
class Held:
    """The ERP keys earlier stages recorded (a preview passes placeholders)."""

    customer: str = ""
    sales_order: str | None = None
    invoice: str | None = None
    credit_memo: str | None = None
    payment: str | None = None

    @classmethod
    def of(cls, keys: dict[str, str]) -> "Held":
        return cls(**{name: keys[name] for name in ("customer", "sales_order", "invoice", "credit_memo", "payment")
                      if name in keys})


# -- the sale ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SaleDocuments:
    """Everything a sale writes; a part the decision leaves out is None."""

    customer: Customer | None  # None: the receipt is the customer's of the invoice found
    customer_key: str  # the ERP customer the documents are for (Held.customer once known)
    sales_order: SalesOrder | None
    invoice: SalesOrder | None
    receipt: Payment | None  # applied to the invoice (ours or the one found)
    on_account: Payment | None  # unapplied cash: the part no invoice takes
    journal: JournalEntry


def _lines(mapping: Mapping, txn: GatewayTransaction, amount: Decimal) -> tuple[OrderLine, ...]:
    return (OrderLine(item_for(mapping), Decimal("1"), amount, f"PayTrace {txn.transaction_id}: {_what(txn)}"),)


def sales_order(mapping: Mapping, txn: GatewayTransaction, customer_key: str, rate: Decimal | None = None) -> SalesOrder:
    """The sales order of a payment (and of a declined one, which the ERP then marks failed)."""
    amount = amount_of(mapping, txn.amount, rate)
    return SalesOrder(ref(mapping, txn, "sales_order"), customer_key, local_date(mapping, txn),
                      _lines(mapping, txn, amount), invoice_id=txn.invoice_id)


def sale(mapping: Mapping, txn: GatewayTransaction, held: Held, decision: Decision | None = None,
         rate: Decimal | None = None, max_customer_length: int = 20) -> SaleDocuments:
    """The documents of a sale: its own order and invoice, or a receipt for an invoice the ERP has.

    `decision` None (or an unmatched payment the mapping says to `create`) makes the payment a sale
    of its own. A matched one pays the invoice found, never more than the decision applied; what
    is left goes on account. A parked decision posts nothing: the caller never asks for it.
    """
    rules = rules_for(mapping, txn)
    day = local_date(mapping, txn)
    amount = amount_of(mapping, txn.amount, rate)
    text = f"PayTrace {txn.transaction_id} {_instrument(txn)}"
    journal = JournalEntry(ref(mapping, txn, "journal"), day, text,
                           (JournalLine(rules.clearing, amount, text), JournalLine(rules.cash, -amount, text)))
    method = rules.payment_type

    def receipt(step: str, customer_key: str, invoice_key: str | None, value: Decimal) -> Payment:
        return Payment(ref(mapping, txn, step), customer_key, day, value, invoice_key, rules.cash, method.method,
                       method.entry_type)

    if decision is None or decision.own_documents(mapping):
        payer = customer(mapping, txn, max_customer_length)
        key = held.customer or payer.customer_id
        order = SalesOrder(ref(mapping, txn, "sales_order"), key, day, _lines(mapping, txn, amount),
                           invoice_id=txn.invoice_id)  # the merchant's own id, kept whole where the ERP can
        invoice = replace(order, reference=ref(mapping, txn, "invoice"), order_ref=held.sales_order)
        return SaleDocuments(payer, key, order, invoice, receipt("payment", key, held.invoice, amount), None, journal)
    if decision.matched:
        key = held.customer or decision.invoice_customer
        applied = decision.applied  # decided in the base currency (flows/payment_sync.py prepare)
        rest = amount - applied
        return SaleDocuments(None, key, None, None,
                             receipt("payment", key, decision.invoice_key, applied) if applied > 0 else None,
                             receipt("on_account", key, None, rest) if rest > 0 else None, journal)
    payer = customer(mapping, txn, max_customer_length)  # unmatched, on account: our customer, no invoice
    key = held.customer or payer.customer_id
    return SaleDocuments(payer, key, None, None, None, receipt("on_account", key, None, amount), journal)


# -- after the sale ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefundDocuments:
    credit_memo: CreditMemo
    refund: Refund
    journal: JournalEntry


def _clearing_back(mapping: Mapping, reference_text: str, day: date, amount: Decimal, text: str,
                   rules: Rules) -> JournalEntry:
    """Money that went back to the card: out of card clearing, into the account the refund pays from."""
    return JournalEntry(reference_text, day, text, (JournalLine(rules.cash, amount, text),
                                                    JournalLine(rules.clearing, -amount, text)))


def refund(mapping: Mapping, txn: GatewayTransaction, sale_txn: GatewayTransaction | None, held: Held,
           rate: Decimal | None = None) -> RefundDocuments:
    """A credit memo against the sale's invoice, the money paid back settling it, the journal out of clearing.

    With no sale (nothing linked the refund to one), the credit memo is on account: applied to no invoice.
    The money leaves the clearing account of the refund's own card brand (or ACH): that is the batch
    it settles in.
    """
    rules = rules_for(mapping, txn)
    day = local_date(mapping, txn)
    amount = amount_of(mapping, txn.amount, rate)
    text = f"PayTrace refund {txn.transaction_id}" + (f" of sale {sale_txn.transaction_id}" if sale_txn else
                                                      " (no sale linked: on account)")
    memo = CreditMemo(ref(mapping, txn, "credit_memo"), held.customer, day, held.invoice,
                      (OrderLine(item_for(mapping), Decimal("1"), amount, text),))
    money_back = Refund(ref(mapping, txn, "refund"), held.customer, day, amount, held.credit_memo or "", rules.cash,
                        rules.payment_type.method)
    return RefundDocuments(memo, money_back, _clearing_back(mapping, ref(mapping, txn, "journal"), day, amount, text,
                                                            rules))


def store_refund_memo(mapping: Mapping, reference_text: str, customer_key: str, invoice_key: str, amount: Decimal,
                      when, text: str) -> CreditMemo:
    """The credit memo of a refund the store made (its reference is the store's, flows/store_refunds.py)."""
    return CreditMemo(reference_text, customer_key, mapping_local_date(mapping, when), invoice_key,
                      (OrderLine(item_for(mapping), Decimal("1"), amount, text),))


@dataclass(frozen=True)
class VoidDocuments:
    reversal: Reversal
    journal: JournalEntry


def void(mapping: Mapping, txn: GatewayTransaction, sale_txn: GatewayTransaction, held: Held,
         rate: Decimal | None = None) -> VoidDocuments:
    """The sale's receipt undone (its invoice open again) and the sale's move into clearing reversed."""
    rules = rules_for(mapping, sale_txn)
    day = local_date(mapping, txn)
    amount = amount_of(mapping, sale_txn.amount, rate)
    text = f"PayTrace void of {sale_txn.transaction_id}"
    return VoidDocuments(Reversal(ref(mapping, txn, "void"), held.customer, day, amount, held.payment or ""),
                         _clearing_back(mapping, ref(mapping, txn, "void_journal"), day, amount, text, rules))


def chargeback(mapping: Mapping, sale_txn: GatewayTransaction, case_id: str, reason: str, amount: Decimal,
               day: date | None) -> JournalEntry:
    """The chargeback account debited, the sale's card clearing credited: the processor withholds the money."""
    rules = rules_for(mapping, sale_txn)
    text = f"Chargeback {case_id} on PayTrace {sale_txn.transaction_id}: {reason}"[:160]
    return JournalEntry(ref(mapping, sale_txn, "chargeback"), day or local_date(mapping, sale_txn), text,
                        (JournalLine(account_for(mapping, "chargeback", brand_of(sale_txn)), amount, text),
                         JournalLine(rules.clearing, -amount, text)))
