"""Sage X3 as an ErpConnector: writes by SOAP `save`, lookups by external reference over REST api1."""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, SkippableError, ValidationError
from connectors.sage_x3 import answers, mapping, query
from connectors.sage_x3.client import SYSTEM, SageX3Client
from connectors.sage_x3.config import SageX3Config, SageX3Layout
from connectors.stock import StockKeeper, StockLevel
from schemas.domain import (CreditMemo, Customer, CustomerChange, ErpDocument, InvoiceInfo, JournalEntry, Payment,
                            Refund, Reversal, SalesOrder)

log = logging.getLogger(__name__)
CHUNK = 40  # values per `in (...)` clause: keeps a request URL well under common 8 KB limits
LISTING_PAGES = 2000  # a full customer listing may be long; a lookup stays under client.MAX_PAGES


class SageX3Connector(ErpConnector, StockKeeper):
    """Writes into one X3 folder through its published web services."""

    kind = SYSTEM
    max_reference_length = SageX3Layout.reference_length
    #: The links an invoice can be found by (schemas/mapping.py LINK_TARGETS): its reference INVREF [C]
    #: (which also finds paysync's own invoices by the merchant's invoice id, kept whole in
    #: SageX3Layout.invoice_id_field), the customer's PO CUSORDREF, on the order it bills [C], X3's
    #: number NUM [C], and the order an invoice line bills, SINVOICED.SOHNUM [C].
    invoice_link_fields = ("INVREF", "CUSORDREF", "NUM", "SOHNUM")
    invoice_reference_field = "INVREF"
    invoice_po_field = "CUSORDREF"

    def __init__(self, config: SageX3Config, client: SageX3Client | None = None) -> None:
        self.config = config
        self.client = client or SageX3Client(config)
        self.max_reference_length = config.layout.reference_length
        self.customer_name_width = config.layout.customer_name_length

    def name_kept_in(self, name: str) -> str:
        """BPCNAM holds the first characters; the company name's two lines (BPRNAM [C]) hold twice as many."""
        return "the company name's two lines (BPRNAM)" if len(name) <= 2 * self.customer_name_width else ""

    def upsert_customer(self, customer: Customer) -> str:
        """Read the BPCNUM; save it if X3 has none, modify only the groups that changed."""
        pub = self.config.pub_customer
        bpcnum = mapping.bpcnum_for(customer.customer_id, self.config.layout.bpcnum_length)
        wanted = mapping.customer_object(customer, bpcnum, self.config.currency, self.config.layout)
        try:
            current = self.client.read(pub, {"BPCNUM": bpcnum})
        except NotFoundError:
            try:
                self.client.save(pub, wanted)
                return bpcnum
            except SkippableError:
                current = self.client.read(pub, {"BPCNUM": bpcnum})  # a concurrent run saved it a moment ago
        changes = mapping.customer_changes(current, wanted)
        if changes:
            self.client.modify(pub, {"BPCNUM": bpcnum}, changes)
        return bpcnum

    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        """Every document of `kind` whose external reference is `reference` (X3 keeps them non-unique)."""
        lay = self.config.layout
        cls = self._class(kind)
        field = answers.reference_field(kind)
        records = [r for r in self.client.rest_query(cls, query.where_eq(field, reference))
                   if r.get(field) == reference and answers.is_kind(kind, r, lay)]
        if kind == "journal":  # the debit total lives in the lines, which only $details carries
            records = [self.client.rest_details(cls, str(r.get("$key") or f"{r.get('TYP')}~{r.get('NUM')}"))
                       for r in records]
        if kind in ("invoice", "credit_memo"):  # what is still open lives in the open items
            return [answers.document(kind, r, lay, self._open_amount(r)) for r in records]
        return [answers.document(kind, r, lay) for r in records]

    def _class(self, kind: str) -> str:
        lay = self.config.layout
        return {"sales_order": lay.order_class, "invoice": lay.invoice_class, "credit_memo": lay.invoice_class,
                "payment": lay.payment_class, "refund": lay.payment_class, "reversal": lay.payment_class,
                "journal": lay.journal_class}[kind]

    def _open_amount(self, record: dict) -> Decimal | None:
        """AMTCUR - PAYCUR over the document's open items (GACCDUDATE, by its NUM and type)."""
        num = str(record.get("NUM"))
        rows = self.client.rest_query(self.config.layout.open_item_class, query.where_eq("NUM", num))
        return answers.open_amount(answers.own_open_items(record, rows))

    def _save(self, kind: str, public_name: str, obj: dict, reference: str, amount: Decimal,
              customer_id: str | None) -> ErpDocument:
        try:
            result = self.client.save(public_name, obj)
        except SkippableError as exc:
            # X3 says the document exists although the lookup by reference found none: a person must look.
            raise PermanentError(f"{kind} {reference}: {exc.message}", system=SYSTEM, operation=exc.operation,
                                 body=exc.body) from exc
        key = answers.key_of(kind, result, self.config.layout)
        if not key:
            raise PermanentError(f"{kind} {reference}: X3 saved it but returned no document number",
                                 system=SYSTEM, operation=f"save {public_name}")
        return ErpDocument(kind, key, reference, amount=amount, customer_id=customer_id)

    def _create_sales_order(self, order: SalesOrder) -> ErpDocument:
        return self._save("sales_order", self.config.pub_sales_order, mapping.order_object(order, self.config),
                          order.reference, order.amount, order.customer_id)

    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument:
        if invoice.customer_po and not self.config.layout.invoice_po:
            # X3 keeps a PO on the order (SORDER.CUSORDREF), which on paysync's orders holds our reference.
            log.warning("X3 invoice %s: PO %r not written: SINVOICEV has no PO field (set SAGEX3_LAYOUT invoice_po "
                        "to the site's own)", invoice.reference, invoice.customer_po)
        return self._save("invoice", self.config.pub_invoice, mapping.invoice_object(invoice, self.config),
                          invoice.reference, invoice.amount, invoice.customer_id)

    def _create_payment(self, payment: Payment) -> ErpDocument:
        return self._save("payment", self.config.pub_payment, mapping.payment_object(payment, self.config),
                          payment.reference, payment.amount, payment.customer_id)

    def _create_journal(self, entry: JournalEntry) -> ErpDocument:
        debit = sum((l.amount for l in entry.lines if l.amount > 0), Decimal("0"))
        return self._save("journal", self.config.pub_journal, mapping.journal_object(entry, self.config),
                          entry.reference, debit, None)

    # ---- the payment lifecycle ---------------------------------------------------------------
    def _create_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """An SIH of the credit-note type against `memo.invoice_ref`; never more than is left to credit.

        X3 checks it too (the sandbox models that); checking first here costs two reads and refuses
        before anything is sent, even on a folder whose own check is looser [I].
        """
        lay = self.config.layout
        origin = lay.credit_memo_origin_field
        if not memo.invoice_ref:  # a credit on the customer's account: no invoice to check against
            return self._save("credit_memo", self.config.pub_invoice, mapping.credit_memo_object(memo, self.config),
                              memo.reference, memo.amount, memo.customer_id)
        try:
            invoice = self.client.rest_details(lay.invoice_class, memo.invoice_ref)
        except NotFoundError as exc:
            raise ValidationError(f"credit memo {memo.reference}: invoice {memo.invoice_ref} does not exist",
                                  field=origin, system=SYSTEM, operation="credit_memo") from exc
        if answers.is_credit(invoice, lay):
            raise ValidationError(f"credit memo {memo.reference}: {memo.invoice_ref} is a credit memo",
                                  field=origin, system=SYSTEM, operation="credit_memo")
        earlier = [r for r in self.client.rest_query(lay.invoice_class, query.where_eq(origin, memo.invoice_ref))
                   if str(r.get(origin)) == memo.invoice_ref and answers.is_kind("credit_memo", r, lay)]
        invoiced = answers.document("invoice", invoice, lay).amount or Decimal("0")
        credited = sum((answers.document("credit_memo", r, lay).amount or Decimal("0") for r in earlier),
                       Decimal("0"))
        left = (invoiced - credited).quantize(Decimal("0.01"))  # api1 numbers arrive as JSON numbers
        if memo.amount > left:
            raise ValidationError(f"credit memo {memo.reference}: {memo.amount} is more than the {left} left to "
                                  f"credit on invoice {memo.invoice_ref}", field=lay.invoice_amount,
                                  system=SYSTEM, operation="credit_memo")
        return self._save("credit_memo", self.config.pub_invoice, mapping.credit_memo_object(memo, self.config),
                          memo.reference, memo.amount, memo.customer_id)

    def _create_refund(self, refund: Refund) -> ErpDocument:
        """A payment entry of the refund transaction settling the credit memo; X3 refuses more than is open."""
        return self._save("refund", self.config.pub_payment, mapping.refund_object(refund, self.config),
                          refund.reference, refund.amount, refund.customer_id)

    def _create_reversal(self, reversal: Reversal) -> ErpDocument:
        """A payment entry of the reversal transaction cancelling the receipt in full; its invoices reopen."""
        return self._save("reversal", self.config.pub_payment, mapping.reversal_object(reversal, self.config),
                          reversal.reference, reversal.amount, reversal.customer_id)

    def set_status(self, kind: str, key: str, status: str) -> None:
        """`modify` the order's or invoice's user field [I] (X3's own statuses are coded menus)."""
        lay = self.config.layout
        if kind not in mapping.STATUS_TARGETS:
            raise PermanentError(f"X3 keeps no status on a {kind}", system=SYSTEM, operation="set_status")
        if len(status) > lay.status_length:
            raise ValidationError(f"status {status!r} is longer than {lay.status_length}", field=lay.status_field,
                                  system=SYSTEM, operation="set_status")
        setting, _, key_field = mapping.STATUS_TARGETS[kind]
        self.client.modify(getattr(self.config, setting), {key_field: key}, mapping.status_object(kind, status, lay))

    def status_of(self, kind: str, key: str) -> str:
        if kind not in mapping.STATUS_TARGETS:
            raise PermanentError(f"X3 keeps no status on a {kind}", system=SYSTEM, operation="status_of")
        record = self.client.rest_details(self._class(kind), key)
        return str(record.get(self.config.layout.status_field) or "")

    # ---- matching: the invoice a payment pays, invoices falling due ------------------------------
    def _links(self) -> dict[str, str]:
        """Link name (what a mapping's references.links says) -> the invoice's api1 property holding it
        ("" where the invoice holds none: the PO is its order's)."""
        lay = self.config.layout
        return {"INVREF": "INVREF", "CUSORDREF": lay.invoice_po, "NUM": "NUM", "SOHNUM": lay.invoice_order_field}

    def find_invoices(self, field: str, value: str) -> list[InvoiceInfo]:
        """Every invoice (not credit note) whose link `field` is `value`, whoever wrote it.

        SOHNUM lives on the lines, so it is looked up in SINVOICED; the others are header fields.
        X3's database may compare without case: the exact value is checked again here."""
        lay, links = self.config.layout, self._links()
        if field not in links:
            raise PermanentError(f"X3 invoices have no link field {field!r}; one of {', '.join(links)}",
                                 system=SYSTEM, operation="find_invoices")
        if field == "SOHNUM":
            headers = self._billing([value])
        elif field == "CUSORDREF":
            # The PO is the order's [C]: the orders carrying it, then the invoices billing them; plus,
            # where the site keeps one on its invoices too, those.
            orders = [str(o.get("SOHNUM")) for o in self.client.rest_query(
                lay.order_class, query.where_eq(lay.order_po_field, value)) if str(o.get(lay.order_po_field)) == value]
            headers = self._billing(orders) if orders else []
            if lay.invoice_po:
                headers += self._header_eq(lay.invoice_po, value)
        elif field == "INVREF":
            headers = self._header_eq("INVREF", value)
            if lay.invoice_id_field:
                headers += self._header_eq(lay.invoice_id_field, value)
        else:
            headers = self._header_eq(links[field], value)
        unique = {str(h.get("NUM")): h for h in headers}
        return self._infos([h for h in unique.values() if answers.is_kind("invoice", h, lay)])

    def _header_eq(self, prop: str, value: str) -> list[dict[str, Any]]:
        lay = self.config.layout
        return [r for r in self.client.rest_query(lay.invoice_class, query.where_eq(prop, value))
                if str(r.get(prop)) == value]

    def _billing(self, orders: list[str]) -> list[dict[str, Any]]:
        """The invoice headers whose lines bill one of `orders` (SINVOICED.SOHNUM)."""
        lay = self.config.layout
        rows = self._by_values(lay.invoice_lines, lay.invoice_order_field, orders)
        nums = sorted({str(r.get("NUM")) for r in rows if str(r.get(lay.invoice_order_field)) in orders})
        return self._by_values(lay.invoice_class, "NUM", nums)

    def open_invoices(self, *, customer_id: str | None = None, amount: Decimal | None = None,
                      dated_from: date | None = None, dated_to: date | None = None,
                      due_by: date | None = None) -> Iterable[InvoiceInfo]:
        """Invoices with something due, filtered by X3 where it can (customer, total, date) and here
        where it cannot (what is due and when lives in the open items)."""
        lay = self.config.layout
        where = query.where_all(
            query.where_op("SIVTYP", "ne", lay.credit_memo_type),
            query.where_eq("BPCINV", customer_id) if customer_id else "",
            query.where_op(lay.invoice_total, "eq", amount) if amount is not None else "",
            query.where_op("INVDAT", "ge", dated_from) if dated_from else "",
            query.where_op("INVDAT", "le", dated_to) if dated_to else "")
        headers = [h for h in self.client.rest_query(lay.invoice_class, where, max_pages=LISTING_PAGES)
                   if answers.is_kind("invoice", h, lay)]
        return [i for i in self._infos(headers) if i.open_amount > 0
                and (amount is None or i.amount == amount) and (due_by is None or (i.due_date or i.date) <= due_by)]

    def invoice_info(self, key: str) -> InvoiceInfo:
        """One invoice by its NUM ($details carries its lines), with what its open items say is due."""
        lay = self.config.layout
        try:
            record = self.client.rest_details(lay.invoice_class, key)
        except NotFoundError as exc:
            raise NotFoundError(f"X3 has no invoice {key}", system=SYSTEM, operation="invoice_info",
                                status=exc.status, body=exc.body) from exc
        if not answers.is_kind("invoice", record, lay):
            raise NotFoundError(f"{key} is a credit note, not an invoice", system=SYSTEM, operation="invoice_info")
        items = self.client.rest_query(lay.open_item_class, query.where_eq("NUM", key))
        return answers.invoice_info(record, answers.own_open_items(record, items), record.get(lay.invoice_lines) or [],
                                    lay, self._links())

    def _infos(self, headers: list[dict[str, Any]]) -> list[InvoiceInfo]:
        """InvoiceInfo for SINVOICE $query resources: their open items and lines, read in bulk."""
        lay = self.config.layout
        nums = [str(h.get("NUM")) for h in headers]
        items = self._grouped(lay.open_item_class, "NUM", nums)
        lines = self._grouped(lay.invoice_lines, "NUM", nums)
        return [answers.invoice_info(h, answers.own_open_items(h, items.get(str(h.get("NUM")), [])),
                                     lines.get(str(h.get("NUM")), []), lay, self._links()) for h in headers]

    def _by_values(self, cls: str, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Every resource of `cls` whose `field` is one of `values`, CHUNK values per request."""
        values = sorted(set(values))
        out: list[dict[str, Any]] = []
        for i in range(0, len(values), CHUNK):
            chunk = values[i:i + CHUNK]
            out += [r for r in self.client.rest_query(cls, query.where_in(field, chunk)) if str(r.get(field)) in chunk]
        return out

    def _grouped(self, cls: str, field: str, values: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        return self._group(self._by_values(cls, field, values), field)

    # ---- customers, both ways ---------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        """BPCUSTOMER('<BPCNUM>') $details, its addresses in the BPADDRESS collection [I]."""
        lay = self.config.layout
        try:
            record = self.client.rest_details(lay.customer_class, customer_id)
        except NotFoundError:
            return None
        return answers.customer_from(record, record.get(lay.address_class) or [], lay)

    def find_customers(self, *, email: str = "", name: str = "", postal_code: str = "") -> list[Customer]:
        """By an address's email (WEB, any case), or by name (BPCNAM, any case) and an address's postal code."""
        lay = self.config.layout
        email, name, postal = email.strip().lower(), name.strip()[:35].lower(), _postal(postal_code)
        found: set[str] = set()
        if email:
            rows = self.client.rest_query(lay.address_class, query.where_ieq(lay.address_email, email))
            found |= {str(r.get(lay.address_owner)) for r in rows
                      if str(r.get(lay.address_email) or "").strip().lower() == email}
        if name and postal:
            heads = [str(h.get("BPCNUM")) for h in self.client.rest_query(lay.customer_class,
                                                                         query.where_ieq("BPCNAM", name))
                     if str(h.get("BPCNAM") or "").strip().lower() == name]
            found |= {str(a.get(lay.address_owner)) for a in self._by_values(lay.address_class, lay.address_owner, heads)
                      if _postal(a.get("POSCOD")) == postal}
        return self._customers(sorted(found))

    def _customers(self, bpcnums: list[str]) -> list[Customer]:
        lay = self.config.layout
        addresses = self._grouped(lay.address_class, lay.address_owner, bpcnums)
        heads = sorted(self._by_values(lay.customer_class, "BPCNUM", bpcnums), key=lambda h: str(h.get("BPCNUM")))
        return [answers.customer_from(h, addresses.get(str(h.get("BPCNUM")), []), lay) for h in heads]

    def customers_changed_since(self, since: datetime | None) -> Iterable[CustomerChange]:
        """Customers whose record or one of whose addresses X3 stamped (UPDDATTIM) after `since`.

        X3 keeps the stamp to the second: the where clause asks for after the whole second, and
        anything not strictly after `since` is dropped here."""
        lay = self.config.layout
        stamp = lay.changed_field
        if since is None:
            heads = self.client.rest_query(lay.customer_class, "", max_pages=LISTING_PAGES)
            addresses = self._group(self.client.rest_query(lay.address_class, "", max_pages=LISTING_PAGES),
                                    lay.address_owner)
        else:
            since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
            after = query.where_op(stamp, "gt", since.replace(microsecond=0))
            heads = self.client.rest_query(lay.customer_class, after, max_pages=LISTING_PAGES)
            moved = self.client.rest_query(lay.address_class, after, max_pages=LISTING_PAGES)
            known = {str(h.get("BPCNUM")) for h in heads}
            heads += self._by_values(lay.customer_class, "BPCNUM", {str(a.get(lay.address_owner)) for a in moved} - known)
            addresses = self._grouped(lay.address_class, lay.address_owner, [str(h.get("BPCNUM")) for h in heads])
        changes = []
        for head in heads:
            mine = addresses.get(str(head.get("BPCNUM")), [])
            stamps = [s for s in (answers.api_datetime(r.get(stamp)) for r in [head, *mine]) if s]
            at = max(stamps, default=datetime.min.replace(tzinfo=timezone.utc))
            if since is None or at > since:
                changes.append(CustomerChange(answers.customer_from(head, mine, lay), at))
        return sorted(changes, key=lambda c: (c.changed_at, c.customer.customer_id))

    @staticmethod
    def _group(rows: list[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(str(row.get(field)), []).append(row)
        return grouped

    # ---- stock (docs/sage-x3.md "Stock") ---------------------------------------------------------
    def stock_levels(self, items) -> dict[str, StockLevel]:
        """ITMMASTER says whether an item is stock-managed (STOMGTCOD 2 [C]); STOCK rows of the sales
        site with status A give on hand (QTYSTU) and allocated (CUMALLQTY) [C columns]."""
        wanted = sorted(set(items))
        if not wanted:
            return {}
        found = {r["ITMREF"]: r for r in self._by_values("ITMMASTER", "ITMREF", wanted)}
        rows = self._by_values("STOCK", "ITMREF", list(found))
        out = {}
        for ref, item in found.items():
            mine = [r for r in rows if r.get("ITMREF") == ref and r.get("STOFCY") == self.config.sales_site
                    and r.get("STA") == "A"]
            out[ref] = StockLevel(ref, sum((Decimal(str(r.get("QTYSTU") or 0)) for r in mine), Decimal("0")),
                                  sum((Decimal(str(r.get("CUMALLQTY") or 0)) for r in mine), Decimal("0")),
                                  str(item.get("STOMGTCOD")) == "2")
        return out

    def allocate(self, order_key: str, lines) -> dict[str, Decimal]:
        """X3 allocates an order's stock-managed lines when it is saved (the order type's automatic
        allocation [I]); this reads what the order holds (SOH4_1 ALLQTY) and writes nothing."""
        order = self.client.read(self.config.pub_sales_order, {"SOHNUM": order_key})
        if str((order.get("SOH1_1") or {}).get("ORDSTA")) == "2":
            raise ValidationError(f"order {order_key} is closed: it holds no stock", field="ORDSTA", system=SYSTEM,
                                  operation="allocate")
        return answers.allocated(order, {line.item_id for line in lines})

    def release(self, order_key: str) -> dict[str, Decimal]:
        """Close the order (ORDSTA 2 [I: as a modify]); X3 gives its allocations back. A closed one stays."""
        keys = {"SOHNUM": order_key}
        order = self.client.read(self.config.pub_sales_order, keys)
        held = answers.allocated(order, None)
        if str((order.get("SOH1_1") or {}).get("ORDSTA")) != "2":
            self.client.modify(self.config.pub_sales_order, keys, {"SOH1_1": {"ORDSTA": "2"}})
        return held

    def close(self) -> None:
        self.client.close()


def _postal(value: Any) -> str:
    """A postal code compared without case or spaces ("sw1a 1aa" is "SW1A1AA")."""
    return "".join(str(value or "").split()).upper()
