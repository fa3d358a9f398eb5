"""The pure parts of the customer sync: normalized contact, fingerprints, masking, blanks filled."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.errors import RetriableError
from flows.customer_contact import billing_address_for, fill_blanks, fingerprint, masked_number, profile_customer
from flows.customer_links import cursor_name
from flows.customers import CustomerSyncReport
from flows.documents import customer_id_for, erp_customer_id_for_profile
from schemas.domain import Address, Customer, GatewayTransaction

ADA = Customer("PT-ada", "Ada Lovelace", "ada@example.com", "(509) 555-0100",
               Address("Ada Lovelace", "1 Main St.", "", "Spokane", "WA", "99201", "US"))
RECORD = {"customer_id": "ada", "email": "ada@example.com", "phone": "(509) 555-0100",
          "billing_address": {"name": "Ada Lovelace", "street_address": "1 Main St.", "street_address2": "",
                              "city": "Spokane", "state": "WA", "zip": "99201", "country": "US"},
          "credit_card": {"masked_number": "************1111", "expiration_month": 12, "expiration_year": 30}}


def test_the_same_contact_spelt_differently_has_one_fingerprint():
    # given the same person as another system might spell them
    other = Customer("C1001", "ADA  LOVELACE", " Ada@Example.COM ", "509-555-0100",
                     Address("", "1 main st", "", "spokane", "wa", "99201", "USA"))
    # then the fingerprints agree, and the customer id plays no part
    assert fingerprint(other) == fingerprint(ADA)


@pytest.mark.parametrize("change", [
    {"email": "ada@example.org"},
    {"phone": "509-555-0199"},
    {"name": "Ada King"},
    {"address": Address("Ada Lovelace", "9 Elm St", "", "Spokane", "WA", "99201", "US")},
    {"address": Address("Ada Lovelace", "1 Main St", "Apt 2", "Spokane", "WA", "99201", "US")},
    {"address": Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99202", "US")},
    {"address": Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99201", "CA")},
])
def test_any_contact_change_changes_the_fingerprint(change):
    from dataclasses import replace

    assert fingerprint(replace(ADA, **change)) != fingerprint(ADA)


def test_card_data_plays_no_part_in_a_profile_or_its_fingerprint():
    other_card = {**RECORD, "credit_card": {"masked_number": "************4242"}}
    assert profile_customer(other_card, "PT-ada") == profile_customer(RECORD, "PT-ada")
    assert fingerprint(profile_customer(RECORD, "PT-ada")) == fingerprint(ADA)
    assert "1111" not in repr(profile_customer(RECORD, "PT-ada"))


def test_a_profile_without_a_name_gets_a_placeholder_but_never_matches_by_it():
    bare = profile_customer({"customer_id": "x9", "billing_address": {"zip": "99201"}}, "PT-x9")
    assert bare.name == "PayTrace customer x9" and bare.address.name == ""


@pytest.mark.parametrize("record, kept", [
    (RECORD, "************1111"),
    ({"credit_card": {"masked_number": "545454******5454"}}, "545454******5454"),
    # a full number that slipped through is cut to its last four, never stored
    ({"credit_card": {"masked_number": "4111111111111111"}}, "xxxxxxxxxxxx1111"),
    ({"credit_card": {}, "check": {"masked_account_number": "xxxxxx6789", "routing_number": "325081403"}},
     "xxxxxx6789"),
    ({"check": {"account_number": "000123456789"}}, "xxxxxx6789"),
    ({"credit_card": {}}, None),
])
def test_only_a_masked_number_is_kept(record, kept):
    assert masked_number(record) == kept


def test_a_merge_fills_only_blank_fields_of_the_erp_customer():
    erp = Customer("C1001", "Lovelace Ltd", "ADA@example.com", "", Address("", "", "", "", "", "", ""))
    filled = fill_blanks(erp, ADA)
    assert (filled.customer_id, filled.name, filled.email, filled.phone) == \
           ("C1001", "Lovelace Ltd", "ADA@example.com", "(509) 555-0100")
    assert filled.address.line1 == "1 Main St."
    # an address the ERP has is one unit: never patched part by part
    erp2 = Customer("C1002", "Lovelace Ltd", "", "", Address("", "7 Pine Rd", "", "Tacoma", "WA", "", "US"))
    assert fill_blanks(erp2, ADA).address == erp2.address


def test_the_address_sent_to_paytrace_is_whole_and_without_the_cardholder_name():
    assert billing_address_for(ADA.address) == {"street_address": "1 Main St.", "street_address2": "",
                                                "city": "Spokane", "state": "WA", "zip": "99201", "country": "US"}
    assert billing_address_for(Address("Ada")) is None


def test_profiles_and_their_sales_share_one_erp_customer_id():
    assert erp_customer_id_for_profile("ada") == "PT-ada"
    long_id = "a-very-long-vault-customer-id"
    hashed = erp_customer_id_for_profile(long_id)
    assert hashed.startswith("PTC-") and len(hashed) == 20 and hashed == erp_customer_id_for_profile(long_id)
    assert customer_id_for(_sale_by(long_id)) == hashed and customer_id_for(_sale_by("ada")) == "PT-ada"


def _sale_by(profile_id: str) -> GatewayTransaction:
    return GatewayTransaction(125391271, "SALE", Decimal("51.88"), "Y", "Pending Settlement",
                              datetime(2026, 11, 21, tzinfo=timezone.utc), None, "401200xxxxxx5439", "VISA", "", "",
                              "", profile_id, "ada@example.com", Decimal("0"), ADA.address, "TAS123")


def test_a_report_with_failures_that_may_pass_raises_one_retriable_error():
    report = CustomerSyncReport()
    report.raise_retriable()  # nothing failed: nothing raised
    report.retriable.append(RetriableError("record in use", system="sage50", operation="customers", retry_after=3))
    with pytest.raises(RetriableError, match="1 customer") as caught:
        report.raise_retriable()
    assert caught.value.retry_after == 3 and caught.value.system == "sage50"


def test_the_cursor_name_fits_its_column():
    assert cursor_name("default") == "customers:default"
    assert len(cursor_name("p" * 31)) <= 40
