"""The Sage 50 bridge simulator's lifecycle documents: credit memos, refunds, receipt voids, notes."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.summary import summarize
from tests.sandbox.test_sage50_sandbox import Sage50, assert_error, payment_body, sage  # noqa: F401


def _paid(sage: Sage50, cid: str = "C100", amount: str = "100.00") -> tuple[dict, dict]:
    sage.customer(cid)
    invoice = sage.invoice(cid, f"INV-{cid}", ("WIDGET-1", 1, amount))
    response = sage.post("/v1/payments", payment_body(cid, f"R-{cid}", invoice["Key"], amount))
    assert response.status_code == 201, response.text
    return invoice, response.json()


def _memo(cid: str, ref: str, invoice_key: str, amount: str) -> dict[str, Any]:
    return {"CustomerID": cid, "ReferenceNumber": ref, "Date": "2024-03-20", "ApplyToInvoiceKey": invoice_key,
            "Lines": [{"ItemID": "WIDGET-1", "Quantity": 1, "UnitPrice": amount}]}


def _refund(cid: str, ref: str, memo_key: str, amount: str, account: str = "1200") -> dict[str, Any]:
    return {"CustomerID": cid, "ReferenceNumber": ref, "Date": "2024-03-21", "AccountReference": account,
            "PaymentMethod": "Visa", "CreditMemoKey": memo_key, "Amount": amount}


def _invoice(sage: Sage50, key: str) -> dict:
    return sage.get(f"/v1/invoices/{key}").json()


def _balance(sage: Sage50, cid: str) -> str:
    return sage.get(f"/v1/customers/{cid}").json()["Balance"]


def test_credit_memo_on_a_paid_invoice_stays_open_until_refunded(sage: Sage50) -> None:
    invoice, _ = _paid(sage)
    response = sage.post("/v1/credit_memos", _memo("C100", "CM-1", invoice["Key"], "30.00"))
    assert response.status_code == 201, response.text
    memo = response.json()
    assert (memo["Amount"], memo["AppliedToInvoice"], memo["AmountDue"]) == ("30.00", "0.00", "30.00")
    assert _balance(sage, "C100") == "-30.00"
    response = sage.post("/v1/customer_refunds", _refund("C100", "RF-1", memo["Key"], "30.01"))
    assert_error(response, 422, "ValidationException", "Amount")
    response = sage.post("/v1/customer_refunds", _refund("C100", "RF-1", memo["Key"], "30.00"))
    assert response.status_code == 201, response.text
    assert sage.get(f"/v1/credit_memos/{memo['Key']}").json()["AmountDue"] == "0.00"
    assert _balance(sage, "C100") == "0.00"
    response = sage.post("/v1/customer_refunds", _refund("C100", "RF-2", memo["Key"], "0.01"))
    assert_error(response, 422, "ValidationException", "Amount")
    assert [r["ReferenceNumber"] for r in sage.get("/v1/customer_refunds?reference_number=RF-1").json()["items"]] \
        == ["RF-1"]


def test_credit_memo_on_an_open_invoice_lowers_its_amount_due(sage: Sage50) -> None:
    sage.customer("C1")
    invoice = sage.invoice("C1", "INV-1", ("WIDGET-1", 1, "80.00"))
    memo = sage.post("/v1/credit_memos", _memo("C1", "CM-1", invoice["Key"], "50.00")).json()
    assert (memo["AppliedToInvoice"], memo["AmountDue"]) == ("50.00", "0.00")
    assert _invoice(sage, invoice["Key"])["AmountDue"] == "30.00"
    assert _balance(sage, "C1") == "30.00"
    # Nothing is left on the memo to refund: the credit already lowered the invoice.
    response = sage.post("/v1/customer_refunds", _refund("C1", "RF-1", memo["Key"], "1.00"))
    assert_error(response, 422, "ValidationException", "Amount")


def test_credit_memos_cannot_credit_more_than_the_invoice_and_write_nothing(sage: Sage50) -> None:
    invoice, _ = _paid(sage, amount="50.00")
    assert sage.post("/v1/credit_memos", _memo("C100", "CM-1", invoice["Key"], "40.00")).status_code == 201
    before = sage.state()
    response = sage.post("/v1/credit_memos", _memo("C100", "CM-2", invoice["Key"], "10.01"))
    assert_error(response, 422, "ValidationException", "Amount")
    assert sage.state() == before
    assert sage.post("/v1/credit_memos", _memo("C100", "CM-2", invoice["Key"], "10.00")).status_code == 201


def test_credit_memo_refuses_another_customers_invoice_and_unknown_keys(sage: Sage50) -> None:
    invoice, _ = _paid(sage)
    sage.customer("C200")
    assert_error(sage.post("/v1/credit_memos", _memo("C200", "CM-1", invoice["Key"], "1.00")), 422,
                 "ValidationException", "ApplyToInvoiceKey")
    assert_error(sage.post("/v1/credit_memos", _memo("C100", "CM-1", "nope", "1.00")), 422,
                 "ValidationException", "ApplyToInvoiceKey")
    assert_error(sage.post("/v1/customer_refunds", _refund("C100", "RF-1", "nope", "1.00")), 422,
                 "ValidationException", "CreditMemoKey")
    memo = sage.post("/v1/credit_memos", _memo("C100", "CM-1", invoice["Key"], "5.00")).json()
    assert_error(sage.post("/v1/customer_refunds", _refund("C100", "RF-1", memo["Key"], "1.00", "9999")), 422,
                 "ValidationException", "AccountReference")
    assert_error(sage.post("/v1/customer_refunds", _refund("C100", "RF-1", memo["Key"], 1)), 422,
                 "ValidationException", "Amount")


def test_voiding_a_receipt_reopens_its_invoice_once(sage: Sage50) -> None:
    invoice, receipt = _paid(sage, amount="75.00")
    body = {"ReceiptKey": receipt["Key"], "ReferenceNumber": "V-1", "Date": "2024-03-17"}
    assert_error(sage.post("/v1/receipt_voids", dict(body, Amount="70.00")), 422, "ValidationException", "Amount")
    assert_error(sage.post("/v1/receipt_voids", dict(body, Date="2024-03-01")), 422, "ValidationException", "Date")
    response = sage.post("/v1/receipt_voids", body)
    assert response.status_code == 201, response.text
    void = response.json()
    assert (void["Amount"], void["CustomerID"]) == ("75.00", "C100")
    assert _invoice(sage, invoice["Key"])["AmountDue"] == "75.00"
    assert _balance(sage, "C100") == "75.00"
    assert sage.get(f"/v1/payments/{receipt['Key']}").json()["IsVoided"] is True
    again = sage.post("/v1/receipt_voids", dict(body, ReferenceNumber="V-2"))
    assert_error(again, 422, "ValidationException", "ReceiptKey")
    assert _invoice(sage, invoice["Key"])["AmountDue"] == "75.00"


def test_notes_carry_a_status_and_nothing_else_can_be_edited(sage: Sage50) -> None:
    sage.customer("C1")
    invoice = sage.invoice("C1", "INV-1")
    assert invoice["InternalNote"] == ""
    response = sage.call("PATCH", f"/v1/invoices/{invoice['Key']}", json={"InternalNote": "Disputed"})
    assert response.status_code == 200, response.text
    assert _invoice(sage, invoice["Key"])["InternalNote"] == "Disputed"
    response = sage.call("PATCH", f"/v1/invoices/{invoice['Key']}", json={"Amount": "1.00"})
    assert_error(response, 400, "BadRequest", "Amount")
    assert sage.call("PATCH", "/v1/invoices/nope", json={"InternalNote": "x"}).status_code == 404
    sage.faults(record_in_use=["C1"])
    response = sage.call("PATCH", f"/v1/invoices/{invoice['Key']}", json={"InternalNote": "Open"})
    assert_error(response, 423, "RecordInUseException")
    sage.faults(record_in_use=[])
    order = sage.post("/v1/sales_orders", {"CustomerID": "C1", "ReferenceNumber": "SO-1", "Date": "2024-03-15",
                                           "Lines": [{"ItemID": "WIDGET-1", "Quantity": 1, "UnitPrice": "5.00"}]})
    key = order.json()["Key"]
    assert sage.call("PATCH", f"/v1/sales_orders/{key}", json={"InternalNote": "Payment Failed"}).status_code == 200
    summary = summarize("sage50", sage.state())
    assert [o["status"] for o in summary["sales_orders"]] == ["Payment Failed"]
    assert [i["status"] for i in summary["invoices"]] == ["Disputed"]


def test_summary_lists_credit_memos_refunds_and_reversals(sage: Sage50) -> None:
    invoice, receipt = _paid(sage)
    memo = sage.post("/v1/credit_memos", _memo("C100", "CM-1", invoice["Key"], "30.00")).json()
    sage.post("/v1/customer_refunds", _refund("C100", "RF-1", memo["Key"], "30.00"))
    sage.post("/v1/receipt_voids", {"ReceiptKey": receipt["Key"], "ReferenceNumber": "V-1", "Date": "2024-03-17"})
    summary = summarize("sage50", sage.state())
    assert summary["credit_memos"] == [{"reference": "CM-1", "key": memo["Key"], "amount": Decimal("30.00"),
                                        "invoice": invoice["Key"]}]
    assert summary["refunds"] == [{"reference": "RF-1", "amount": Decimal("30.00"), "credit_memo": memo["Key"]}]
    assert summary["reversals"] == [{"reference": "V-1", "payment": receipt["Key"], "amount": Decimal("100.00")}]
    assert summary["invoices"][0]["open"] == Decimal("100.00")
    assert all(isinstance(v["amount"], Decimal) for v in summary["reversals"])
