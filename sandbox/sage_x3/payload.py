"""objectXml in, resultXml out: X3's `<PARAM><GRP><FLD>` XML or, with adxwss.optreturn=JSON, JSON."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# An object is {"GRP_ID": {FIELD: value}, "TAB_ID": [{FIELD: value}, ...]}, in both forms.
X3Object = dict[str, Any]


class PayloadError(ValueError):
    """The objectXml could not be read at all (X3 answers status 0 with a type-3 message)."""


def parse_object(text: str | None) -> X3Object:
    """Read objectXml in either form; an empty or malformed payload is a PayloadError."""
    text = (text or "").strip()
    if not text:
        raise PayloadError("objectXml is empty")
    if text.startswith("{"):
        return _from_json(text)
    if text.startswith("<"):
        return _from_xml(text)
    raise PayloadError("objectXml is neither JSON nor XML")


def _from_json(text: str) -> X3Object:
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise PayloadError(f"objectXml is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("objectXml JSON must be an object of groups")
    for group, value in data.items():
        rows = value if isinstance(value, list) else [value]
        if not all(isinstance(row, dict) for row in rows):
            raise PayloadError(f"group {group} must be an object or a list of objects")
    return data


def _fields(parent: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in parent:
        name = node.get("NAME")
        if not name:
            continue
        if node.tag == "FLD":
            out[name] = node.text or ""
        elif node.tag == "LST":
            out[name] = [itm.text or "" for itm in node if itm.tag == "ITM"]
    return out


def _from_xml(text: str) -> X3Object:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PayloadError(f"objectXml is not well-formed XML: {exc}") from None
    if root.tag != "PARAM":
        raise PayloadError(f"objectXml root must be PARAM, not {root.tag}")
    data: X3Object = {}
    for node in root:
        ident = node.get("ID")
        if node.tag == "GRP" and ident:
            data[ident] = _fields(node)
        elif node.tag == "TAB" and ident:
            data[ident] = [_fields(lin) for lin in node if lin.tag == "LIN"]
    return data


def _plain(value: Any) -> Any:
    """Money leaves as a string so no float ever rounds it; menus stay integers."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def render(obj: Any, as_json: bool) -> str:
    """resultXml for one object (dict of groups) or a query's list of rows."""
    if as_json:
        if isinstance(obj, list):
            return json.dumps([{k: _plain(v) for k, v in row.items()} for row in obj])
        return json.dumps({g: ([{k: _plain(v) for k, v in r.items()} for r in rows] if isinstance(rows, list)
                               else {k: _plain(v) for k, v in rows.items()}) for g, rows in obj.items()})
    if isinstance(obj, list):
        lines = "".join(f'<LIN NUM="{i}">{_fld_xml(row)}</LIN>' for i, row in enumerate(obj, 1))
        return f'<?xml version="1.0" encoding="UTF-8"?><RESULT><TAB ID="QUERY" SIZE="{len(obj)}">{lines}</TAB></RESULT>'
    parts = []
    for group, rows in obj.items():
        if isinstance(rows, list):
            lines = "".join(f'<LIN NUM="{i}">{_fld_xml(row)}</LIN>' for i, row in enumerate(rows, 1))
            parts.append(f'<TAB DIM="300" ID={quoteattr(group)} SIZE="{len(rows)}">{lines}</TAB>')
        else:
            parts.append(f"<GRP ID={quoteattr(group)}>{_fld_xml(rows)}</GRP>")
    return '<?xml version="1.0" encoding="UTF-8"?><RESULT>' + "".join(parts) + "</RESULT>"


def _fld_xml(fields: dict[str, Any]) -> str:
    out = []
    for name, value in fields.items():
        if isinstance(value, list):
            items = "".join(f"<ITM>{escape(str(_plain(v)))}</ITM>" for v in value)
            out.append(f'<LST NAME={quoteattr(name)} SIZE="{len(value)}" TYPE="Char">{items}</LST>')
        else:
            kind = "Decimal" if isinstance(value, Decimal) else "Integer" if isinstance(value, int) else "Char"
            out.append(f'<FLD NAME={quoteattr(name)} TYPE="{kind}">{escape(str(_plain(value)))}</FLD>')
    return "".join(out)
