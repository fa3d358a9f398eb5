"""Every [I] name is the site's to set, per integration pair, through the existing routes (docs/fidelity.md).

SAGEX3_LAYOUT and PAYTRACE_LAYOUT (JSON) and SAGEPRO_COLUMNS (renames, with an optional type), each also
as PAYSYNC_PAIR_<NAME>_<KEY>; the defaults are the best public evidence; a mistake is refused by name.
"""
from __future__ import annotations

import json

import pytest

from config.settings import load_settings
from connectors.errors import ConfigurationError
from connectors.paytrace.config import PayTraceLayout
from connectors.sage_pro.client import build_tables
from connectors.sage_x3 import SageX3Layout

BASE = {"PAYSYNC_ENV": "test", "PAYSYNC_PAIRS": "default,east", "DATABASE_URL": "sqlite:///x.db",
        "PAYSYNC_PAIR_EAST_PAYTRACE_USERNAME": "east-store", "PAYSYNC_PAIR_EAST_PAYSYNC_ERP": "sage_x3",
        "PAYSYNC_PAIR_EAST_SAGEX3_BASE_URL": "http://x3.east:8124"}


def test_the_defaults_are_the_public_evidence():
    lay = SageX3Layout()
    assert (lay.invoice_class, lay.customer_class, lay.order_class) == ("SINVOICEV", "BPCUSTOMER", "SORDER")
    assert (lay.payment_header, lay.payment_party, lay.payment_amounts, lay.payment_lines) == \
        ("PAY0_1", "PAY1_1", "PAY1_2", "PAY1_4")
    assert (lay.address_phone, lay.address_email, lay.invoice_currency_group, lay.invoice_po) == \
        ("TEL1", "WEB1", "SIH2_1", "")
    assert (lay.invoice_category_field, lay.credit_categories) == ("INVTYP", "2,4")
    assert PayTraceLayout().check_export_by_id == "checks/export/by_id"


def test_a_pair_overrides_x3_and_paytrace_names_without_touching_the_other_pair():
    # Given the east pair's own X3 layout and PayTrace layout
    settings = load_settings({**BASE,
                              "PAYSYNC_PAIR_EAST_SAGEX3_LAYOUT": json.dumps({"invoice_class": "ZSIH",
                                                                            "invoice_currency_group": "SIH0_1",
                                                                            "payment_line_code": "ZAREC"}),
                              "PAYSYNC_PAIR_EAST_PAYTRACE_LAYOUT": json.dumps({"including_text": "",
                                                                              "check_export_by_id": "checks/export"})})
    east, default = settings.for_pair("east"), settings.for_pair("default")
    # Then east's connectors use them, and the default pair keeps the evidence defaults
    east_x3 = east.sage_x3.layout
    assert (east_x3.invoice_class, east_x3.invoice_currency_group, east_x3.payment_line_code) == \
        ("ZSIH", "SIH0_1", "ZAREC")
    assert default.sage_x3.layout.invoice_class == "SINVOICEV"
    east_pt = east.paytrace.layout
    assert (east_pt.including_text, east_pt.check_export_by_id) == ("", "checks/export")
    assert default.paytrace.layout.including_text == "including_text"


def test_a_pair_gives_sage_pro_its_column_names_and_types():
    settings = load_settings({**BASE, "PAYSYNC_PAIR_EAST_PAYSYNC_ERP": "sage_pro",
                              "PAYSYNC_PAIR_EAST_SAGEPRO_DATABASE_URL": "sqlite:///east.db",
                              "PAYSYNC_PAIR_EAST_SAGEPRO_COLUMNS": "somast.ORDATE=ORDATE C(10),sotran.LINENO=LINENUM"})
    tables = build_tables(settings.for_pair("east").sage_pro)
    assert tables["somast"].c.ORDATE.info["kind"] == "C" and tables["somast"].c.ORDATE.name == "ORDATE"
    assert tables["sotran"].c.LINENO.name == "LINENUM"
    assert build_tables(settings.for_pair("default").sage_pro)["somast"].c.ORDATE.info["kind"] == "D"


@pytest.mark.parametrize("factory, overrides, bad", [
    (SageX3Layout.from_overrides, {"invoice_clas": "X"}, "invoice_clas"),
    (SageX3Layout.from_overrides, {"customer_class": ""}, "customer_class"),
    (SageX3Layout.from_overrides, {"bpcnum_length": "15"}, "bpcnum_length"),
    (PayTraceLayout.from_overrides, {"checks_array": 3}, "checks_array"),
    (PayTraceLayout.from_overrides, {"nope": "x"}, "nope"),
])
def test_a_misspelt_or_mistyped_override_is_refused_by_name(factory, overrides, bad):
    with pytest.raises(ConfigurationError, match=bad):
        factory(overrides)


def test_optional_x3_fields_may_be_turned_off():
    lay = SageX3Layout.from_overrides({"invoice_id_field": "", "invoice_po": "", "payment_method_field": ""})
    assert (lay.invoice_id_field, lay.invoice_po, lay.payment_method_field) == ("", "", "")
