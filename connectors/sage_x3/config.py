"""Sage X3 settings, validated once and frozen: where Syracuse is, the site's codes, and its [I] names."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from connectors.secret import Secret
from connectors.errors import ConfigurationError


@dataclass(frozen=True)
class SageX3Layout:
    """Names and sizes ../shared/reference/sage.md marks [I]: each can be overridden per site
    with SAGEX3_LAYOUT='{"name": value, ...}' without a code change (docs/sage-x3.md)."""

    bpcnum_length: int = 15  # [I] BPCNUM is 10 or 15 characters depending on the folder's setup
    reference_length: int = 20  # [I] the shortest of CUSORDREF (30?), INVREF, PAYMENTH.REF, GACCENTRY.REF
    customer_name_length: int = 35  # BPCNAM [C]; a longer name goes on in BPRNAM's second line [C: a list of 2]
    # REST api1 classes (= their representations) for reads: BPCUSTOMER and SORDER are public [C], Sage's
    # own examples query invoices as SINVOICEV [C]; the others follow them [I].
    customer_class: str = "BPCUSTOMER"
    order_class: str = "SORDER"
    invoice_class: str = "SINVOICEV"
    payment_class: str = "PAYMENTH"
    journal_class: str = "GACCENTRY"
    order_amount: str = "ORDNOT"  # [C] column; excluding tax, like our lines
    invoice_amount: str = "AMTNOT"  # [I] SINVOICE.AMTATI is confirmed; AMTNOT assumed beside it
    journal_lines: str = "GACCENTRYD"  # [I] name of the lines collection in GACCENTRY.$details
    invoice_order_field: str = "SOHNUM"  # [I] invoice line field naming the order it bills
    # A payment entry (PAY) as public clients write it [C]: NUM in PAY0_1, the party in PAY1_1 {FCY, BPR,
    # ACC, BPAINV}, the amounts in PAY1_2 {ACCDAT, REF, BAN, CUR, AMTCUR, CHQNUM}, lines in table PAY1_4
    # {DENCOD, VCRTYP, VCRNUM, AMTLIN}. Which payment transaction (PAYTYP) and where [I], the line's
    # payment attribute DENCOD (a site's code: public clients use ZAREC, ZAPAY) [I].
    payment_header: str = "PAY0_1"
    payment_party: str = "PAY1_1"
    payment_amounts: str = "PAY1_2"
    payment_lines: str = "PAY1_4"
    payment_line_code: str = "REC"
    payment_control_account: str = ""  # ACC; blank: X3 takes the customer's collective account [I]
    payment_address: str = ""  # BPAINV; blank: the customer's default address [I]
    payment_type_field: str = "PAYTYP"
    payment_method_field: str = "PAM"
    payment_line_amount: str = "AMTLIN"
    journal_header: str = "GAS0_1"
    journal_lines_group: str = "GAS1_1"
    journal_type: str = "ODT"  # GACCENTRY.TYP, the entry type code
    # -- the payment lifecycle (docs/sage-x3.md "Credit memos, refunds, reversals, statuses") --
    # A credit memo is a sales invoice (same SIH publication and invoice class) of a credit type: written
    # with SIVTYP credit_memo_type [I: the type code is site set-up], told apart on reading by the
    # standard category field INVTYP [C] (2 credit memo, 4 credit note), where api1 shows it.
    credit_memo_type: str = "CRN"
    invoice_category_field: str = "INVTYP"
    credit_categories: str = "2,4"
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
    # The customer's PO is the order's CUSORDREF [C]; SINVOICEV has none (V11 dictionary), so it is looked
    # up on the order and found on the invoices billing it. A site keeping a PO on its invoices names
    # that field here (blank: none) [I].
    order_po_field: str = "CUSORDREF"
    invoice_po: str = ""
    # The merchant's own invoice number (PayTrace invoice_id), kept whole where paysync finds it again:
    # a user field on the invoice header [I: the site adds it; blank turns it off] (docs/sage-x3.md).
    invoice_id_field: str = "YINVID"
    invoice_id_length: int = 50
    # The standard invoice screen keeps CUR in SIH2_1 [C]; one custom publication uses SIH0_1.
    invoice_currency_group: str = "SIH2_1"
    # A due date is written as the date X3 computes due dates from, SINVOICE.STRDUDDAT [C-code, in
    # group SIH2_2 [I]], with a payment term PTE [C] of 0 days [I: the site's code], so the due date
    # is that date itself; without one the customer's own term decides. Read back from the open
    # items' DUDDAT [C].
    invoice_due: str = "STRDUDDAT"
    due_date_term: str = "DUEDATE"
    invoice_lines: str = "SINVOICED"  # [C] table (its SOHNUM names the order billed); [I] as an api1 class
    address_class: str = "BPADDRESS"  # [C] table; [I] as an api1 class and as BPCUSTOMER's $details collection
    address_owner: str = "BPANUM"  # [I] the address's business partner code
    # Phone and e-mail of an address: screen fields TEL1..TEL5, WEB1..WEB5 [C] (WSBPC_SAVE.XML); the
    # first of each is written, and read back under the same name in api1 [I].
    address_phone: str = "TEL1"
    address_email: str = "WEB1"
    changed_field: str = "UPDDATTIM"  # [C] on X3 tables (V11 dictionary: ADATIM, UTC); [I] in api1

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> "SageX3Layout":
        """The defaults with a site's overrides; an unknown key or wrong type is a ConfigurationError."""
        overrides = dict(overrides or {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        bad = [k for k in overrides if k not in known]
        bad += [k for k, v in overrides.items() if k in known
                and (type(v) is not type(getattr(cls, k))
                     or not (v.strip() or k in OPTIONAL_NAMES if isinstance(v, str) else v > 0))]
        categories = str(overrides.get("credit_categories", cls.credit_categories))
        if not all(c.strip().isdigit() for c in categories.split(",")):
            bad.append("credit_categories")
        if bad:
            raise ConfigurationError(f"SAGEX3_LAYOUT: unknown or mistyped key(s) {', '.join(sorted(bad))}",
                                     system="sage_x3", operation="config")
        return cls(**overrides)


#: Layout names a site may set blank: the field is then not written (or not searched).
OPTIONAL_NAMES = frozenset({"invoice_po", "invoice_id_field", "payment_control_account", "payment_address",
                            "payment_method_field"})


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
    # The codes every document carries: the mapping file's `defaults` (and currency.base), filled in
    # where the worker context is built (workers/context.py); these are the shipped file's.
    sales_site: str = "NA011"
    order_type: str = "SON"
    invoice_type: str = "INV"
    payment_type: str = "RCPCB"
    bank: str = "BOA"
    currency: str = "USD"
    journal_code: str = "MISC"
    timeout: float = 15.0
    retries: int = 2
    layout: SageX3Layout = field(default_factory=SageX3Layout)
