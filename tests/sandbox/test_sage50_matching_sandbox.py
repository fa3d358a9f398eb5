"""HTTP tests of the Sage 50 bridge simulator's matching queries: invoice filters, receipts on
account, customers by zip and by LastSavedAt, and cursor paging (docs/sage50-bridge-api.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.sandbox.test_sage50_sandbox import Sage50, assert_error, invoice_body, payment_body, sage  # noqa: F401


def _invoice(sage: Sage50, customer_id: str, ref: str, price: str = "70.00", **extra: Any) -> dict[str, Any]:
    response = sage.post("/v1/invoices", {**invoice_body(customer_id, ref, ("SERVICE", 1, price)), **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _items(sage: Sage50, path: str, **params: Any) -> list[dict[str, Any]]:
    response = sage.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _every_page(sage: Sage50, path: str, between_pages=lambda: None, **params: Any) -> list[dict[str, Any]]:
    items, query = [], dict(params)
    while True:
        page = sage.get(path, params=query).json()
        items += page["items"]
        if "next_cursor" not in page:
            return items
        between_pages()
        query["cursor"] = page["next_cursor"]


# ---- invoices: due date, customer PO, filters ------------------------------------------------
def test_an_invoice_keeps_its_due_date_and_po_and_is_found_by_the_po(sage: Sage50) -> None:
    sage.customer("C1")
    given = _invoice(sage, "C1", "INV-1", DateDue="2024-04-30", CustomerPurchaseOrderNumber="PO-77")
    by_terms = _invoice(sage, "C1", "INV-2")
    assert (given["DateDue"], given["CustomerPurchaseOrderNumber"]) == ("2024-04-30", "PO-77")
    # no DateDue: the terms decide (Net 30 from 2024-03-15)
    assert (by_terms["DateDue"], by_terms["CustomerPurchaseOrderNumber"]) == ("2024-04-14", "")
    assert [i["Key"] for i in _items(sage, "/v1/invoices", customer_purchase_order_number="PO-77")] == [given["Key"]]
    assert _items(sage, "/v1/invoices", customer_purchase_order_number="po-77") == []  # exact


def test_a_bad_due_date_or_a_long_po_is_refused(sage: Sage50) -> None:
    sage.customer("C1")
    early = sage.post("/v1/invoices", {**invoice_body("C1", "INV-1"), "DateDue": "2024-03-14"})
    assert_error(early, 422, "ValidationException", "DateDue")
    long_po = sage.post("/v1/invoices", {**invoice_body("C1", "INV-1"), "CustomerPurchaseOrderNumber": "P" * 21})
    assert_error(long_po, 422, "ValidationException", "CustomerPurchaseOrderNumber")
    assert sage.state()["invoices"] == []


def test_open_invoices_narrow_by_customer_amount_dates_and_due_date(sage: Sage50) -> None:
    sage.customer("C1")
    sage.customer("C2")
    early = _invoice(sage, "C1", "E", DateDue="2024-03-20")
    late = _invoice(sage, "C1", "L", DateDue="2024-05-01")
    paid = _invoice(sage, "C1", "P")
    assert sage.post("/v1/payments", payment_body("C1", "R-P", paid["Key"], "70.00")).status_code == 201
    _invoice(sage, "C2", "O")
    other_amount = _invoice(sage, "C1", "A", price="71.00")

    def keys(**params: Any) -> set[str]:
        return {i["Key"] for i in _items(sage, "/v1/invoices", **params)}

    assert keys(open="true", customer_id="C1", amount="70.00") == {early["Key"], late["Key"]}
    assert keys(open="false") == {paid["Key"]}
    assert keys(open="true", customer_id="C1", due_by="2024-03-31") == {early["Key"]}
    assert keys(customer_id="C1", date_from="2024-03-15", date_to="2024-03-15") == \
        {early["Key"], late["Key"], paid["Key"], other_amount["Key"]}
    assert keys(date_from="2024-03-16") == set()


def test_malformed_filter_values_are_400_naming_the_parameter(sage: Sage50) -> None:
    for params, field in (({"amount": "70"}, "amount"), ({"open": "yes"}, "open"),
                          ({"due_by": "2024-02-30"}, "due_by"), ({"date_from": "15/03/2024"}, "date_from"),
                          ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"),
                          ({"cursor": "not-a-key"}, "cursor"), ({"customer_purchase_order": "X"}, None)):
        assert_error(sage.get("/v1/invoices", params=params), 400, "BadRequest", field)
    assert_error(sage.get("/v1/payments", params={"open": "true"}), 400, "BadRequest", "open")
    assert_error(sage.get("/v1/customers", params={"modified_since": "2024-03-15T10:00:00"}), 400,
                 "BadRequest", "modified_since")


# ---- paging ----------------------------------------------------------------------------------
def test_lists_page_with_a_cursor_and_a_record_that_stops_matching_skips_nothing(sage: Sage50) -> None:
    sage.customer("C1")
    invoices = [_invoice(sage, "C1", f"INV-{n}") for n in range(7)]
    first = sage.get("/v1/invoices", params={"limit": 3}).json()
    assert [i["Key"] for i in first["items"]] == [i["Key"] for i in invoices[:3]] and first["next_cursor"]

    # given a client paging through the open invoices, when one it has read is paid meanwhile
    def pay_the_first() -> None:
        if not sage.state()["payments"]:
            response = sage.post("/v1/payments", payment_body("C1", "R-0", invoices[0]["Key"], "70.00"))
            assert response.status_code == 201, response.text

    paged = _every_page(sage, "/v1/invoices", pay_the_first, open="true", limit=2)
    # then every invoice is still read exactly once
    assert [i["Key"] for i in paged] == [i["Key"] for i in invoices]
    assert "next_cursor" not in sage.get("/v1/invoices", params={"limit": 7}).json()


# ---- receipts on account ---------------------------------------------------------------------
def test_a_receipt_on_account_applies_to_nothing_and_lowers_the_balance(sage: Sage50) -> None:
    sage.customer("C1")
    invoice = _invoice(sage, "C1", "INV-1", price="80.00")
    body = {**payment_body("C1", "OA-1", invoice["Key"], "80.00"), "ApplyToInvoiceLines": [], "Amount": "80.00"}
    created = sage.post("/v1/payments", body)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert (receipt["Amount"], receipt["UnappliedAmount"], receipt["ApplyToInvoiceLines"]) == ("80.00", "80.00", [])
    assert sage.get(f"/v1/invoices/{invoice['Key']}").json()["AmountDue"] == "80.00"
    assert sage.get("/v1/customers/C1").json()["Balance"] == "0.00"
    assert [r["Key"] for r in _items(sage, "/v1/payments", reference_number="OA-1")] == [receipt["Key"]]

    no_amount = {k: v for k, v in body.items() if k not in ("Amount", "ApplyToInvoiceLines")}
    assert_error(sage.post("/v1/payments", no_amount), 422, "ValidationException", "Amount")


def test_a_receipt_may_apply_part_and_hold_the_rest_on_account_but_not_less(sage: Sage50) -> None:
    sage.customer("C1")
    invoice = _invoice(sage, "C1", "INV-1", price="100.00")
    part = sage.post("/v1/payments", {**payment_body("C1", "R-1", invoice["Key"], "40.00"), "Amount": "50.00"})
    assert part.status_code == 201, part.text
    assert (part.json()["Amount"], part.json()["UnappliedAmount"]) == ("50.00", "10.00")
    assert sage.get(f"/v1/invoices/{invoice['Key']}").json()["AmountDue"] == "60.00"
    short = sage.post("/v1/payments", {**payment_body("C1", "R-2", invoice["Key"], "40.00"), "Amount": "30.00"})
    assert_error(short, 422, "ValidationException", "Amount")
    void = sage.post("/v1/receipt_voids", {"ReceiptKey": part.json()["Key"], "ReferenceNumber": "V-1",
                                           "Date": "2024-03-17"})
    assert void.status_code == 201, void.text
    assert sage.get("/v1/customers/C1").json()["Balance"] == "100.00"


# ---- customers: zip, LastSavedAt, changed since --------------------------------------------
def test_customers_are_found_by_name_and_zip_ignoring_case_and_spaces(sage: Sage50) -> None:
    sage.customer("C1", Name="Grace Hopper", BillToContact={"Address": {"Zip": "SW1A 1AA"}})
    sage.customer("C2", Name="Grace Hopper", BillToContact={"Address": {"Zip": "98402"}})
    found = _items(sage, "/v1/customers", name="grace hopper", zip="sw1a1aa")
    assert [c["ID"] for c in found] == ["C1"]
    assert _items(sage, "/v1/customers", name="Grace Hopper", zip="00000") == []


def test_last_modified_is_stamped_on_every_save_and_lists_changes_strictly_after(sage: Sage50) -> None:
    first = sage.customer("C1")
    second = sage.customer("C2")
    assert first["LastSavedAt"].endswith("Z") and first["LastSavedAt"] < second["LastSavedAt"]
    updated = sage.call("PUT", "/v1/customers/C1", json={"Email": "c1@example.com"}).json()
    assert updated["LastSavedAt"] > second["LastSavedAt"]

    # oldest change first, and strictly after the time given
    assert [c["ID"] for c in _items(sage, "/v1/customers")] == ["C2", "C1"]
    assert [c["ID"] for c in _items(sage, "/v1/customers", modified_since=second["LastSavedAt"])] == ["C1"]
    assert _items(sage, "/v1/customers", modified_since=updated["LastSavedAt"]) == []
    offset = datetime.fromisoformat(second["LastSavedAt"].replace("Z", "+00:00")).astimezone().isoformat()
    assert [c["ID"] for c in _items(sage, "/v1/customers", modified_since=offset)] == ["C1"]

    # an invoice moves the Balance, not LastSavedAt; and LastSavedAt cannot be written
    _invoice(sage, "C1", "INV-1")
    assert sage.get("/v1/customers/C1").json()["LastSavedAt"] == updated["LastSavedAt"]
    assert_error(sage.call("PUT", "/v1/customers/C1", json={"LastSavedAt": "2030-01-01T00:00:00Z"}),
                 400, "BadRequest", "LastSavedAt")


def test_a_customer_changed_while_a_client_pages_is_answered_again_as_it_is_now(sage: Sage50) -> None:
    for n in range(4):
        sage.customer(f"C{n}")

    def change_c0() -> None:
        if sage.get("/v1/customers/C0").json()["PhoneNumbers"] == []:
            assert sage.call("PUT", "/v1/customers/C0", json={
                "PhoneNumbers": [{"Key": "Phone1", "Number": "555-0100"}]}).status_code == 200

    seen = _every_page(sage, "/v1/customers", change_c0, limit=2)
    assert [c["ID"] for c in seen] == ["C0", "C1", "C2", "C3", "C0"]
    assert seen[-1]["PhoneNumbers"] == [{"Key": "Phone1", "Number": "555-0100"}]
