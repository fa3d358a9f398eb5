"""Seed data for a fresh Sage Pro company: customers, items with stock, one order and one invoice."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .schema import blank_row

_DAY = date(2026, 1, 5)

CUSTOMERS = (
    ("1001", "Cascade Outfitters", "Mia Chen", "410 Pine St", "Seattle", "WA", "98101", "206-555-0141"),
    ("1002", "Inland Feed & Seed", "Tom Ruiz", "88 Division Ave", "Spokane", "WA", "99202", "509-555-0177"),
    ("1003", "Harbor Marine Supply", "Ann Park", "2 Dock Rd", "Tacoma", "WA", "98402", "253-555-0110"),
)
ITEMS = (
    # ITEM, ITMDESC, IONHAND, PRICE: PAYMENT is a non-stock line for card payments.
    ("PAYMENT", "Card payment received", "0", "0"),
    ("SERVICE", "Professional services", "0", "100.00"),
    ("WIDGET-1", "Widget, standard", "120", "25.00"),
    ("WIDGET-2", "Widget, deluxe", "35", "60.00"),
    ("GADGET-1", "Gadget", "80", "12.50"),
    ("FREIGHT", "Shipping and handling", "0", "0"),
    ("SALESTAX", "Sales tax collected", "0", "0"),
)
#: [I] ITYPE N: items that keep no quantities (charges and services).
NON_STOCK = frozenset({"PAYMENT", "SERVICE", "FREIGHT", "SALESTAX"})


def rows() -> dict[str, list[dict]]:
    """Rows per base table name; SONO 1000 and INVNO 5000 show that numbers continue from the max."""
    out: dict[str, list[dict]] = {"arcust": [], "icitem": [], "somast": [], "sotran": [], "armast": [],
                                  "artran": []}
    for custno, company, contact, street, city, state, zipcode, phone in CUSTOMERS:
        balance = Decimal("250.00") if custno == "1001" else Decimal("0")
        out["arcust"].append(blank_row(
            "arcust", CUSTNO=custno, COMPANY=company, CONTACT=contact, ADDRESS1=street, CITY=city, STATE=state,
            ZIP=zipcode, COUNTRY="USA", PHONE=phone, PTERMS="Net 30", PNET=30, BALANCE=balance,
            CREDLIMIT=Decimal("5000"), LSALE=balance, GLLINK="01", CURRENCY="USD", ADDUSER="ADMN", ADDDATE=_DAY,
            ADDTIME="09:00:00"))
    for item, desc, onhand, price in ITEMS:
        out["icitem"].append(blank_row("icitem", ITEM=item, ITMDESC=desc, IONHAND=Decimal(onhand),
                                       PRICE=Decimal(price), ITYPE="N" if item in NON_STOCK else "S"))
    amount = Decimal("250.00")
    out["somast"].append(blank_row(
        "somast", SONO="1000", CUSTNO="1001", SODATE=_DAY, ORDATE=_DAY, PTERMS="Net 30", ORDAMT=amount,
        PONUM="CO-7781", SOSTAT="C", SOTYPE="O", ADDUSER="ADMN", ADDDATE=_DAY, ADDTIME="09:05:00"))
    out["sotran"].append(blank_row(
        "sotran", SONO="1000", LINENO="1", CUSTNO="1001", ITEM="WIDGET-1", DESCRIP="Widget, standard",
        PRICE=Decimal("25.00"), QTYORD=10, QTYSHP=10, EXTPRICE=amount, RQDATE=_DAY, SOSTAT="C"))
    out["armast"].append(blank_row(
        "armast", INVNO="5000", CUSTNO="1001", INVDTE=_DAY, ARTYPE=" ", ORNUM="1000", PONUM="CO-7781",
        PTERMS="Net 30", INVAMT=amount, BALANCE=amount, DUEDATE=_DAY + timedelta(days=30), ADDUSER="ADMN",
        ADDDATE=_DAY, ADDTIME="09:10:00"))
    out["artran"].append(blank_row(
        "artran", INVNO="5000", TRANLINE="1", CUSTNO="1001", PONUM="CO-7781", ITEM="WIDGET-1",
        DESCRIP="Widget, standard", PRICE=Decimal("25.00"), QTYORD=10, QTYSHP=10, EXTPRICE=amount,
        INVDTE=_DAY, ADDUSER="ADMN"))
    return out
