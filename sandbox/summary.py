"""What an ERP sandbox holds, in one shape for every ERP: the demo's table and the tests read it.

    {"customers": n,
     "sales_orders": [{"reference", "amount"}],
     "invoices": [{"reference", "key", "amount", "open"}],
     "payments": [{"reference", "amount", "applied": [(invoice key, amount), ...]}],
     "journals": [{"reference", "debits", "credits"}]}

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
                          "status": o.get("InternalNote") or ""}
                         for o in state.get("sales_orders", [])],
        "invoices": [{"reference": i["ReferenceNumber"], "key": i["Key"], "amount": _d(i["Amount"]),
                      "open": _d(i["AmountDue"]), "status": i.get("InternalNote") or ""}
                     for i in state.get("invoices", [])],
        "payments": [{"reference": p["ReferenceNumber"], "amount": _d(p["Amount"]),
                      "applied": [(l["InvoiceReference"], _d(l["AmountPaid"])) for l in p.get("ApplyToInvoiceLines", [])]}
                     for p in state.get("payments", [])],
        "journals": [{"reference": j["ReferenceNumber"],
                      "debits": sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) > 0), Decimal("0")),
                      "credits": -sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) < 0), Decimal("0"))}
                     for j in state.get("journal_entries", [])],
        "credit_memos": [{"reference": m["ReferenceNumber"], "key": m["Key"], "amount": _d(m["Amount"]),
                          "invoice": m["ApplyToInvoiceKey"]} for m in state.get("credit_memos", [])],
        "refunds": [{"reference": r["ReferenceNumber"], "amount": _d(r["Amount"]), "credit_memo": r["CreditMemoKey"]}
                    for r in state.get("customer_refunds", [])],
        "reversals": [{"reference": v["ReferenceNumber"], "payment": v["ReceiptKey"], "amount": _d(v["Amount"])}
                      for v in state.get("receipt_voids", [])],
    }


def _sage_pro(state: dict) -> Summary:
    """Sage Pro tables (sandbox.sage_pro.state): keys and references are blank-padded.

    armast holds invoices and credit memos (ARTYPE "C", amounts negative, APPLYTO the invoice); arcash
    holds receipts, refunds (TRANTYPE "R", against a credit memo) and reversals (TRANTYPE "V", REVCASH
    the receipt), both negative; USTATUS is the free-text status (all [I], docs/sage-pro.md).
    """
    journals: dict[str, dict] = {}
    for line in state.get("gltran", []):
        entry = journals.setdefault(line["TRANNO"].strip(), {"reference": line["REF"].strip(),
                                                             "debits": Decimal("0"), "credits": Decimal("0")})
        entry["debits"] += _d(line["DEBIT"])
        entry["credits"] += _d(line["CREDIT"])
    armast = state.get("armast", [])
    memos = [i for i in armast if (i.get("ARTYPE") or "").strip() == "C"]
    cash = state.get("arcash", [])
    kind = {c["CASHNO"]: (c.get("TRANTYPE") or "").strip() for c in cash}
    return {
        "customers": len(state.get("arcust", [])),
        "sales_orders": [{"reference": o["PONUM"].strip(), "amount": _d(o["ORDAMT"]),
                          "status": (o.get("USTATUS") or "").strip()} for o in state.get("somast", [])],
        # REF holds the writer's reference (PONUM a customer PO, or the reference in older rows)
        "invoices": [{"reference": ((i.get("REF") or "").strip() or i["PONUM"].strip()), "key": i["INVNO"].strip(),
                      "amount": _d(i["INVAMT"]),
                      "open": _d(i["BALANCE"]), "status": (i.get("USTATUS") or "").strip()}
                     for i in armast if (i.get("ARTYPE") or "").strip() != "C"],
        "payments": [{"reference": c["REFNO"].strip(), "amount": _d(c["PAIDAMT"]),
                      # cash on account (no INVNO) is applied to nothing
                      "applied": [(c["INVNO"].strip(), _d(c["PAIDAMT"]))] if c["INVNO"].strip() else []}
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
                         "credits": sum((_d(l["AMTCUR"]) for l in lines if int(l["SNS"]) == -1), Decimal("0"))})
    return {
        "customers": len(state.get("customers", [])),
        "sales_orders": [{"reference": o["SOH0_1"]["CUSORDREF"], "amount": _d(o["SOH4_3"]["ORDNOT"]),
                          "status": o["SOH0_1"].get("YPAYSTA") or ""} for o in state.get("orders", [])],
        "invoices": [{"reference": i["SIH0_1"]["INVREF"], "key": i["SIH0_1"]["NUM"], "amount": _d(i["SIH4_3"]["INVNOT"]),
                      "open": due.get(i["SIH0_1"]["NUM"], Decimal("0")), "status": i["SIH0_1"].get("YPAYSTA") or ""}
                     for i in state.get("invoices", [])],
        "payments": [{"reference": p["PAY1_2"]["REF"], "amount": _d(p["PAY1_2"]["AMTCUR"]),
                      "applied": [(l["VCRNUM"], _d(l["AMTLIN"])) for l in p.get("PAY1_4", []) if l["VCRNUM"]]}
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


SUMMARIES: dict[str, Callable[[dict], Summary]] = {"sage50": _sage50, "sage_pro": _sage_pro, "sage_x3": _sage_x3}


def summarize(erp: str, state: dict) -> Summary:
    return SUMMARIES[erp](state)
