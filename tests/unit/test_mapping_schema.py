"""Mapping files: good ones load, broken ones report every mistake with its path, the shipped ones
reproduce today's rules, and money conversion is Decimal rounded by the named rule."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from config.mapping import (MappingError, UnmappableError, account_for, checksum, convert, erp_date, item_for,
                            load_mapping, load_mappings, normalize_address, parse_mapping_text, payment_type_for,
                            paytrace_status, reference_for, short_checksum, status_for)
from config.settings import SettingsError, load_settings
from flows import documents
from schemas.domain import Address
from schemas.mapping import DEFAULT_CODES, ROUNDING_RULES, Currency, PayTraceSide, RateSource

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"
SHIPPED = {"sage50": MAPPINGS / "paytrace-sage50.yaml", "sage_x3": MAPPINGS / "paytrace-sage_x3.yaml",
           "sage_pro": MAPPINGS / "paytrace-sage_pro.yaml"}

GOOD = """\
version: 1
name: Acme West
erp: sage50
paytrace: {account: acme-west}
statuses:
  approved: Paid
  settled: Paid
  declined: {invoice: Failed, payment: Declined}
  voided: Open
  refunded: Credited
  chargeback: Disputed
payment_types:
  default: Credit Card
  ACH: {method: ACH}
accounts:
  cash: "1200"
  clearing: {default: "1205", by_brand: {AMEX: "1215", ACH: "1250"}}
  bank: "1020"
  sale: {default: "4000", by_category: {services: "4010"}}
  refund: "4100"
  fee: "6100"
  chargeback: "6150"
items: {default: PAYMENT, by_category: {services: SERVICE}}
currency: {base: USD, rates: none, rounding: ROUND_HALF_EVEN}
dates: {timezone: America/Chicago, erp_format: "%Y-%m-%d"}
policies: {unmatched: on_account, duplicate: review, flags_block_posting: false}
"""

BROKEN = """\
version: 1
name: Broken
erp: sage50
paytrace: {account: acme}
statuses:
  approved: Paid
  settled: Paid
  declined: Failed
  voided: Open
  refunded: Credited
payment_types:
  default: Credit Card
  JCB: Card
accounts:
  cash: "1200"
  clearing: {default: "1205", by_brand: {AMEX: [1215, 1216]}}
  bank: "1020"
  sale: "4000"
  refund: "4100"
  fee: "6100"
  chargeback: "6150"
  deposits: "1030"
