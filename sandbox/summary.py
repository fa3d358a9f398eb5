"""What an ERP sandbox holds, in one shape for every ERP: the demo's table and the tests read it.

    {"customers": n,
     "sales_orders": [{"reference", "amount", "lines": [(item, amount), ...]}],
     "invoices": [{"reference", "key", "amount", "open", "lines"}],
     "payments": [{"reference", "amount", "applied": [(invoice key, amount), ...], "method", "cash_account"}],
     "journals": [{"reference", "debits", "credits", "lines": [(account, +debit / -credit), ...]}]}

Money is Decimal. Each ERP's own state format is read here, inside sandbox/, so the summary is
sandbox knowledge and paysync's connectors stay out of it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

Summary = dict[str, Any]


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _sage50(state: dict) -> Summary:
    """Sage 50 bridge state (sandbox.sage50); a status word lives in the InternalNote field [I]."""
    return {
        "customers": len(state.get("customers", [])),
        "sales_orders": [{"reference": o["ReferenceNumber"], "amount": _d(o["Amount"]),
                          "status": o.get("InternalNote") or "", "lines": _sage50_lines(o)}
                         for o in state.get("sales_orders", [])],
        "invoices": [{"reference": i["ReferenceNumber"], "key": i["Key"], "amount": _d(i["Amount"]),
                      "open": _d(i["AmountDue"]), "status": i.get("InternalNote") or "", "lines": _sage50_lines(i)}
                     for i in state.get("invoices", [])],
        "payments": [{"reference": p["ReferenceNumber"], "amount": _d(p["Amount"]),
                      "applied": [(l["InvoiceReference"], _d(l["AmountPaid"])) for l in p.get("ApplyToInvoiceLines", [])],
                      "method": p.get("PaymentMethod", ""), "cash_account": p.get("AccountReference", "")}
                     for p in state.get("payments", [])],
        "journals": [{"reference": j["ReferenceNumber"],
                      "debits": sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) > 0), Decimal("0")),
                      "credits": -sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) < 0), Decimal("0")),
                      "lines": sorted((l["AccountID"], _d(l["Amount"])) for l in j["Lines"])}
                     for j in state.get("journal_entries", [])],
        "credit_memos": [{"reference": m["ReferenceNumber"], "key": m["Key"], "amount": _d(m["Amount"]),
                          "invoice": m["ApplyToInvoiceKey"]} for m in state.get("credit_memos", [])],
        "refunds": [{"reference": r["ReferenceNumber"], "amount": _d(r["Amount"]), "credit_memo": r["CreditMemoKey"]}
                    for r in state.get("customer_refunds", [])],
        "reversals": [{"reference": v["ReferenceNumber"], "payment": v["ReceiptKey"], "amount": _d(v["Amount"])}
                      for v in state.get("receipt_voids", [])],
    }


def _sage50_lines(doc: dict) -> list[tuple[str, Decimal]]:
    return [(l["ItemID"], (_d(l["Quantity"]) * _d(l["UnitPrice"])).quantize(Decimal("0.01")))
            for l in doc.get("Lines", [])]


def _sage_pro(state: dict) -> Summary:
    """Sage Pro tables (sandbox.sage_pro.state): keys and references are blank-padded.

    armast holds invoices and credit memos (ARTYPE "C", amounts negative, APPLYTO the invoice); arcash
    holds receipts, refunds (TRANTYPE "R", against a credit memo) and reversals (TRANTYPE "V", REVCASH
    the receipt), both negative; USTATUS is the free-text status (all [I], docs/sage-pro.md).
    """
    journals: dict[str, dict] = {}
    for line in state.get("gltran", []):
        entry = journals.setdefault(line["TRANNO"].strip(), {"reference": line["REF"].strip(), "lines": [],
                                                             "debits": Decimal("0"), "credits": Decimal("0")})
        entry["debits"] += _d(line["DEBIT"])
        entry["credits"] += _d(line["CREDIT"])
        entry["lines"] = sorted(entry["lines"] + [(line["GLACNT"].strip(), _d(line["DEBIT"]) - _d(line["CREDIT"]))])
    lines: dict[tuple[str, str], list] = {}
    for table, key in (("sotran", "SONO"), ("artran", "INVNO")):
        for row in state.get(table, []):
            lines.setdefault((table, row[key].strip()), []).append(
                (row["ITEM"].strip(), _d(row["EXTPRICE"]).quantize(Decimal("0.01"))))
    armast = state.get("armast", [])
    memos = [i for i in armast if (i.get("ARTYPE") or "").strip() == "C"]
    cash = state.get("arcash", [])
    kind = {c["CASHNO"]: (c.get("TRANTYPE") or "").strip() for c in cash}
    return {
        "customers": len(state.get("arcust", [])),
        "sales_orders": [{"reference": o["PONUM"].strip(), "amount": _d(o["ORDAMT"]),
                          "status": (o.get("USTATUS") or "").strip(), "lines": lines.get(("sotran", o["SONO"].strip()), [])}
                         for o in state.get("somast", [])],
        # REF holds the writer's reference (PONUM a customer PO, or the reference in older rows)
        "invoices": [{"reference": ((i.get("REF") or "").strip() or i["PONUM"].strip()), "key": i["INVNO"].strip(),
                      "amount": _d(i["INVAMT"]),
                      "open": _d(i["BALANCE"]), "status": (i.get("USTATUS") or "").strip(),
                      "lines": lines.get(("artran", i["INVNO"].strip()), [])}
                     for i in armast if (i.get("ARTYPE") or "").strip() != "C"],
        "payments": [{"reference": c["REFNO"].strip(), "amount": _d(c["PAIDAMT"]),
                      # cash on account (no INVNO) is applied to nothing
                      "applied": [(c["INVNO"].strip(), _d(c["PAIDAMT"]))] if c["INVNO"].strip() else [],
                      "method": (c.get("PAYCODE") or "").strip(), "cash_account": (c.get("CASHACCT") or "").strip()}
                     for c in cash if kind[c["CASHNO"]] not in ("R", "V")],
        "journals": list(journals.values()),
        "credit_memos": [{"reference": m["PONUM"].strip(), "key": m["INVNO"].strip(), "amount": -_d(m["INVAMT"]),
                          "invoice": (m.get("APPLYTO") or "").strip()} for m in memos],
        "refunds": [{"reference": c["REFNO"].strip(), "amount": -_d(c["PAIDAMT"]), "credit_memo": c["INVNO"].strip()}
                    for c in cash if kind[c["CASHNO"]] == "R"],
        "reversals": [{"reference": c["REFNO"].strip(), "payment": (c.get("REVCASH") or "").strip(),
                       "amount": -_d(c["PAIDAMT"])} for c in cash if kind[c["CASHNO"]] == "V"],
    }


def _sage_x3(state: dict) -> Summary:
    """Sage X3 objects by screen group (sandbox.sage_x3 /_sandbox/state); open amounts from open_items.

    The state view lists credit notes (SIH of a credit-note type), refunds and reversals (PAY entries
    of those transactions) apart from invoices and receipts; statuses are the YPAYSTA user field.
    """
    due = {o["NUM"]: _d(o["AMTCUR"]) - _d(o["PAYCUR"]) for o in state.get("open_items", []) if o.get("TYP") == "INV"}
    journals = []
    for j in state.get("journals", []):
        lines = j.get("GAS1_1", [])
        journals.append({"reference": j["GAS0_1"]["REF"],
                         "debits": sum((_d(l["AMTCUR"]) for l in lines if int(l["SNS"]) == 1), Decimal("0")),
                         "credits": sum((_d(l["AMTCUR"]) for l in lines if int(l["SNS"]) == -1), Decimal("0")),
                         "lines": sorted((l["ACC"], _d(l["AMTCUR"]) * int(l["SNS"])) for l in lines)})

    def x3_lines(doc: dict, group: str) -> list[tuple[str, Decimal]]:
        return [(l["ITMREF"], _d(l["AMTNOTLIN"])) for l in doc.get(group, [])]

    return {
        "customers": len(state.get("customers", [])),
        "sales_orders": [{"reference": o["SOH0_1"]["CUSORDREF"], "amount": _d(o["SOH4_3"]["ORDNOT"]),
                          "status": o["SOH0_1"].get("YPAYSTA") or "", "lines": x3_lines(o, "SOH4_1")}
                         for o in state.get("orders", [])],
        "invoices": [{"reference": i["SIH0_1"]["INVREF"], "key": i["SIH0_1"]["NUM"], "amount": _d(i["SIH4_3"]["INVNOT"]),
                      "open": due.get(i["SIH0_1"]["NUM"], Decimal("0")), "status": i["SIH0_1"].get("YPAYSTA") or "",
                      "lines": x3_lines(i, "SIH4_1")}
                     for i in state.get("invoices", [])],
        # an X3 receipt lands on its bank (BAN), whose own GL account X3 knows; the entry type is PAYTYP
        "payments": [{"reference": p["PAY1_2"]["REF"], "amount": _d(p["PAY1_2"]["AMTCUR"]),
                      "applied": [(l["VCRNUM"], _d(l["AMTLIN"])) for l in p.get("PAY1_4", []) if l["VCRNUM"]],
                      "method": p["PAY1_2"].get("PAM", ""), "entry_type": p["PAY0_1"].get("PAYTYP", ""),
                      "bank": p["PAY1_2"].get("BAN", "")}
                     for p in state.get("payments", [])],
        "journals": journals,
        "credit_memos": [{"reference": m["SIH0_1"]["INVREF"], "key": m["SIH0_1"]["NUM"],
                          "amount": _d(m["SIH4_3"]["INVNOT"]), "invoice": m["SIH0_1"].get("SIHORINUM", "")}
                         for m in state.get("credit_memos", [])],
        "refunds": [{"reference": r["PAY1_2"]["REF"], "amount": _d(r["PAY1_2"]["AMTCUR"]),
                     "credit_memo": next((l["VCRNUM"] for l in r.get("PAY1_4", [])), "")}
                    for r in state.get("refunds", [])],
        "reversals": [{"reference": v["PAY1_2"]["REF"], "payment": next((l["VCRNUM"] for l in v.get("PAY1_4", [])), ""),
                       "amount": _d(v["PAY1_2"]["AMTCUR"])} for v in state.get("reversals", [])],
    }


def _lines_sage50(state: dict) -> dict:
    lines = {o["ReferenceNumber"]: [(l["ItemID"], _d(l["Quantity"]), _d(l["UnitPrice"])) for l in o["Lines"]]
             for o in state.get("sales_orders", [])}
    stock = {p["ID"]: (_d(p["QuantityOnHand"]), _d(p["QuantityOnSalesOrders"]))
             for p in state.get("products", []) if p.get("ItemClass") == "Stock item"}
    return {"order_lines": lines, "stock": stock}


def _lines_sage_pro(state: dict) -> dict:
    lines: dict[str, list] = {}
    by_sono = {o["SONO"]: o["PONUM"].strip() for o in state.get("somast", [])}
    line = "LINENO"  # sotran's line number (issue 12: as public inserts name it)
    for t in sorted(state.get("sotran", []), key=lambda t: (t["SONO"], int(str(t[line]).strip() or 0))):
        lines.setdefault(by_sono.get(t["SONO"], t["SONO"].strip()), []).append(
            (t["ITEM"].strip(), _d(t["QTYORD"]), _d(t["PRICE"])))
    stock = {i["ITEM"].strip(): (_d(i["IONHAND"]), _d(i.get("IALLOC") or 0))
             for i in state.get("icitem", []) if (i.get("ITYPE") or "").strip() != "N"}
    return {"order_lines": lines, "stock": stock}


def _lines_sage_x3(state: dict) -> dict:
    lines = {o["SOH0_1"]["CUSORDREF"]: [(l["ITMREF"], _d(l["QTY"]), _d(l["GROPRI"])) for l in o["SOH4_1"]]
             for o in state.get("orders", [])}
    managed = {i["ITMREF"] for i in state.get("items", []) if int(i["STOMGTCOD"]) == 2}
    stock: dict[str, tuple] = {}
    for row in state.get("stock", []):
        if row["ITMREF"] in managed and row["STOFCY"] == "NA011" and row["STA"] == "A":
            have = stock.get(row["ITMREF"], (Decimal("0"), Decimal("0")))
            stock[row["ITMREF"]] = (have[0] + _d(row["QTYSTU"]), have[1] + _d(row["CUMALLQTY"]))
    return {"order_lines": lines, "stock": stock}


#: Per ERP: each sales order's lines by its reference [(item, quantity, unit price)], and each stock
#: item's (on hand, allocated) (X3: its accepted stock at the sales site NA011).
LINES: dict[str, Callable[[dict], dict]] = {"sage50": _lines_sage50, "sage_pro": _lines_sage_pro,
                                            "sage_x3": _lines_sage_x3}


def order_lines_and_stock(erp: str, state: dict) -> dict:
    return LINES[erp](state)


SUMMARIES: dict[str, Callable[[dict], Summary]] = {"sage50": _sage50, "sage_pro": _sage_pro, "sage_x3": _sage_x3}


def summarize(erp: str, state: dict) -> Summary:
    return SUMMARIES[erp](state)
