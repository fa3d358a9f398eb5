"""`paysync mapping check` shows the documents a mapping would write (nothing posted) and exits by what
it found; `paysync mapping suggest` ranks field matches by name and value."""
from __future__ import annotations

import copy
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from cli.mapping import EXIT_INVALID, EXIT_OK, EXIT_SAMPLE_FAILED, check, load_samples, preview, sandbox_samples
from cli.mapping_suggest import score_pairs, suggest
from config.mapping import load_mapping

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"
SAGE50, SAGE_X3, SAGE_PRO = (MAPPINGS / f"paytrace-{k}.yaml" for k in ("sage50", "sage_x3", "sage_pro"))

SALE = {  # an export/by_id record as PayTrace's sandbox answers it
    "transaction_id": 125391271, "transaction_type": "SALE", "amount": 853.9,
    "credit_card": {"masked_number": "401200******5439", "expiration_month": 12, "expiration_year": 30},
    "description": "Order WEB-00042", "invoice_id": "WEB-00042", "customer_reference_id": "PO-7781",
    "billing_address": {"name": "Ada Lovelace", "street_address": "100 Main St", "street_address2": "",
                        "city": "Spokane", "state": "Washington", "zip": "99201", "country": "United States"},
    "receipt_emailed_to": "ada@example.com", "tax_amount": "", "approval_code": "TAS300",
    "status_code": "Y", "status_message": "Pending Settlement",
    "created": {"through": "API", "at": "11/21/2026 8:03:52 PM", "by": "demo", "from_ip": "127.0.0.1"},
    "settled": "", "customer_id": "",
}


def record(**changes) -> dict:
    r = copy.deepcopy(SALE)
    r.update(changes)
    return r


def console() -> Console:
    return Console(file=io.StringIO(), record=True, width=200, color_system=None)


# -- check --------------------------------------------------------------------------------------
def test_check_refuses_a_broken_file_with_every_error_and_exit_code_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(SAGE50.read_text().replace('clearing: "1205"', "clearing: [1205]")
                      .replace("rounding: ROUND_HALF_UP", "rounding: ROUND_NEAREST"))
    out = console()
    assert check(broken, [SALE], out) == EXIT_INVALID
    text = out.export_text()
    assert "is not a valid mapping file (2 errors)" in text
    assert f"{broken}: accounts.clearing: Give an account" in text
    assert f"{broken}: currency.rounding: Not a rounding rule" in text
    assert "Sales order" not in text  # nothing previewed from a file that is refused


@pytest.mark.parametrize("path, cash, clearing, extra", [
    (SAGE50, "1200", "1205", ["method", "Credit Card", "2026-11-21"]),
    (SAGE_X3, "10500", "10510", ["entry type", "RCPCB", "20261121", "ERP key"]),
    (SAGE_PRO, "1200-00", "1205-00", ["method", "CC", "2026-11-21"]),
])
def test_check_shows_every_document_and_account_a_sale_would_become(path, cash, clearing, extra):
    out = console()
    assert check(path, [SALE], out) == EXIT_OK
    text = out.export_text()
    for document in ("Customer PTC-", "Sales order PT125391271-SO", "Invoice PT125391271-INV",
                     "Receipt PT125391271-RCP", "Journal PT125391271-JE", "balanced"):
        assert document in text, document
    # Dr clearing, Cr cash, with their accounts and amounts
    assert re.search(rf"│ {clearing} +│ clearing +│ +853\.90 │ +│ PayTrace 125391271 VISA 5439", text)
    assert re.search(rf"│ {cash} +│ cash +│ +│ +853\.90 │ PayTrace 125391271 VISA 5439", text)
    assert re.search(rf"│ cash account +│ {cash} ", text)
    assert "PAYMENT" in text and "Spokane, WA, 99201, US" in text  # item; address normalized
    assert load_mapping(path).short_checksum in text and "Dry run: nothing was posted" in text
    for word in extra:
        assert word in text, word


