"""Sage X3 settings, validated once and frozen: where Syracuse is, the site's codes, and its [I] names."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from config.settings import Secret, Settings
from connectors.errors import ConfigurationError


@dataclass(frozen=True)
class SageX3Layout:
    """Names and sizes ../shared/reference/sage.md marks [I]: each can be overridden per site
    with SAGEX3_LAYOUT='{"name": value, ...}' without a code change (docs/sage-x3.md)."""

    bpcnum_length: int = 15  # [I] BPCNUM is 10 or 15 characters depending on the folder's setup
    reference_length: int = 20  # [I] the shortest of CUSORDREF (30?), INVREF, PAYMENTH.REF, GACCENTRY.REF
    # REST api1 classes (= their representations) for lookups; only BPCUSTOMER is confirmed.
    order_class: str = "SORDER"
    invoice_class: str = "SINVOICE"
    payment_class: str = "PAYMENTH"
    journal_class: str = "GACCENTRY"
    order_amount: str = "ORDNOT"  # [C] column; excluding tax, like our lines
    invoice_amount: str = "AMTNOT"  # [I] SINVOICE.AMTATI is confirmed; AMTNOT assumed beside it
    journal_lines: str = "GACCENTRYD"  # [I] name of the lines collection in GACCENTRY.$details
    invoice_order_field: str = "SOHNUM"  # [I] invoice line field naming the order it bills
    # The payment (PAY) and journal (GAS) SOAP screens are not public: group ids and fields [I].
    payment_header: str = "PAY0_1"
    payment_lines: str = "PAY1_1"
    payment_type_field: str = "PAYTYP"
    payment_method_field: str = "PAM"
    payment_line_amount: str = "AMTLIN"
    journal_header: str = "GAS0_1"
    journal_lines_group: str = "GAS1_1"
    journal_type: str = "ODT"  # GACCENTRY.TYP, the entry type code
    # -- the payment lifecycle (docs/sage-x3.md "Credit memos, refunds, reversals, statuses") --
    # A credit memo is a sales invoice (same SIH publication and SINVOICE class) of a credit-note type.
    credit_memo_type: str = "CRN"  # [I] SIVTYP of the folder's credit-note invoice type
    credit_memo_origin_field: str = "SIHORINUM"  # [I] SIH0_1 field naming the invoice credited
    # Refunds and reversals are payment entries (same PAY publication and PAYMENTH class) whose
    # payment transaction says what they are; the codes are a site's set-up.
    refund_type: str = "RFDCB"  # [I] disbursement transaction paying a credit note back
    reversal_type: str = "RVSCB"  # [I] transaction cancelling one receipt
    receipt_document_type: str = "PAY"  # [I] VCRTYP a reversal line uses to name the receipt
    open_item_class: str = "GACCDUDATE"  # [C] table; [I] as an api1 class: open amounts for amount_due
    # ORDSTA / INVSTA are coded menus X3 sets itself: a free-text mark needs a user field [I].
    status_field: str = "YPAYSTA"
    status_length: int = 20
    # -- matching: invoices found by their link fields, customers read back (docs/sage-x3.md "Matching") --
    invoice_total: str = "AMTATI"  # [C] SINVOICE.AMTATI: what the customer pays, tax included
    # [I] where SalesOrder.customer_po lands on an invoice: SINVOICEV has no CUSORDREF in the V11
    # dictionary (SORDER has it [C]); a site without it names its own field (BPRVCR, a user field).
    invoice_po: str = "CUSORDREF"
    # A due date is written as the date X3 computes due dates from, SINVOICE.STRDUDDAT [C-code, in
    # group SIH2_2 [I]], with a payment term PTE [C] of 0 days [I: the site's code], so the due date
    # is that date itself; without one the customer's own term decides. Read back from the open
    # items' DUDDAT [C].
    invoice_due: str = "STRDUDDAT"
    due_date_term: str = "DUEDATE"
    invoice_lines: str = "SINVOICED"  # [C] table (its SOHNUM names the order billed); [I] as an api1 class
    address_class: str = "BPADDRESS"  # [C] table; [I] as an api1 class and as BPCUSTOMER's $details collection
    address_owner: str = "BPANUM"  # [I] the address's business partner code
    changed_field: str = "UPDDATTIM"  # [C] on X3 tables (V11 dictionary: ADATIM, UTC); [I] in api1

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> "SageX3Layout":
        """The defaults with a site's overrides; an unknown key or wrong type is a ConfigurationError."""
        overrides = dict(overrides or {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        bad = [k for k in overrides if k not in known]
        bad += [k for k, v in overrides.items() if k in known
                and (type(v) is not type(getattr(cls, k)) or not (v.strip() if isinstance(v, str) else v > 0))]
        if bad:
            raise ConfigurationError(f"SAGEX3_LAYOUT: unknown or mistyped key(s) {', '.join(sorted(bad))}",
                                     system="sage_x3", operation="config")
        return cls(**overrides)


@dataclass(frozen=True)
class SageX3Config:
    """One X3 folder reached through one Syracuse server."""

    base_url: str
    username: str
    password: Secret = field(repr=False)
    pool_alias: str = "SEED"
    code_lang: str = "ENG"
    endpoint: str = "SEED"
    pub_customer: str = "WSBPC"
    pub_sales_order: str = "WSSOH"
    pub_invoice: str = "WSSIH"
    pub_payment: str = "WSPAY"  # [I] site-specific publication name
    pub_journal: str = "WSGAS"  # [I] likewise
    sales_site: str = "NA011"
    order_type: str = "SON"
    invoice_type: str = "INV"
    payment_type: str = "RCPCB"
    bank: str = "BOA"
    currency: str = "USD"
    journal_code: str = "MISC"
    cash_account: str = "10500"
    clearing_account: str = "10510"
    default_item: str = "PAYMENT"
    payment_method: str = "CB"
    timeout: float = 15.0
    retries: int = 2
    layout: SageX3Layout = field(default_factory=SageX3Layout)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SageX3Config":
        s = settings.sage_x3
        return cls(s.base_url, s.username, s.password, s.pool_alias, s.code_lang, s.endpoint, s.pub_customer,
                   s.pub_sales_order, s.pub_invoice, s.pub_payment, s.pub_journal, s.sales_site, s.order_type,
                   s.invoice_type, s.payment_type, s.bank, s.currency, s.journal_code, s.cash_account,
                   s.clearing_account, s.default_item, s.payment_method, s.timeout, settings.http_retries,
                   SageX3Layout.from_overrides(s.layout))
