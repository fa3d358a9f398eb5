"""The REST api1 read surface: classes as flat resources, `where` filters, `$links.$next` paging, `$diagnoses`."""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from .rules import GROUPS
from .state import X3State
from .where import WhereError, holds, parse_where, where_properties

# api1 class -> (state kind, name of the lines collection in $details). BPCUSTOMER and SORDER are public
# api1 classes, and Sage's own examples query invoices as SINVOICEV [C] (evidence.md); the others follow
# their pattern [I]. A site publishes its own names: create_app(classes={public: site}) renames them.
DOCUMENT_CLASSES = {
    "BPCUSTOMER": ("customers", "BPADDRESS"),
    "SORDER": ("orders", "SORDERQ"),
    "SINVOICEV": ("invoices", "SINVOICED"),
    "PAYMENTH": ("payments", "PAYMENTD"),
    "GACCENTRY": ("journals", "GACCENTRYD"),
}
# Flat line classes: each line of a document (or each address of a customer) is a resource of its
# own, named by its parent's key [I: as api1 classes; the tables SINVOICED and BPADDRESS exist].
LINE_CLASSES = {
    "SINVOICED": ("invoices", "NUM", "SIDLIN"),
    "BPADDRESS": ("customers", "BPANUM", "BPAADD"),
}
_AUDIT = "CREDATTIM UPDDATTIM"  # every X3 table's technical date-times (UTC)
# The header properties a `where` may name, per class (a misspelt one is BadWhereSyntax, never "no rows").
PROPERTIES = {cls: frozenset(names.split()) for cls, names in {
    "BPCUSTOMER": f"BCGCOD BPCSTA BPCNUM BPCNAM BPRSHO BPRLOG BPRNAM CRY LAN CUR {_AUDIT}",
    "SORDER": "SALFCY SOHTYP SOHNUM CUSORDREF BPCORD BPCINV ORDDAT CUR ORDSTA ALLSTA INVSTA DLVSTA STOFCY "
              f"ORDNOT ORDATI YPAYSTA {_AUDIT}",
    "SINVOICEV": "SALFCY SIVTYP INVTYP NUM INVREF INVDAT BPCINV CUR INVNOT INVATI AMTNOT AMTATI SIHORINUM "
                 f"YPAYSTA YINVID PTE STRDUDDAT {_AUDIT}",
    "SINVOICED": f"NUM SIDLIN BPCINV INVDAT ITMREF ITMDES1 QTY STU GROPRI NETPRI AMTNOTLIN SOHNUM {_AUDIT}",
    "PAYMENTH": "PAYTYP FCY NUM BPR ACC BPAINV BPANAM BAN ACCDAT CUR AMTCUR AMTBAN SNS REF CHQNUM DES PAM REVNUM "
                f"{_AUDIT}",
    "GACCENTRY": f"TYP NUM FCY JOU ACCDAT REF CUR DESVCR {_AUDIT}",
    "GACCDUDATE": "TYP NUM BPR CUR DUDDAT SNS AMTCUR PAYCUR",
    "BPADDRESS": "BPATYP BPANUM BPAADD BPAADDFLG ADDLIG1 ADDLIG2 ADDLIG3 POSCOD CTY SAT BPACRY TEL1 TEL2 TEL3 TEL4 "
                 f"TEL5 WEB1 WEB2 WEB3 WEB4 WEB5 {_AUDIT}",
    "ITMMASTER": "ITMREF ITMDES1 STU STOMGTCOD BASPRI",
    "STOCK": "STOFCY ITMREF LOT STA LOC QTYSTU CUMALLQTY",
}.items()}
# SINVOICE keeps its totals as AMTNOT/AMTATI (sage.md §1.2 [C]); the SOAP screen shows INVNOT/INVATI.
_ALIASES = {"SINVOICEV": {"AMTNOT": "INVNOT", "AMTATI": "INVATI"}}
DEFAULT_COUNT, MAX_COUNT = 20, 200
_KEYED = re.compile(r"^([A-Z0-9_]+)\('((?:[^']|'')*)'\)$")


class Diagnosis(Exception):
    """An api1 error: `{"$diagnoses": [{"$severity", "$message"}]}` with an HTTP status."""

    def __init__(self, status: int, message: str, severity: str = "error", code: str = "ApplicationDiagnosis",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.severity, self.code = status, message, severity, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"$diagnoses": [{"$severity": self.severity, "$message": self.message, "$sdataCode": self.code}]}


#: How a $details read of a key that does not exist is answered: 200 with "Record does not exist" in
#: $diagnoses, as a published guide shows [C], unless the sandbox is built to answer 404.
MISSING_DETAIL_STATUS = 200


def split_target(target: str) -> tuple[str, str | None]:
    """`SORDER` -> ("SORDER", None); `SORDER('SON1')` -> ("SORDER", "SON1")."""
    match = _KEYED.match(target)
    if match:
        return match.group(1), match.group(2).replace("''", "'")
    if not re.fullmatch(r"[A-Z0-9_]+", target):
        raise Diagnosis(404, f"{target}: unknown class", code="ResourceKindNotFound")
    return target, None