def test_check_previews_what_the_document_builder_gives_the_workers():
    from flows import documents
    from flows.decision import UNMATCHED, Decision
    from schemas.paytrace import load_transaction

    m = load_mapping(SAGE50)
    p = preview(m, SALE)
    txn = load_transaction(SALE)
    docs = documents.sale(m, txn, documents.Held(sales_order="(the sales order)", invoice="(the invoice)"),
                          Decision(UNMATCHED), Decimal(1))
    assert (p.journal, p.sales_order, p.invoice, p.payment, p.customer) == \
        (docs.journal, docs.sales_order, docs.invoice, docs.receipt, docs.customer)
    assert p.payment.cash_account == "1200" and p.conversion == (Decimal("853.90"), Decimal(1))


def test_check_shows_a_refund_and_a_check_with_their_own_documents():
    out = console()
    refund = record(transaction_id=125391299, transaction_type="REFUND", amount=100)
    check_sale = {k: v for k, v in SALE.items() if k not in ("transaction_id", "credit_card", "status_code")}
    check_sale.update(check_transaction_id=4401, status_code="Y", check={"masked_account_number": "xxxxxx6789"})
    assert check(SAGE50, [refund, check_sale], out) == EXIT_OK
    text = out.export_text()
    for document in ("Credit memo PT125391299-CM", "Customer refund PT125391299-RFD", "Journal PT125391299-JE",
                     "Sales order PTA4401-SO", "Receipt PTA4401-RCP", "│ method       │ ACH"):
        assert document in text, document


def test_check_marks_a_decline_and_posts_nothing_for_it():
    out = console()
    declined = record(transaction_type="DECLINED", status_code="N", status_message="Declined", amount=0.29)
    assert check(SAGE_X3, [declined], out) == EXIT_OK
    text = out.export_text()
    assert "declined: the order is kept and marked; nothing is posted to cash" in text and "invoice Payment Failed, payment Declined" in text
    assert "Journal" not in text


def test_check_exits_1_when_a_sample_cannot_be_translated(tmp_path):
    strict = tmp_path / "strict.yaml"
    strict.write_text(SAGE50.read_text().replace("unknown: keep", "unknown: error"))
    out = console()
    bad = [record(transaction_id="not-a-number"), record(billing_address={"country": "Atlantis"}), SALE]
    assert check(strict, bad, out) == EXIT_SAMPLE_FAILED
    text = out.export_text()
    assert "not a valid export record" in text and "unknown country 'Atlantis'" in text
    assert "2 sample transaction(s) could not be translated" in text
    assert "Journal PT125391271-JE" in text  # the good one is still shown


def test_samples_load_from_a_json_file_in_either_shape(tmp_path):
    listed, answered = tmp_path / "list.json", tmp_path / "export.json"
    listed.write_text(json.dumps([SALE]))
    answered.write_text(json.dumps({"success": True, "transactions": [SALE, record(transaction_id=2)]}))
    assert load_samples(listed)[0]["amount"] == Decimal("853.9")  # never through float
    assert [r["transaction_id"] for r in load_samples(answered)] == [125391271, 2]
    with pytest.raises(ValueError, match="expected a list"):
        (tmp_path / "bad.json").write_text("[1, 2]")
        load_samples(tmp_path / "bad.json")


def test_check_runs_on_sales_made_on_the_paytrace_sandbox():
    samples = sandbox_samples(4)
    assert [r["transaction_type"] for r in samples] == ["SALE", "SALE", "SALE", "DECLINED"]
    out = console()
    assert check(SAGE50, samples, out) == EXIT_OK
    text = out.export_text()
    assert text.count("Journal PT") == 3 and "nothing is posted to cash" in text


# -- suggest ------------------------------------------------------------------------------------
X3_INVOICE = {"SIH0_1": {"SALFCY": "NA011", "SIVTYP": "INV", "NUM": "INVNA0112600001", "INVREF": "WEB-00042",
                         "INVDAT": "20261121", "BPCINV": "NA001", "CUR": "USD"},
              "SIH4_1": [{"ITMREF": "PAYMENT", "ITMDES1": "Consulting", "QTY": "1", "GROPRI": "853.90"}],
              "AMTATI": "853.90"}