items: {default: PAYMENT}
currency: {base: USD, rates: none, rounding: ROUND_NEAREST}
dates: {timezone: America/Springfield, erp_format: "%Y-%m-%d"}
references: {pattern: "PAYTRACE-{transaction_id}-{code}"}
policies: {unmatched: later, duplicate: flag, flags_block_posting: true}
defaults: {sales_site: NA011}
"""


def good(**changes: str) -> str:
    text = GOOD
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


# -- loading ------------------------------------------------------------------------------------
def test_a_good_file_loads_into_frozen_dataclasses_with_its_shorthands():
    m = parse_mapping_text(GOOD, name="acme.yaml")
    assert (m.name, m.erp, m.paytrace.account, m.paytrace.currency) == ("Acme West", "sage50", "acme-west", "USD")
    # a single word sets both statuses; authorized and partially_refunded fall back
    assert status_for(m, "approved").invoice == status_for(m, "approved").payment == "Paid"
    assert status_for(m, "declined").payment == "Declined"
    assert status_for(m, "authorized") == status_for(m, "approved")
    assert status_for(m, "partially_refunded") == status_for(m, "refunded")
    # accounts: category, then brand, then default
    assert account_for(m, "clearing", "AMEX") == "1215" and account_for(m, "clearing", "VISA") == "1205"
    assert account_for(m, "clearing", "ACH") == "1250" and account_for(m, "clearing") == "1205"
    assert account_for(m, "sale", "VISA", "services") == "4010" and account_for(m, "sale", "VISA", "toys") == "4000"
    assert item_for(m, "services") == "SERVICE" and item_for(m) == "PAYMENT"
    assert payment_type_for(m, "ACH").method == "ACH" and payment_type_for(m, "DISCOVER").method == "Credit Card"
    assert payment_type_for(m, "JCB").method == "Credit Card"  # a brand PayTrace adds later is still a card
    # sections left out take today's values
    assert reference_for(m, 125391271, "invoice") == "PT125391271-INV"
    assert m.references.max_length == 20 and m.addresses.state_countries == ("US", "CA")
    assert m.policies.flags_block_posting is False and m.checksum == checksum(GOOD)
    with pytest.raises(Exception):
        m.name = "changed"  # frozen


def test_every_value_is_read_as_text_so_codes_keep_their_leading_zeros():
    m = parse_mapping_text(good(**{'cash: "1200"': "cash: 0100"}) + "addresses: {default_country: NO}\n")
    assert account_for(m, "cash") == "0100" and m.addresses.default_country == "NO"  # not 64, not False


def test_a_broken_file_reports_every_mistake_with_its_path_and_the_file_name():
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(BROKEN, name="broken.yaml")
    errors = caught.value.errors
    expected = {
        "accounts.clearing.by_brand.AMEX: Not a valid string.",
        "accounts.deposits: Unknown field.",
        "currency.rounding: Not a rounding rule",
        "dates.timezone: Unknown time zone 'America/Springfield'",
        "defaults.sales_site: Unknown field.",  # Sage 50 takes no X3 codes
        "payment_types.JCB: Use default or a card brand or ACH",
        "policies.unmatched: Must be one of: create, on_account, review.",
        "references.pattern: Makes references of up to 23 characters (PAYTRACE-9999999999-INV)",
        "statuses.chargeback: Missing data for required field.",
    }
    for want in expected:
        assert any(line.startswith(f"broken.yaml: {want}") for line in errors), (want, errors)
    assert len(errors) == len(expected)
    assert all(line.startswith("broken.yaml: ") for line in errors)
    assert "(9 errors)" in str(caught.value) and "accounts.clearing.by_brand.AMEX" in str(caught.value)


def test_cross_section_rules_are_checked():
    # no default and a brand left without a clearing account
    text = good(**{'clearing: {default: "1205", by_brand: {AMEX: "1215", ACH: "1250"}}':
                   'clearing: {by_brand: {AMEX: "1215", ACH: "1250"}}'})
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, name="m.yaml")
    assert any("accounts.clearing: No account for VISA, MASTERCARD, DISCOVER, UNKNOWN" in l
               for l in caught.value.errors)
    # an account for a brand the pair cannot be paid with; a foreign currency without rates;
    # a lookup with no link; X3 codes and entry types for Sage 50
    text = good(**{"  default: Credit Card\n": "  VISA: Credit Card\n", "{account: acme-west}":
                   "{account: acme-west, currency: CAD}", "ACH: {method: ACH}": "ACH: {method: ACH, entry_type: X}"})
    text += "references: {links: {}, invoice_lookup: [invoice_id, invoice_id]}\n"
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, name="m.yaml")
    lines = "\n".join(caught.value.errors)
    for path in ("accounts.clearing.by_brand.AMEX: AMEX has no payment type", "currency.rates: PayTrace takes CAD",
                 "references.invoice_lookup[0]: invoice_id has no ERP field",
                 "references.invoice_lookup[1]: invoice_id is listed twice",
                 "payment_types.ACH.entry_type: Sage 50 has no payment entry type"):
        assert f"m.yaml: {path}" in lines, path


def test_yaml_mistakes_are_reported_with_their_line():
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(GOOD + "items: {default: OTHER}\n", name="m.yaml")
    assert any("line 27: key 'items' appears twice" in l for l in caught.value.errors)
    with pytest.raises(MappingError) as caught:
        parse_mapping_text("name: [unclosed\n", name="m.yaml")
    assert "not valid YAML" in caught.value.errors[0] and "line" in caught.value.errors[0]
    with pytest.raises(MappingError) as caught:
        parse_mapping_text("- a list\n", name="m.yaml")
    assert caught.value.errors == ("m.yaml: (file): The file must be a YAML mapping of keys to values.",)


@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_the_shipped_files_all_load_and_route_by_paytrace_account(kind):
    m = load_mapping(SHIPPED[kind])
    assert m.erp == kind and m.source == str(SHIPPED[kind]) and len(m.short_checksum) == 12
    assert m.checksum == checksum(SHIPPED[kind]) and short_checksum(m.checksum) == m.short_checksum
    routed = load_mappings(MAPPINGS, erps=[kind])
    assert routed.for_account("DEMO") == m and len(routed) == 1 and len(routed.inactive) == 2


def test_two_files_claiming_one_account_are_refused_together():
    with pytest.raises(MappingError) as caught:
        load_mappings(MAPPINGS)
    assert len(caught.value.errors) == 2 and all("demo is already served by" in l for l in caught.value.errors)


def test_a_directory_with_an_unknown_erp_or_no_files_is_refused(tmp_path):
    with pytest.raises(MappingError, match="no mapping files"):
        load_mappings(tmp_path)
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(good(**{"erp: sage50": "erp: sage100", "acme-west": "acme-east"}))
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path)
    assert caught.value.errors == (f"{tmp_path / 'b.yaml'}: erp: Must be one of: sage50, sage_x3, sage_pro.",)
    (tmp_path / "b.yaml").write_text(good(**{"acme-west": "acme-east"}))
    both = load_mappings(tmp_path)
    assert both.accounts == ("acme-west", "acme-east") and both.for_account("acme-east").source.endswith("b.yaml")
    with pytest.raises(KeyError, match="no mapping serves PayTrace account 'acme-north'"):
        both.for_account("acme-north")
    with pytest.raises(ValueError, match="unknown ERP kind"):
        load_mappings(tmp_path, erps=["sage100"])


# -- the shipped defaults are today's behaviour ------------------------------------------------
def _connector(kind: str, settings):
    from connectors.registry import build_connector

    return build_connector(kind, getattr(settings, kind))


@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_the_shipped_files_keep_the_references_and_site_codes_paysync_always_wrote(kind, tmp_path):
    settings = load_settings({"PAYSYNC_ENV": "test", "PAYSYNC_HOME": str(tmp_path), "PAYSYNC_ERP": kind})
    connector = _connector(kind, settings)
    try:
        limit = connector.max_reference_length
    finally:
        connector.close()
    m = load_mapping(SHIPPED[kind])
    # Documents written before mapping files existed are still found (and not written twice) by these.
    for step, code in DEFAULT_CODES.items():
        assert reference_for(m, 9_999_999_999, step) == f"PT9999999999-{code}"
        assert documents.reference(m, 9_999_999_999, step, "ACH") == f"PTA9999999999-{code}"
    assert m.references.max_length == limit
    if kind == "sage_x3":
        # the site codes every X3 document carries are the mapping file's, and reach the connector's config
        from workers.context import erp_config

        changed = replace(m, defaults={**m.defaults, "sales_site": "FR011", "bank": "BNP"},
                          currency=replace(m.currency, base="EUR"))
        x3 = erp_config(settings, changed)
        assert (x3.sales_site, x3.bank, x3.currency, x3.order_type) == ("FR011", "BNP", "EUR", m.defaults["order_type"])
        assert payment_type_for(m, "VISA").entry_type == m.defaults["payment_type"]


def test_a_key_paysync_no_longer_reads_is_named_with_where_its_fact_lives_now(tmp_path):
    # an account in the environment would silently do nothing: the mapping file holds it now
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", "PAYSYNC_HOME": str(tmp_path), "SAGE50_CASH_ACCOUNT": "1200",
                       "SAGEX3_SALES_SITE": "NA011"})
    assert "accounts.cash" in caught.value.errors["SAGE50_CASH_ACCOUNT"][0]
    assert "defaults.sales_site" in caught.value.errors["SAGEX3_SALES_SITE"][0]


# -- references ---------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, problem", [
    ("PAYTRACE{transaction_id}-{code}", "Makes references of up to 22 characters (PAYTRACE9999999999-INV)"),
    ("PT{transaction_id:015}-{code}", "Makes references of up to 21 characters"),
    ("PT{transaction_id}", "Must contain {code}"),
    ("PT-{code}", "Must contain {transaction_id}"),
    ("PT{txn}-{code}", "Unknown placeholder(s) txn"),
    ("PT {transaction_id}-{code}", "Only letters, digits"),
    ("PT{transaction_id-{code}", "Not a reference pattern"),
])
def test_reference_patterns_that_do_not_fit_or_would_collide_are_refused(pattern, problem):
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(GOOD + f'references: {{pattern: "{pattern}"}}\n', name="m.yaml")
    assert any(l.startswith("m.yaml: references.pattern: " + problem) for l in caught.value.errors), \
        caught.value.errors


def test_a_pattern_that_fits_exactly_is_taken_and_the_limit_cannot_be_raised():
    m = parse_mapping_text(GOOD + 'references: {pattern: "PAY{transaction_id}-{code}"}\n')
    assert reference_for(m, 9_999_999_999, "refund") == "PAY9999999999-RFD" and len("PAY9999999999-RFD") <= 20
    text = GOOD + 'references: {pattern: "PAY{transaction_id}-{code}", max_length: 30, ' \
                  'codes: {invoice: SO}}\n'
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, name="m.yaml")
    assert "m.yaml: references.max_length: Sage 50 keeps at most 20 characters." in caught.value.errors
    assert any("references.codes.invoice: SO is already the code of sales_order" in l for l in caught.value.errors)


# -- money --------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _good():
    return parse_mapping_text(GOOD)


def _foreign(rounding: str, base: str = "USD"):
    return replace(_good(), paytrace=PayTraceSide("acme-west", "CAD"),
                   currency=Currency(base, RateSource("table", "fx_rates"), rounding))


HALF_RULES = {"ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_HALF_DOWN"}


@hsettings(max_examples=300, deadline=None)
@given(amount=st.decimals(min_value="0.01", max_value="9999999999.99", places=2),
       rate=st.decimals(min_value="0.000001", max_value="10000", places=6),
       rounding=st.sampled_from(ROUNDING_RULES))
def test_conversion_is_decimal_rounded_once_by_the_named_rule(amount, rate, rounding):
    converted, used = convert(_foreign(rounding), amount, "CAD", {"CAD": rate})
    exact = amount * rate  # Decimal products of these sizes are exact at 28 digits
    assert isinstance(converted, Decimal) and used == rate
    assert converted.as_tuple().exponent == -2
    assert converted == exact.quantize(Decimal("0.01"), rounding=rounding)
    if rounding in HALF_RULES:
        assert abs(converted - exact) <= Decimal("0.005")  # within half a cent
    else:
        assert abs(converted - exact) < Decimal("0.01")  # a directed rule moves less than a cent


def test_conversion_follows_the_base_currency_minor_unit_and_refuses_what_it_cannot_convert():
    assert convert(_foreign("ROUND_HALF_UP", base="JPY"), Decimal("10.00"), "CAD", {"CAD": Decimal("112.345")}) \
        == (Decimal("1123"), Decimal("112.345"))
    same = convert(parse_mapping_text(GOOD), Decimal("51.88"), None)
    assert same == (Decimal("51.88"), Decimal(1))
    with pytest.raises(UnmappableError, match="rates come from table fx_rates") as caught:
        convert(_foreign("ROUND_HALF_UP"), Decimal("1.00"), "CAD")
    assert caught.value.path == "currency.rates"
    with pytest.raises(TypeError, match="never float"):
        convert(parse_mapping_text(GOOD), 1.1, "USD")


def test_a_rates_file_is_read_beside_the_mapping_and_checked_at_load(tmp_path):
    text = good(**{"{account: acme-west}": "{account: acme-west, currency: CAD}",
                   "rates: none": "rates: {file: rates.csv}"})
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(MappingError, match="currency.rates.file: .*No such file"):
        load_mapping(tmp_path / "m.yaml")
    (tmp_path / "rates.csv").write_text("currency,rate\nCAD,abc\n")
    with pytest.raises(MappingError, match="line 2: not a positive rate"):
        load_mapping(tmp_path / "m.yaml")
    (tmp_path / "rates.csv").write_text("currency,rate\nCAD,0.7312\n")
    m = load_mapping(tmp_path / "m.yaml")
    from config.mapping import rates_for

    assert convert(m, Decimal("100.00"), "CAD", rates_for(m)) == (Decimal("73.12"), Decimal("0.7312"))


# -- checksum, dates, addresses -----------------------------------------------------------------
def test_the_checksum_ignores_line_endings_and_a_bom_but_no_other_change(tmp_path):
    assert checksum(GOOD) == checksum(GOOD.replace("\n", "\r\n")) == checksum("\ufeff" + GOOD)
    assert checksum(GOOD) != checksum(GOOD.replace("Acme West", "Acme  West"))
    (tmp_path / "m.yaml").write_bytes(GOOD.replace("\n", "\r\n").encode())
    assert load_mapping(tmp_path / "m.yaml").checksum == checksum(GOOD) == checksum(tmp_path / "m.yaml")
    assert len(checksum(GOOD)) == 64


def test_dates_are_the_merchants_day_written_as_the_erp_wants():
    at = datetime(2026, 11, 21, 3, 30, tzinfo=timezone.utc)  # still the 20th in Chicago and Los Angeles
    assert erp_date(parse_mapping_text(GOOD), at) == "2026-11-20"
    assert erp_date(load_mapping(SHIPPED["sage_x3"]), at) == "20261120"
    assert erp_date(load_mapping(SHIPPED["sage_pro"]), at) == date(2026, 11, 20)
    with pytest.raises(ValueError, match="naive"):
        erp_date(parse_mapping_text(GOOD), datetime(2026, 11, 21, 3, 30))
    with pytest.raises(MappingError, match="dates.erp_format: '%d/%m' is not a date format"):
        parse_mapping_text(good(**{'erp_format: "%Y-%m-%d"': 'erp_format: "%d/%m"'}), name="m.yaml")


def test_addresses_are_normalized_to_iso_codes_and_unknowns_follow_the_policy():
    m = parse_mapping_text(GOOD + "addresses: {default_country: US, country_aliases: {Deutschland: DE}}\n")
    assert normalize_address(m, Address(state="Washington", country="United States")) == \
        Address(state="WA", country="US")
    assert normalize_address(m, Address(state="québec", country="CAN")) == Address(state="QC", country="CA")
    assert normalize_address(m, Address(state="wa", country="")) == Address(state="WA", country="US")
    assert normalize_address(m, Address(state="Bayern", country="deutschland")) == \
        Address(state="Bayern", country="DE")  # states are coded only for US and CA here
    with pytest.raises(UnmappableError, match="unknown country 'Atlantis'"):
        normalize_address(m, Address(country="Atlantis"))
    with pytest.raises(UnmappableError, match="unknown state 'Cascadia' of US"):
        normalize_address(m, Address(state="Cascadia", country="US"))
    keep = parse_mapping_text(GOOD + "addresses: {unknown: keep}\n")
    assert normalize_address(keep, Address(state="Cascadia", country="Atlantis")) == \
        Address(state="Cascadia", country="Atlantis")


def test_paytrace_statuses_are_read_from_the_transaction():
    from tests.unit.test_documents import txn

    assert paytrace_status(txn()) == "approved"
    assert paytrace_status(replace(txn(), transaction_type="DECLINED")) == "declined"
    assert paytrace_status(replace(txn(), status_code="GB571")) == "settled"
    assert paytrace_status(replace(txn(), transaction_type="AUTHORIZATION", status_code="N")) == "authorized"
    assert paytrace_status(replace(txn(), transaction_type="REFUND")) == "refunded"
    assert paytrace_status(replace(txn(), transaction_type="VOID")) == "voided"