def check_representation(cls: str, value: str | None, keyed: bool) -> str:
    """The facet asked for; the representation is required and must be the class's own."""
    if not value:
        raise Diagnosis(400, "representation parameter is missing", code="BadRequest")
    name, _, facet = value.partition(".$")
    if name != cls:
        raise Diagnosis(400, f"representation {name} does not exist for class {cls}", code="BadRequest")
    allowed = ("details", "edit") if keyed else ("query",)
    if facet not in allowed:
        raise Diagnosis(400, f"facet ${facet} is not allowed here (expected ${' or $'.join(allowed)})",
                        code="BadRequest")
    return facet


def _value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)  # api1 sends numbers as JSON numbers
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


def _iso(name: str, v: Any) -> Any:
    if name.endswith("DAT") and isinstance(v, str) and len(v) == 8 and v.isdigit():
        return datetime.strptime(v, "%Y%m%d").date().isoformat()
    return v


def flat(cls: str, key: str, header: dict[str, Any]) -> dict[str, Any]:
    out = {"$key": key, "$uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"x3-sandbox:{cls}:{key}"))}
    out.update({k: _iso(k, _value(v)) for k, v in header.items()})
    return out


def resources(st: X3State, cls: str, details: bool) -> list[dict[str, Any]]:
    """Every resource of a class, sorted by key; `details` adds the lines collection."""
    if cls in DOCUMENT_CLASSES:
        kind, lines_name = DOCUMENT_CLASSES[cls]
        lines_group = GROUPS[kind][1]
        out = []
        for key, rec in st.records[kind].items():
            header = {k: v for gid, g in rec.items() if isinstance(g, dict) and gid != "ADXTEC" for k, v in g.items()}
            header.update({alias: header[name] for alias, name in _ALIASES.get(cls, {}).items()})
            header.update({k: rec["ADXTEC"][k] for k in _AUDIT.split() if k in rec.get("ADXTEC", {})})
            res = flat(cls, key, header)
            if details:
                res[lines_name] = [{k: _iso(k, _value(v)) for k, v in line.items()} for line in rec[lines_group]]
            out.append(res)
    elif cls in LINE_CLASSES:
        out = _line_resources(st, cls)
    elif cls == "GACCDUDATE":
        out = [flat(cls, f"{o['TYP']}~{o['NUM']}", o) for o in st.open_items.values()]
    elif cls == "ITMMASTER":
        out = [flat(cls, i["ITMREF"], i) for i in st.items.values()]
    elif cls == "STOCK":
        out = [flat(cls, f"{s['STOFCY']}~{s['ITMREF']}~{s['LOT']}~{s['LOC']}", s) for s in st.stock]
    else:
        raise Diagnosis(404, f"{cls}: unknown class", code="ResourceKindNotFound")
    return sorted(out, key=lambda r: r["$key"])


def _line_resources(st: X3State, cls: str) -> list[dict[str, Any]]:
    """SINVOICED: one resource per invoice line; BPADDRESS: one per customer address (BPATYP 1 [I])."""
    kind, parent_key, line_key = LINE_CLASSES[cls]
    header_id, lines_id, _ = GROUPS[kind]
    out = []
    for key, rec in st.records[kind].items():
        head = rec[header_id]
        for i, line in enumerate(rec[lines_id], 1):
            if cls == "BPADDRESS":
                row = {"BPATYP": 1, "BPANUM": key, "BPAADD": line["CODADR"],
                       **{k: v for k, v in line.items() if k != "CODADR"}}
            else:
                row = {"NUM": key, "SIDLIN": 1000 * i, "BPCINV": head["BPCINV"], "INVDAT": head["INVDAT"],
                       **line, **{k: rec["ADXTEC"][k] for k in _AUDIT.split() if k in rec.get("ADXTEC", {})}}
            out.append(flat(cls, f"{key}~{row[line_key]}", row))
    return out


def query_page(st: X3State, cls: str, args: dict[str, str], next_url: Callable[[str], str]) -> dict[str, Any]:
    """One page of a `$query`; `$links.$next` carries `key=gt.<last key>` while more remain."""
    try:
        count = int(args.get("count", DEFAULT_COUNT))
    except ValueError:
        raise Diagnosis(400, f"count: {args.get('count')!r} is not a number", code="BadRequest") from None
    if not 1 <= count <= MAX_COUNT:
        raise Diagnosis(400, f"count must be between 1 and {MAX_COUNT}", code="BadRequest")
    try:
        conditions = parse_where(args["where"]) if args.get("where") else []
    except WhereError as exc:
        raise Diagnosis(400, str(exc), code="BadWhereSyntax") from None
    for field in where_properties(conditions):
        if field not in PROPERTIES.get(cls, ()):
            raise Diagnosis(400, f"where: {cls} has no property {field}", code="BadWhereSyntax")
    after = args.get("key", "")
    if after and not after.startswith("gt."):
        raise Diagnosis(400, "key: only gt.<key> is supported", code="BadRequest")
    with st.lock:
        rows = [r for r in resources(st, cls, details=False) if holds(r, conditions)]
    if after:
        rows = [r for r in rows if r["$key"] > after[3:]]
    page = rows[:count]
    links = {"$next": {"$url": next_url(page[-1]["$key"])}} if len(rows) > count else {}
    return {"$itemsPerPage": count, "$resources": page, "$links": links}


def detail(st: X3State, cls: str, key: str, missing_status: int = MISSING_DETAIL_STATUS) -> dict[str, Any]:
    with st.lock:
        for res in resources(st, cls, details=True):
            if res["$key"] == key:
                return res
    raise Diagnosis(missing_status, f"{cls} {key}: Record does not exist", code="ResourceNotFound")