def test_suggest_ranks_invoice_id_to_invref_first_for_an_x3_invoice():
    out = console()
    found = suggest(SALE, X3_INVOICE, out)
    shown = out.export_text()
    assert (found[0].paytrace_field, found[0].erp_field) == ("invoice_id", "SIH0_1.INVREF")
    assert found[0].score == 100 and found[0].reason == "synonym, same value"
    pairs = {(s.paytrace_field, s.erp_field) for s in found}
    assert {("amount", "AMTATI"), ("created.at", "SIH0_1.INVDAT")} <= pairs
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert len({s.paytrace_field for s in found}) == len({s.erp_field for s in found}) == len(found)
    assert re.search(r"│ 1 │ invoice_id +│ SIH0_1\.INVREF +│ +100 │ synonym, same value", shown)


@pytest.mark.parametrize("entity, wanted", [
    ({"Key": "7f1c", "CustomerID": "PTC-X", "ReferenceNumber": "WEB-00042", "Date": "2026-11-21",
      "Amount": "853.90", "AmountDue": "853.90"}, ("invoice_id", "ReferenceNumber")),
    ({"INVNO": "5001", "CUSTNO": "ABC123", "INVDTE": "2026-11-21", "PONUM": "WEB-00042", "ORNUM": "1001",
      "INVAMT": "853.90", "BALANCE": "853.90"}, ("invoice_id", "PONUM")),
    ({"INVNO": "5002", "CUSTNO": "ABC123", "PONUM": "PO-7781", "INVAMT": "12.00"},
     ("customer_reference_id", "PONUM")),  # the value decides between the two PONUM synonyms
    ({"SOH0_1": {"SOHNUM": "SONNA011", "CUSORDREF": "PO-7781", "BPCORD": "NA001"}},
     ("customer_reference_id", "SOH0_1.CUSORDREF")),
])
def test_suggest_finds_the_reference_field_of_each_erp(entity, wanted):
    found = suggest(SALE, entity, console())
    assert (found[0].paytrace_field, found[0].erp_field) == wanted


def test_suggest_matches_customer_fields_by_synonym_and_value():
    sage50_customer = {"ID": "PTC-X", "Name": "Ada Lovelace", "Email": "ada@example.com",
                       "BillToContact": {"Address": {"Address1": "100 Main St", "City": "Spokane", "State": "WA",
                                                     "Zip": "99201", "Country": "US"}}}
    pairs = {(s.paytrace_field, s.erp_field) for s in suggest(SALE, sage50_customer, console())}
    assert {("receipt_emailed_to", "Email"), ("billing_address.zip", "BillToContact.Address.Zip"),
            ("billing_address.name", "Name"), ("billing_address.city", "BillToContact.Address.City")} <= pairs
    x3_address = {"BPAC_1": [{"CODADR": "MAIN", "ADDLIG1": "100 Main St", "POSCOD": "99201", "CTY": "Spokane",
                              "SAT": "WA", "BPACRY": "US", "WEB1": "ada@example.com"}]}
    pairs = {(s.paytrace_field, s.erp_field) for s in suggest(SALE, x3_address, console())}
    assert {("billing_address.zip", "BPAC_1.POSCOD"), ("receipt_emailed_to", "BPAC_1.WEB1"),
            ("billing_address.street_address", "BPAC_1.ADDLIG1")} <= pairs


def test_suggest_never_shows_card_data_and_says_when_nothing_matches():
    pairs = score_pairs(record(credit_card={"number": "4012000098765439"}), {"CARD": "4012000098765439"})
    assert all("4012000098765439" not in repr(p) for p in pairs)
    out = console()
    assert suggest({"zzz": "1"}, {"QQQ": "alpha"}, out) == []
    assert "No match scored 50 or more." in out.export_text()
