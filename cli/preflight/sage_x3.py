"""Sage X3, read-only: each api1 class paysync reads and its properties, each SOAP publication and its groups."""
from __future__ import annotations

import dataclasses

from cli.preflight.checks import CANNOT_TELL, FAILS, HOLDS, Check, Checks, missing
from config.settings import Settings
from connectors.errors import ConnectorError, NotFoundError
from connectors.sage_x3 import SageX3Config
from connectors.sage_x3.client import SageX3Client
from connectors.sage_x3.config import SageX3Layout


def _classes(lay: SageX3Layout) -> list[tuple[str, list[str]]]:
    """(layout key of an api1 class, the properties paysync reads on it)."""
    return [
        ("customer_class", ["BPCNUM", "BPCNAM", lay.changed_field]),
        ("order_class", ["SOHNUM", lay.order_po_field, "BPCORD", lay.order_amount, lay.status_field]),
        ("invoice_class", ["NUM", "INVREF", "INVDAT", "BPCINV", "SIVTYP", "CUR", lay.invoice_total,
                           lay.invoice_amount, lay.status_field, lay.invoice_id_field, lay.invoice_po]),
        ("payment_class", ["NUM", "REF", "BPR", "AMTCUR", lay.payment_type_field]),
        ("journal_class", ["TYP", "NUM", "REF"]),
        ("open_item_class", ["NUM", "TYP", "AMTCUR", "PAYCUR", "DUDDAT"]),
        ("invoice_lines", ["NUM", lay.invoice_order_field]),
        ("address_class", [lay.address_owner, lay.address_phone, lay.address_email, "POSCOD", "BPAADDFLG"]),
    ]


def _setting(lay: SageX3Layout, names: list[str]) -> str:
    """The SAGEX3_LAYOUT keys that name these properties (a fixed X3 name has none)."""
    keys = sorted({f.name for f in dataclasses.fields(lay) for n in names if getattr(lay, f.name) == n})
    return f"SAGEX3_LAYOUT {', '.join(keys)}" if keys else "none: a standard X3 property"


def run(settings: Settings) -> list[Check]:
    c = Checks("Sage X3")
    cfg = settings.sage_x3
    lay, client = cfg.layout, SageX3Client(cfg)
    samples: dict[str, list[dict]] = {}
    try:
        for key, props in _classes(lay):
            cls = getattr(lay, key)
            try:
                rows = client.rest_sample(cls)
            except ConnectorError as exc:
                c.add(f"api1 class {cls} answers", FAILS, exc.message[:200], f"SAGEX3_LAYOUT {key}")
                continue
            samples[key] = rows
            if not rows:
                c.add(f"api1 class {cls} carries {', '.join(p for p in props if p)}", CANNOT_TELL,
                      f"{cls} answers but holds no record yet")
                continue
            have = set().union(*(set(r) for r in rows))
            lacking = missing(have, props)
            c.verdict(f"api1 class {cls} carries {', '.join(p for p in props if p)}", not lacking,
                      f"{cls} has no {', '.join(lacking)}" if lacking else f"{cls} answers", _setting(lay, lacking))
        _credit_category(c, lay, samples.get("invoice_class"))
        _publications(c, cfg, client, samples)
    finally:
        client.close()
    return c.found


def _credit_category(c: Checks, lay: SageX3Layout, invoices: list[dict] | None) -> None:
    what = f"invoices show their category ({lay.invoice_category_field}: {lay.credit_categories} are credits)"
    if not invoices:
        c.add(what, CANNOT_TELL, "no invoice to read")
    elif any(lay.invoice_category_field in r for r in invoices):
        c.add(what, HOLDS)
    else:
        c.add(what, CANNOT_TELL, f"no {lay.invoice_category_field}: credits are told by SIVTYP "
                                 f"{lay.credit_memo_type!r} instead", "SAGEX3_LAYOUT credit_memo_type")


def _publications(c: Checks, cfg: SageX3Config, client: SageX3Client, samples: dict[str, list[dict]]) -> None:
    """Each publication answers a read-only `query`; a record read through it shows the groups paysync writes."""
    lay = cfg.layout
    for setting, pub, key in (("SAGEX3_PUB_CUSTOMER", cfg.pub_customer, "BPCNUM"),
                              ("SAGEX3_PUB_SALES_ORDER", cfg.pub_sales_order, "SOHNUM"),
                              ("SAGEX3_PUB_INVOICE", cfg.pub_invoice, "NUM"), ("SAGEX3_PUB_PAYMENT", cfg.pub_payment, "NUM"),
                              ("SAGEX3_PUB_JOURNAL", cfg.pub_journal, "NUM")):
        try:  # a `read` of a key no record has: "does not exist" proves the publication answers
            client.read(pub, {key: "PAYSYNC-DOCTOR"})
            c.add(f"SOAP publication {pub} answers", HOLDS)
        except NotFoundError:
            c.add(f"SOAP publication {pub} answers", HOLDS)
        except ConnectorError as exc:
            c.add(f"SOAP publication {pub} answers", FAILS, exc.message[:200], setting)
    payments = [r for r in samples.get("payment_class") or [] if r.get("NUM")]
    _groups(c, client, cfg.pub_payment, {"NUM": str(payments[0]["NUM"])} if payments else None,
            {lay.payment_header: ["NUM"], lay.payment_party: ["BPR"], lay.payment_amounts: ["AMTCUR", "REF"],
             lay.payment_lines: ["DENCOD", lay.payment_line_amount]},
            "SAGEX3_LAYOUT payment_header, payment_party, payment_amounts, payment_lines")
    invoices = [r for r in samples.get("invoice_class") or [] if r.get("NUM")]
    _groups(c, client, cfg.pub_invoice, {"NUM": str(invoices[0]["NUM"])} if invoices else None,
            {"SIH0_1": ["NUM", "INVREF"], lay.invoice_currency_group: ["CUR"]},
            "SAGEX3_LAYOUT invoice_currency_group")
    owners = [r for r in samples.get("address_class") or [] if r.get(lay.address_owner)]
    _groups(c, client, cfg.pub_customer, {"BPCNUM": str(owners[0][lay.address_owner])} if owners else None,
            {"BPC0_1": ["BPCNUM", "BPCNAM"], "BPAC_1": [lay.address_phone, lay.address_email]},
            "SAGEX3_LAYOUT address_phone, address_email")


def _groups(c: Checks, client: SageX3Client, pub: str, keys: dict | None, wanted: dict[str, list[str]],
            setting: str) -> None:
    groups = "; ".join(g + " {" + ", ".join(f for f in fields if f) + "}" for g, fields in wanted.items())
    what = f"{pub} keeps {groups}"
    if keys is None:
        c.add(what, CANNOT_TELL, "no record to read through it yet")
        return
    try:
        record = client.read(pub, keys)
    except NotFoundError:
        c.add(what, CANNOT_TELL, f"{keys} not readable through {pub}")
        return
    except ConnectorError as exc:
        c.add(what, FAILS, exc.message[:200])
        return
    lacking = []
    for group, fields in wanted.items():
        rows = record.get(group)
        if rows is None:
            lacking.append(group)
            continue
        have = set().union(*(set(r) for r in rows)) if isinstance(rows, list) else set(rows)
        if isinstance(rows, list) and not rows:
            continue  # an empty table says nothing of its fields
        lacking += [f"{group}.{f}" for f in missing(have, fields)]
    c.verdict(what, not lacking, f"read {keys}: missing {', '.join(lacking)}" if lacking else f"read {keys}", setting)
