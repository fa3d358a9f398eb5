"""The Sage Pro tables as plain field lists (name, type, width, scale), company suffix added later.

Types follow the Visual FoxPro field codes of ../shared/reference/sage.md §3: C(n) character,
N(p,s) numeric, Y currency (four decimals), D date, M memo. Column names and the key widths the
reference gives are [C]; widths it does not give, and the whole of arcash and gltran, are [I].
Every column is NOT NULL with a blank default, because Sage Pro has no NULLs: blank text, zero,
and EMPTY_DATE for an empty date.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

from sqlalchemy import CHAR, Column, Date, MetaData, Numeric, PrimaryKeyConstraint, Table, Text

#: [I] The empty date. VFP writes CTOD('  /  /  '); its SQL Server edition cannot store that and
#: SQL Server turns '' into 1900-01-01, so the sandbox uses that day as "no date".
EMPTY_DATE = date(1900, 1, 1)

#: Character keys that Sage Pro stores right-justified, padded on the left with spaces.
RIGHT_JUSTIFIED = frozenset({"CUSTNO", "SONO", "INVNO", "ORNUM", "CASHNO", "TRANNO", "TRANLINE", "LINENO", "APPLYTO",
                             "REVCASH"})
#: Date columns some installs keep as character 'MM/DD/YYYY' [C: one public install writes ORDATE so];
#: metadata_for(character_dates=...) builds them C(10).
DATE_TEXT_WIDTH = 10

# The payment lifecycle, all [I] (no public source documents Sage Pro's codes for them):
#: armast/artran ARTYPE of a credit memo: an AR document of its own type, amounts negative.
CREDIT_MEMO = "C"
#: arcash TRANTYPE: blank a receipt, R a refund paid out against a credit memo, V a receipt reversed.
REFUND, REVERSAL = "R", "V"

Y = ("Y", 19, 4)
AUDIT = (("ADDUSER", "C", 4), ("ADDDATE", "D"), ("ADDTIME", "C", 8))
#: [I] Who last changed a customer, and when: the counterpart of ADDUSER/ADDDATE/ADDTIME. No public
#: source shows a last-change column on arcust (LCKDATE/LCKTIME say when a user opened the record, and
#: are cleared on unlock), so the sandbox models one; blank (EMPTY_DATE) means "never changed".
CHANGED = (("CHGUSER", "C", 4), ("CHGDATE", "D"), ("CHGTIME", "C", 8))
LOCKS = (("LCKSTAT", "C", 1), ("LCKUSER", "C", 4), ("LCKDATE", "D"), ("LCKTIME", "C", 8))

FIELDS: dict[str, tuple] = {
    "arcust": (
        ("CUSTNO", "C", 6), ("COMPANY", "C", 35), ("CONTACT", "C", 20), ("ADDRESS1", "C", 35),
        ("ADDRESS2", "C", 35), ("CITY", "C", 20), ("STATE", "C", 10), ("ZIP", "C", 10),
        ("COUNTRY", "C", 20), ("PHONE", "C", 20), ("FAXNO", "C", 20), ("EMAIL", "M"), ("TERR", "C", 2),
        ("PTERMS", "C", 20), ("PDISC", "N", 7, 3), ("PDAYS", "N", 3, 0), ("PNET", "N", 3, 0),
        ("TAX", "N", 7, 3), ("BALANCE", *Y), ("ONORDER", *Y), ("CREDIT", *Y), ("CREDLIMIT", *Y),
        ("LPYMT", *Y), ("LASTPAY", "D"), ("LSALE", *Y), ("GLLINK", "C", 3), ("ARACCT", "C", 24),
        ("CURRENCY", "C", 3), ("CUSTGEN", "C", 20), *AUDIT, *CHANGED, *LOCKS),
    "somast": (
        ("SONO", "C", 10), ("CUSTNO", "C", 6), ("SODATE", "D"), ("ORDATE", "D"), ("SHIPVIA", "C", 12),
        ("CSHIPNO", "C", 4), ("PTERMS", "C", 20), ("ORDAMT", *Y), ("SHPAMT", *Y), ("PONUM", "C", 20),
        ("SOSTAT", "C", 1), ("SOTYPE", "C", 1), ("REF", "C", 20), ("SOTRACK", "C", 10),
        # [I] a user field holding a free-text status word (SOSTAT is a one-letter code).
        ("USTATUS", "C", 20), *AUDIT, *LOCKS),
    "sotran": (
        # The line number is `lineno` [C: public inserts into sotran name it so]; its type C(4),
        # right-justified like the keys, is [I].
        ("SONO", "C", 10), ("LINENO", "C", 4), ("CUSTNO", "C", 6), ("ITEM", "C", 20), ("DESCRIP", "C", 40),
        ("COST", *Y), ("PRICE", *Y), ("QTYORD", "N", 12, 3), ("QTYSHP", "N", 12, 3), ("EXTPRICE", *Y),
        ("RQDATE", "D"), ("SOSTAT", "C", 1),
        # [I] QTYALLOC: how much of the line's item the order holds allocated (icitem.IALLOC adds them up).
        ("QTYALLOC", "N", 12, 3), *AUDIT),
    "armast": (
        ("INVNO", "C", 8), ("CUSTNO", "C", 6), ("INVDTE", "D"), ("ARTYPE", "C", 1), ("ARSTAT", "C", 1),
        ("ORNUM", "C", 10), ("PONUM", "C", 20), ("SOTRACK", "C", 10), ("PTERMS", "C", 20), ("INVAMT", *Y),
        ("TAX", *Y), ("PAIDAMT", *Y), ("BALANCE", *Y), ("DTEPAID", "D"),
        # [I] APPLYTO: the INVNO a credit memo (ARTYPE C) credits; USTATUS: free-text status user field.
        ("APPLYTO", "C", 8), ("USTATUS", "C", 20),
        # [I] DUEDATE: when the invoice falls due (apmast.DUEDATE is [C]; armast's is assumed alike).
        # REF: a second reference C(20), as somast.REF [C]. PONUM is the customer's PO; an integration
        # keeps its own reference in REF (paysync does).
        ("DUEDATE", "D"), ("REF", "C", 20), *AUDIT, *LOCKS),
    "artran": (
        ("INVNO", "C", 8), ("TRANLINE", "C", 4), ("CUSTNO", "C", 6), ("PONUM", "C", 20), ("ITEM", "C", 20),
        ("DESCRIP", "C", 40), ("LOCTID", "C", 6), ("SERIAL", "C", 20), ("COST", *Y), ("PRICE", *Y),
        ("QTYORD", "N", 12, 3), ("QTYSHP", "N", 12, 3), ("EXTPRICE", *Y), ("ARTYPE", "C", 1),
        ("INVDTE", "D"), ("ADDUSER", "C", 4)),
    "icitem": (
        ("ITEM", "C", 20), ("ITMDESC", "C", 40), ("IONHAND", "N", 12, 3), ("PRICE", *Y),
        ("COMCODE", "C", 6),
        # [I] IALLOC: quantity allocated to open sales orders; ITYPE: S a stock item, N a non-stock one
        # (a charge or a service: no quantities). Sage Pro's own names for them are not public.
        ("IALLOC", "N", 12, 3), ("ITYPE", "C", 1), *LOCKS),
    # [I] Not publicly documented: one row per cash receipt applied to one invoice (or refund paid
    # against one credit memo, or reversal of one receipt: PAIDAMT negative for both).
    "arcash": (
        ("CASHNO", "C", 8), ("CUSTNO", "C", 6), ("INVNO", "C", 8), ("DTEPAID", "D"), ("PAIDAMT", *Y),
        ("REFNO", "C", 20), ("PAYCODE", "C", 10), ("CASHACCT", "C", 24),
        # [I] TRANTYPE: blank receipt, R refund, V reversal; REVCASH: the CASHNO a reversal undoes.
        ("TRANTYPE", "C", 1), ("REVCASH", "C", 8), *AUDIT),
    # [I] Not publicly documented: one row per journal line, lines of one entry share TRANNO.
    "gltran": (
        ("TRANNO", "C", 10), ("TRANLINE", "C", 4), ("GLACNT", "C", 24), ("TRANDATE", "D"), ("DEBIT", *Y),
        ("CREDIT", *Y), ("REF", "C", 20), ("DESCRIP", "C", 40), ("SOURCE", "C", 2), *AUDIT),
}

#: The key of each table (the VFP index tag a real install keeps; here a primary key).
KEYS: dict[str, tuple[str, ...]] = {
    "arcust": ("CUSTNO",), "somast": ("SONO",), "sotran": ("SONO", "LINENO"), "armast": ("INVNO",),
    "artran": ("INVNO", "TRANLINE"), "icitem": ("ITEM",), "arcash": ("CASHNO",),
    "gltran": ("TRANNO", "TRANLINE"),
}


def table_name(base: str, company: str) -> str:
    return f"{base}{company}"


def _column(spec: tuple) -> Column:
    name, kind, *size = spec
    if kind == "C":
        return Column(name, CHAR(size[0]), nullable=False, server_default=" " * size[0])
    if kind in ("N", "Y"):
        return Column(name, Numeric(size[0], size[1]), nullable=False, server_default="0")
    if kind == "D":
        return Column(name, Date, nullable=False, server_default=EMPTY_DATE.isoformat())
    return Column(name, Text, nullable=False, server_default="")


def metadata_for(company: str, character_dates: Iterable[str] = ()) -> MetaData:
    """Every Sage Pro table of one company, as SQLAlchemy tables; `character_dates` ("somast.ORDATE")
    are kept as character 'MM/DD/YYYY' instead of dates."""
    text_dates = set(character_dates)
    metadata = MetaData()
    for base, fields in FIELDS.items():
        specs = [(f[0], "C", DATE_TEXT_WIDTH) if f"{base}.{f[0]}" in text_dates else f for f in fields]
        Table(table_name(base, company), metadata, *(_column(f) for f in specs),
              PrimaryKeyConstraint(*KEYS[base]))
    return metadata


def date_columns() -> list[str]:
    """Every date column, as "table.COLUMN"."""
    return [f"{base}.{f[0]}" for base, fields in FIELDS.items() for f in fields if f[1] == "D"]


def width(base: str, column: str) -> int:
    for name, kind, *size in FIELDS[base]:
        if name == column:
            return size[0] if kind == "C" else 0
    raise KeyError(f"{base} has no column {column}")


def blank_row(base: str, **values) -> dict:
    """A full row: every column given, character values padded to their width (DBF C(n) is fixed)."""
    row = {}
    for name, kind, *size in FIELDS[base]:
        value = values.pop(name, None)
        if kind == "C":
            text = "" if value is None else str(value)
            row[name] = text.rjust(size[0]) if name in RIGHT_JUSTIFIED else text.ljust(size[0])
        elif kind in ("N", "Y"):
            row[name] = 0 if value is None else value
        elif kind == "D":
            row[name] = EMPTY_DATE if value is None else value
        else:
            row[name] = "" if value is None else value
    if values:
        raise KeyError(f"{base} has no columns {sorted(values)}")
    return row
