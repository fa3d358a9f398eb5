"""Credit memos, refunds, reversals and statuses through the Sage Pro connector, judged by the tables and the
sandbox's own rules (sandbox.sage_pro.violations), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import NotFoundError, RetriableError, ValidationError
from sandbox import sage_pro as sandbox
from sandbox.summary import summarize
from schemas.domain import Address, CreditMemo, Customer, OrderLine, Payment, Refund, Reversal, SalesOrder
from tests.contract.erp_sage_pro import COMPANY, custno_of, sage_pro

DAY = date(2026, 11, 20)
ADA = Customer("PTC-ADA", "Ada Lovelace", "ada@example.com", "555-0100", Address(line1="1 Main St"))
BOB = Customer("PTC-BOB", "Bob Babbage")


@pytest.fixture(params=["sqlite", "postgresql"])
def erp(request):
    with sage_pro(request.param) as under_test:
        yield under_test


def _tables(erp) -> dict[str, list[dict]]:
    return sandbox.state(erp.connector.config.database_url, COMPANY)


def _paid(erp, ref: str, amount: str = "100.00", customer: Customer = ADA):
    c = erp.connector
    c.upsert_customer(customer)
    invoice = c.ensure_invoice(SalesOrder(f"I-{ref}", customer.customer_id, DAY,
                                          (OrderLine("PAYMENT", Decimal("1"), Decimal(amount)),)))
    payment = c.ensure_payment(Payment(f"R-{ref}", customer.customer_id, DAY, Decimal(amount), invoice.key,
                                       "1200-00", "CC"))
    return invoice, payment


def _memo(ref: str, invoice_key: str, amount: str, customer: Customer = ADA) -> CreditMemo:
    return CreditMemo(ref, customer.customer_id, DAY, invoice_key, (OrderLine("PAYMENT", Decimal("1"), Decimal(amount)),))


def test_a_credit_memo_is_an_armast_document_of_its_own_type_and_a_refund_pays_it_out_of_cash(erp):
    invoice, _ = _paid(erp, "1")
    memo = erp.connector.ensure_credit_memo(_memo("M-1", invoice.key, "30.00"))
    refund = erp.connector.ensure_refund(Refund("F-1", ADA.customer_id, DAY, Decimal("30.00"), memo.key, "1200-00", "CC"))
    tables = _tables(erp)
    [header] = [r for r in tables["armast"] if r["PONUM"].strip() == "M-1"]
    assert (header["ARTYPE"], header["APPLYTO"], header["INVNO"]) == ("C", invoice.key.rjust(8), memo.key.rjust(8))
    assert (header["INVAMT"], header["PAIDAMT"], header["BALANCE"]) == (Decimal("-30"), Decimal("-30"), 0)
    [line] = [r for r in tables["artran"] if r["INVNO"].strip() == memo.key]
    assert (line["ARTYPE"], line["EXTPRICE"], line["QTYSHP"]) == ("C", Decimal("-30"), Decimal("-1"))
    [cash] = [r for r in tables["arcash"] if r["REFNO"].strip() == "F-1"]
    assert (cash["TRANTYPE"], cash["INVNO"].strip(), cash["PAIDAMT"], cash["CASHACCT"].strip()) == \
        ("R", memo.key, Decimal("-30"), "1200-00")
    assert refund.amount == Decimal("30.00") and erp.connector.find("invoice", "M-1") == []
    assert erp.connector.find("payment", "F-1") == [] and erp.connector.find("credit_memo", "I-1") == []
    [cust] = [r for r in tables["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert cust["BALANCE"] == 0  # credited 30, then paid the 30 back
    assert sandbox.violations(tables) == []
    summary = summarize("sage_pro", tables)
    assert {"reference": "M-1", "key": memo.key, "amount": Decimal("30"), "invoice": invoice.key} in summary["credit_memos"]
    assert summary["refunds"] == [{"reference": "F-1", "amount": Decimal("30"), "credit_memo": memo.key}]
    assert "M-1" not in [i["reference"] for i in summary["invoices"]]


def test_credit_memo_refusals_name_the_field_and_write_nothing(erp):
    invoice, _ = _paid(erp, "2", "50.00")
    erp.connector.ensure_credit_memo(_memo("M-2a", invoice.key, "40.00"))
    before = _tables(erp)
    with pytest.raises(ValidationError) as too_much:
        erp.connector.ensure_credit_memo(_memo("M-2b", invoice.key, "10.01"))
    assert too_much.value.field == "amount"
    erp.connector.upsert_customer(BOB)
    with pytest.raises(ValidationError) as other:
        erp.connector.ensure_credit_memo(_memo("M-2c", invoice.key, "1.00", BOB))
    assert other.value.field == "invoice_ref"
    memo = erp.connector.find("credit_memo", "M-2a")[0]
    with pytest.raises(ValidationError) as memo_of_memo:
        erp.connector.ensure_credit_memo(_memo("M-2d", memo.key, "1.00"))
    assert memo_of_memo.value.field == "invoice_ref"
    with pytest.raises(ValidationError) as item:
        erp.connector.ensure_credit_memo(CreditMemo("M-2e", ADA.customer_id, DAY, invoice.key,
                                                    (OrderLine("NOPE", Decimal("1"), Decimal("1")),)))
    assert item.value.field == "lines[0].item_id"
    with pytest.raises(NotFoundError):
        erp.connector.ensure_credit_memo(_memo("M-2f", "99999", "1.00"))
    after = _tables(erp)
    assert {k: v for k, v in after.items() if k != "arcust"} == {k: v for k, v in before.items() if k != "arcust"}
    erp.connector.ensure_credit_memo(_memo("M-2g", invoice.key, "10.00"))  # exactly what is left is fine
    assert sandbox.violations(_tables(erp)) == []


def test_a_refund_cannot_exceed_what_is_left_on_its_credit_memo(erp):
    invoice, payment = _paid(erp, "3")
    memo = erp.connector.ensure_credit_memo(_memo("M-3", invoice.key, "30.00"))
    erp.connector.ensure_refund(Refund("F-3a", ADA.customer_id, DAY, Decimal("20.00"), memo.key, "1200-00", "CC"))
    for ref, amount, target, field in (("F-3b", "10.01", memo.key, "amount"), ("F-3c", "0", memo.key, "amount"),
                                       ("F-3d", "5.00", invoice.key, "credit_memo_ref")):
        with pytest.raises(ValidationError) as caught:
            erp.connector.ensure_refund(Refund(ref, ADA.customer_id, DAY, Decimal(amount), target, "1200-00", "CC"))
        assert caught.value.field == field and erp.connector.find("refund", ref) == []
    erp.connector.ensure_refund(Refund("F-3e", ADA.customer_id, DAY, Decimal("10.00"), memo.key, "1200-00", "CC"))
    [doc] = erp.connector.find("credit_memo", "M-3")
    assert (doc.amount, doc.amount_due) == (Decimal("30.00"), Decimal("0.00"))
    assert sandbox.violations(_tables(erp)) == []


def test_a_reversal_reopens_the_invoice_and_the_customer_balance_once(erp):
    invoice, payment = _paid(erp, "4", "75.00")
    v = erp.connector.ensure_reversal(Reversal("V-4", ADA.customer_id, DAY, Decimal("75.00"), payment.key))
    assert erp.connector.ensure_reversal(Reversal("V-4", ADA.customer_id, DAY, Decimal("75.00"), payment.key)).key == v.key
    with pytest.raises(ValidationError) as twice:
        erp.connector.ensure_reversal(Reversal("V-4b", ADA.customer_id, DAY, Decimal("75.00"), payment.key))
    assert twice.value.field == "payment_ref"
    with pytest.raises(ValidationError) as amount:
        _, other = _paid(erp, "4c", "10.00")
        erp.connector.ensure_reversal(Reversal("V-4c", ADA.customer_id, DAY, Decimal("9.99"), other.key))
    assert amount.value.field == "amount"
    with pytest.raises(ValidationError) as not_receipt:
        erp.connector.ensure_reversal(Reversal("V-4d", ADA.customer_id, DAY, Decimal("75.00"), v.key))
    assert not_receipt.value.field == "payment_ref"
    tables = _tables(erp)
    [inv] = [r for r in tables["armast"] if r["INVNO"].strip() == invoice.key]
    assert (inv["PAIDAMT"], inv["BALANCE"], inv["DTEPAID"]) == (0, Decimal("75"), sandbox.EMPTY_DATE)
    [cust] = [r for r in tables["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert cust["BALANCE"] == Decimal("75")
    [row] = [r for r in tables["arcash"] if r["REFNO"].strip() == "V-4"]
    assert (row["TRANTYPE"], row["REVCASH"].strip(), row["INVNO"].strip(), row["PAIDAMT"]) == \
        ("V", payment.key, invoice.key, Decimal("-75"))
    assert [d.key for d in erp.connector.find("payment", "R-4")] == [payment.key]  # the receipt stays
    assert sandbox.violations(tables) == []
    assert summarize("sage_pro", tables)["reversals"] == [{"reference": "V-4", "payment": payment.key,
                                                           "amount": Decimal("75")}]


def test_a_status_goes_to_the_user_field_and_leaves_the_coded_status_alone(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    order = c.ensure_sales_order(SalesOrder("S-5", ADA.customer_id, DAY, (OrderLine("PAYMENT", Decimal("1"), Decimal("5")),)))
    invoice, _ = _paid(erp, "5")
    assert c.status_of("sales_order", order.key) == "" and c.status_of("invoice", invoice.key) == ""
    c.set_status("sales_order", order.key, "Payment Failed")
    c.set_status("invoice", invoice.key, "Disputed")
    c.set_status("invoice", invoice.key, "Disputed")
    with pytest.raises(ValidationError) as long:
        c.set_status("invoice", invoice.key, "x" * 21)
    assert long.value.field == "status"
    with pytest.raises(NotFoundError):
        c.set_status("invoice", "424242", "Open")
    tables = _tables(erp)
    [so] = [r for r in tables["somast"] if r["SONO"].strip() == order.key]
    [inv] = [r for r in tables["armast"] if r["INVNO"].strip() == invoice.key]
    assert (so["USTATUS"].strip(), so["SOSTAT"].strip(), inv["USTATUS"].strip(), inv["ARSTAT"].strip()) == \
        ("Payment Failed", "", "Disputed", "")
    summary = summarize("sage_pro", tables)
    assert {"reference": "S-5", "amount": Decimal("5"), "status": "Payment Failed"} in [
        {k: o[k] for k in ("reference", "amount", "status")} for o in summary["sales_orders"]]
    assert [i["status"] for i in summary["invoices"] if i["key"] == invoice.key] == ["Disputed"]
    assert all(i["status"] == "" for i in summary["invoices"] if i["key"] != invoice.key)
    sandbox.lock(erp.connector.config.database_url, COMPANY, "armast", invoice.key)
    with pytest.raises(RetriableError):
        c.set_status("invoice", invoice.key, "Open")
    assert c.status_of("invoice", invoice.key) == "Disputed"


def test_a_locked_customer_makes_lifecycle_writes_retriable(erp):
    invoice, payment = _paid(erp, "6")
    sandbox.lock(erp.connector.config.database_url, COMPANY, "arcust", custno_of(erp.connector.config.database_url,
                                                                                ADA.customer_id))
    with pytest.raises(RetriableError):
        erp.connector.ensure_credit_memo(_memo("M-6", invoice.key, "1.00"))
    with pytest.raises(RetriableError):
        erp.connector.ensure_reversal(Reversal("V-6", ADA.customer_id, DAY, Decimal("100.00"), payment.key))
    assert erp.connector.find("credit_memo", "M-6") == [] and erp.connector.find("reversal", "V-6") == []
