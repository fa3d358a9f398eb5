"""No PAN, CSC or track data survives mask_payload; ids and masked numbers do."""
from __future__ import annotations

import re

from hypothesis import given, strategies as st

from schemas.masking import find_card_data, looks_like_pan, luhn_ok, mask_payload, mask_text

TEST_CARDS = ["4012000098765439", "5499740000000057", "6011000993026909", "371449635392376"]


def test_nested_card_fields_are_truncated_and_secrets_dropped():
    out = mask_payload({"credit_card": {"number": TEST_CARDS[0], "expiration_month": 12}, "csc": "999",
                        "track2": ";4012000098765439=30121010000000000000?", "lines": [{"memo": TEST_CARDS[1]}]})
    assert out["credit_card"]["number"] == "401200xxxxxx5439"
    assert out["csc"] == out["track2"] == "[redacted]"
    assert out["lines"][0]["memo"] == "549974xxxxxx0057"


def test_ids_amounts_and_masked_numbers_are_left_alone():
    payload = {"transaction_id": 125391271, "amount": 51.88, "masked_card_number": "xxxxxxxxxxxx5439",
               "phone": "5095551234", "invoice_id": "INV-2026-000123"}
    assert mask_payload(payload) == payload
    assert find_card_data(payload) == []


def test_card_numbers_with_spaces_or_dashes_in_text_are_caught():
    assert mask_text("paid with 4012-0000-9876-5439 today") == "paid with 401200xxxxxx5439 today"
    assert find_card_data({"a": ["x 4012 0000 9876 5439"]}) == ["$.a[0]"]


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


@given(st.sampled_from("123456789"), st.text("0123456789", min_size=11, max_size=17), st.text(max_size=20),
       st.text(max_size=20), st.sampled_from(["", " ", "  ", "-", ".", "\u00a0", "\t", "_", "/"]))
def test_no_luhn_valid_pan_survives_in_any_text(first, middle, before, after, sep):
    pan = _luhn_complete(first + middle)
    spaced = sep.join(pan[i:i + 4] for i in range(0, len(pan), 4))
    masked = mask_payload({"note": f"{before} {spaced} {after}", "n": [pan], pan: "as a key"})
    flat = re.sub(r"\D", "", str(masked))
    assert pan not in flat
    assert looks_like_pan(pan)


def test_mastercard_two_series_keys_and_floats_are_masked():
    out = mask_payload({"note": "2221000000000009", "2221 0000 0000 0009": 1, "f": 4111111111111111.0,
                        "cvv_number": "123", "CardSecurityCode": "999", "phone": "5095551234"})
    assert "2221000000000009" not in str(out).replace(" ", "") and "4111111111111111" not in str(out)
    assert out["cvv_number"] == out["CardSecurityCode"] == "[redacted]" and out["phone"] == "5095551234"
    # and the audit paths never carry the number either
    assert all("2221000000000009" not in p for p in find_card_data({"2221000000000009": {"x": 1}}))


def test_bank_account_numbers_are_masked_to_their_last_four_by_key():
    # given account numbers, which no Luhn or length rule can spot in text
    out = mask_payload({"check": {"account_number": "000123456789", "routing_number": "325070760"},
                        "account_number": 123456789, "Bank_Account_Number": "1234-5678-9012",
                        "customers": [{"check": {"account_number": "987654321"}}],
                        "short": {"account_number": "1234"}, "odd": {"account_number": "12AB5678"}})
    # then only the last four survive, the routing number (public) is kept
    assert out["check"] == {"account_number": "xxxxxx6789", "routing_number": "325070760"}
    assert out["account_number"] == "xxxxxx6789" and out["Bank_Account_Number"] == "xxxxxx9012"
    assert out["customers"][0]["check"]["account_number"] == "xxxxxx4321"
    assert out["short"]["account_number"] == out["odd"]["account_number"] == "[redacted]"
    assert "123456789" not in str(out) and "0001234" not in str(out)


def test_masked_account_numbers_are_kept_and_not_reported():
    payload = {"check": {"account_number": "xxxxxx6789", "masked_account_number": "xxxxxx6789"},
               "account_number": "****6789"}
    assert mask_payload(payload) == payload and mask_payload(mask_payload(payload)) == payload
    assert find_card_data(payload) == []
    assert find_card_data({"check": {"account_number": "000123456789"}}) == ["$.check.account_number"]


# -- issue 11: security codes in free text, ids used as keys, URLs and log records --------------------
import logging  # noqa: E402

import pytest  # noqa: E402

from schemas.masking import MaskingLogFilter, keyed_id, mask_url  # noqa: E402


@pytest.mark.parametrize("phrase", ["cvv 123", "CVV2: 123", "security code 123", "csc=123", "CSC: 1234",
                                    "Card Code #123", "cvc2=123", "CVV/CVC is 123", "my cvv number is 123",
                                    "verification value: 123", "sec code 123", "CID 1234", "cvv:123"])
def test_security_codes_named_in_free_text_are_scrubbed(phrase):
    # given a security code written in a note, in any of the usual ways
    out = mask_payload({"note": f"paid by phone, {phrase}, thanks", "list": [phrase]})
    # then its digits are gone and the label is left for a person to see what was removed
    assert not re.search(r"\d{3}", out["note"]) and "[redacted]" in out["note"]
    assert "[redacted]" in out["list"][0] and find_card_data({"note": phrase}) == ["$.note"]


def test_numbers_that_are_not_security_codes_stay():
    for text in ("invoice 123", "PO 4567 of 12/30", "cvv: 12", "ref 123 cvv", "phone 5095551234"):
        assert mask_text(text) == text


def test_a_keyed_id_is_masked_stable_and_tells_lookalikes_apart():
    key = b"k" * 32
    a, b = f"evt_{TEST_CARDS[0]}", f"evt_{TEST_CARDS[0][:6]}999999{TEST_CARDS[0][-4:]}"
    assert keyed_id(a, key) == keyed_id(a, key) and keyed_id(a, key) != keyed_id(b, key)
    assert TEST_CARDS[0] not in keyed_id(a, key) and keyed_id(a, key).startswith("evt_401200")
    assert keyed_id(a, key) != keyed_id(a, b"another key of the deployment")
    assert keyed_id("evt_12345", key) == "evt_12345" and len(keyed_id("x" * 300 + TEST_CARDS[0], key)) <= 200


def test_a_url_for_a_log_has_a_scanned_path_and_no_query_string():
    assert mask_url(f"/pairs/{TEST_CARDS[1]}/webhooks?card={TEST_CARDS[0]}") == "/pairs/549974xxxxxx0057/webhooks?[query]"
    assert mask_url("/pairs/4012%200000%209876%205439/x") == "/pairs/401200xxxxxx5439/x"
    assert mask_url("/healthz") == "/healthz"


def test_the_log_filter_masks_messages_arguments_and_tracebacks():
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "event %s said %s", (f"evt_{TEST_CARDS[0]}",
                                                                                   "cvv 123"), None)
    try:
        raise ValueError(f"bad {TEST_CARDS[2]}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert MaskingLogFilter().filter(record)
    line = logging.Formatter().format(record)
    assert TEST_CARDS[0] not in line and TEST_CARDS[2] not in line and "123" not in line
