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
    return {
        "customers": len(state.get("customers", [])),
        "sales_orders": [{"reference": o["ReferenceNumber"], "amount": _d(o["Amount"])}
                         for o in state.get("sales_orders", [])],
        "invoices": [{"reference": i["ReferenceNumber"], "key": i["Key"], "amount": _d(i["Amount"]),
                      "open": _d(i["AmountDue"])} for i in state.get("invoices", [])],
        "payments": [{"reference": p["ReferenceNumber"], "amount": _d(p["Amount"]),
                      "applied": [(l["InvoiceKey"], _d(l["AmountPaid"])) for l in p.get("InvoiceLines", [])]}
                     for p in state.get("payments", [])],
        "journals": [{"reference": j["ReferenceNumber"],
                      "debits": sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) > 0), Decimal("0")),
                      "credits": -sum((_d(l["Amount"]) for l in j["Lines"] if _d(l["Amount"]) < 0), Decimal("0"))}
                     for j in state.get("journal_entries", [])],
    }


SUMMARIES: dict[str, Callable[[dict], Summary]] = {"sage50": _sage50}


def summarize(erp: str, state: dict) -> Summary:
    return SUMMARIES[erp](state)
