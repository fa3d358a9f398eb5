"""A whole sale through the Sage Pro connector, judged by what the tables hold, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import RetriableError, ValidationError
from sandbox import sage_pro as sandbox
from schemas.domain import Address, Customer, JournalEntry, JournalLine, OrderLine, Payment, SalesOrder
from tests.contract.erp_sage_pro import COMPANY, custno_of, sage_pro

DAY = date(2026, 11, 20)
AMOUNT = Decimal("110.10")
CUSTOMER = Customer("PTC-ABCDEFGHIJKLMNOP", "Ada Lovelace", "ada@example.com", "555-0100",
                    Address("Ada Lovelace", "1 Main St", "Suite 2", "Spokane", "WA", "99201", "US"))


@pytest.fixture(params=["sqlite", "postgresql"])
def erp(request):
    with sage_pro(request.param) as under_test:
        yield under_test


def _tables(erp) -> dict[str, list[dict]]:
    return sandbox.state(erp.connector.config.database_url, COMPANY)


def _doc(ref: str, order_ref: str | None = None) -> SalesOrder:
    return SalesOrder(ref, CUSTOMER.customer_id, DAY, (OrderLine("PAYMENT", Decimal("1"), AMOUNT, "PayTrace 7"),),
                      order_ref=order_ref)


def _one(rows: list[dict], **where) -> dict:
    found = [r for r in rows if all(r[k].strip() == v for k, v in where.items())]
    assert len(found) == 1, f"{where}: {len(found)} rows"
    return found[0]


def test_a_sale_lands_in_every_table_and_leaves_nothing_open(erp):
    # given a customer, when the flow's five steps run through the connector
    c = erp.connector
    cid = c.upsert_customer(CUSTOMER)
    order = c.ensure_sales_order(_doc("PT7-SO"))
    invoice = c.ensure_invoice(_doc("PT7-INV", order_ref=order.key))
    payment = c.ensure_payment(Payment("PT7-RCP", cid, DAY, AMOUNT, invoice.key, "1200-00", "CC"))
    journal = c.ensure_journal(JournalEntry("PT7-JE", DAY, "PayTrace 7 VISA 5439",
                                            (JournalLine("1205-00", AMOUNT), JournalLine("1200-00", -AMOUNT))))
    tables = _tables(erp)

    # then the customer is one row under a 6-character CUSTNO, with our id beside it and nothing owed
    customer = _one(tables["arcust"], CUSTGEN=cid)
    assert len(customer["CUSTNO"]) == 6 and customer["CUSTNO"] == custno_of(erp.connector.config.database_url, cid)
    assert customer["COMPANY"].strip() == "Ada Lovelace" and customer["ADDRESS2"].strip() == "Suite 2"
    assert customer["BALANCE"] == 0 and customer["ONORDER"] == 0 and customer["LPYMT"] == AMOUNT
    assert customer["LASTPAY"] == DAY

    # the order follows the seeded SONO 1000, right-justified, billed by the invoice
    so = _one(tables["somast"], PONUM="PT7-SO")
    assert so["SONO"] == "1001".rjust(10) == order.key.rjust(10) and so["CUSTNO"] == customer["CUSTNO"]
    assert so["ORDAMT"] == AMOUNT and so["SOSTAT"] == "C"
    so_line = _one(tables["sotran"], SONO="1001")
    assert so_line["ITEM"].strip() == "PAYMENT" and so_line["EXTPRICE"] == AMOUNT and so_line["LINENO"] == "   1"

    # the invoice follows INVNO 5000, names its order in ORNUM and is paid in full
    inv = _one(tables["armast"], PONUM="PT7-INV")
    assert inv["INVNO"] == "5001".rjust(8) and invoice.key == "5001" and inv["ORNUM"] == "1001".rjust(10)
    assert (inv["INVAMT"], inv["PAIDAMT"], inv["BALANCE"]) == (AMOUNT, AMOUNT, 0) and inv["DTEPAID"] == DAY
    assert _one(tables["artran"], INVNO="5001")["QTYSHP"] == 1

    # the receipt names the invoice; the journal balances
    cash = _one(tables["arcash"], REFNO="PT7-RCP")
    assert cash["INVNO"] == inv["INVNO"] and cash["PAIDAMT"] == AMOUNT and cash["CASHACCT"].strip() == "1200-00"
    assert payment.key == cash["CASHNO"].strip()
    lines = [r for r in tables["gltran"] if r["REF"].strip() == "PT7-JE"]
    assert {r["TRANNO"].strip() for r in lines} == {journal.key}
    assert sum(r["DEBIT"] for r in lines) == sum(r["CREDIT"] for r in lines) == AMOUNT
    assert {(r["GLACNT"].strip(), r["DEBIT"], r["CREDIT"]) for r in lines} == {("1205-00", AMOUNT, 0),
                                                                              ("1200-00", 0, AMOUNT)}
    # and the seeded customer's open invoice is untouched
    assert _one(tables["armast"], INVNO="5000")["BALANCE"] == Decimal("250")
    # and reconciliation can list the day's documents
    for kind, doc in (("sales_order", order), ("invoice", invoice), ("payment", payment), ("journal", journal)):
        assert [(d.key, d.reference, d.amount) for d in c.list_documents(kind, DAY)] == \
            [(doc.key, doc.reference, AMOUNT)], kind
    assert c.list_documents("invoice", DAY)[0].amount_due == 0
    assert c.list_documents("invoice", date(2026, 1, 5))[0].key == "5000"


def test_no_column_is_ever_null_or_unpadded_after_a_sale(erp):
    c = erp.connector
    cid = c.upsert_customer(Customer("PT-42", "Bob"))  # nearly every field blank
    c.ensure_invoice(SalesOrder("PT8-INV", cid, DAY, (OrderLine("PAYMENT", Decimal("1"), AMOUNT),)))
    tables = _tables(erp)
    for table, rows in tables.items():
        for row in rows:
            assert None not in row.values(), table
    bob = _one(tables["arcust"], CUSTGEN="PT-42")
    assert bob["LASTPAY"] == sandbox.EMPTY_DATE and bob["ADDRESS1"] == " " * 35


def test_a_receipt_on_a_locked_invoice_waits_and_then_applies(erp):
    c = erp.connector
    cid = c.upsert_customer(CUSTOMER)
    invoice = c.ensure_invoice(_doc("PT9-INV"))
    payment = Payment("PT9-RCP", cid, DAY, AMOUNT, invoice.key, "1200-00", "CC")
    url = erp.connector.config.database_url
    sandbox.lock(url, COMPANY, "armast", invoice.key)
    with pytest.raises(RetriableError, match="locked"):
        c.ensure_payment(payment)
    assert c.find("payment", "PT9-RCP") == []
    sandbox.unlock(url, COMPANY, "armast", invoice.key)
    assert c.ensure_payment(payment).amount == AMOUNT


def test_an_invoice_for_another_customers_order_is_refused_with_the_field(erp):
    c = erp.connector
    c.upsert_customer(CUSTOMER)
    with pytest.raises(ValidationError) as caught:
        c.ensure_invoice(_doc("PT10-INV", order_ref="1000"))  # the seeded order is customer 1001's
    assert caught.value.field == "order_ref"


def test_concurrent_writers_get_distinct_numbers(erp):
    # given one customer, when eight threads each create an invoice at once
    c = erp.connector
    cid = c.upsert_customer(CUSTOMER)
    keys, errors = [], []

    def create(n: int) -> None:
        for _ in range(40):  # a writer that times out on the table lock retries, as a task would
            try:
                keys.append(c.ensure_invoice(SalesOrder(f"PT{n}-INV", cid, DAY,
                                                        (OrderLine("PAYMENT", Decimal("1"), AMOUNT),))).key)
                return
            except RetriableError:
                continue
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)
                return

    threads = [threading.Thread(target=create, args=(n,)) for n in range(100, 108)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then each got its own INVNO and the customer's balance counts all eight
    assert not errors and len(keys) == 8 and len(set(keys)) == 8
    customer = _one(_tables(erp)["arcust"], CUSTGEN=cid)
    assert customer["BALANCE"] == AMOUNT * 8
