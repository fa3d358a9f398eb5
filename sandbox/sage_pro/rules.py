"""The rules Sage Pro's application keeps over its AR tables, checked on a state() snapshot.

The tables themselves take anything (sage.md §3: the application, not the database, enforces
balances); the sandbox states the rules here so a test can check that whatever wrote the tables
kept them. The lifecycle codes and columns (credit memos, refunds, reversals) are [I]: schema.py.
So is cash on account: an arcash receipt with a blank INVNO, applied to nothing, that lowers the
customer's BALANCE.

    violations(state) -> ["armast 5001: BALANCE 10.00 is not INVAMT - PAIDAMT (0.00)", ...]
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from .schema import CREDIT_MEMO, REFUND, REVERSAL

_ZERO = Decimal("0")


def _d(value) -> Decimal:
    return Decimal(str(value))


def _k(value) -> str:
    return str(value).strip()


def violations(state: dict[str, list[dict]]) -> list[str]:
    """Every broken rule in one company's snapshot (sandbox.sage_pro.state); [] when all hold."""
    out: list[str] = []
    armast = {_k(r["INVNO"]): r for r in state.get("armast", [])}
    memos = {k: r for k, r in armast.items() if _k(r["ARTYPE"]) == CREDIT_MEMO}
    invoices = {k: r for k, r in armast.items() if k not in memos}
    cash = state.get("arcash", [])
    receipts = {_k(c["CASHNO"]): c for c in cash if _k(c["TRANTYPE"]) not in (REFUND, REVERSAL)}

    # Every AR document: open balance = amount - applied cash; applied cash = its arcash rows; lines add up.
    applied: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for c in cash:
        applied[_k(c["INVNO"])] += _d(c["PAIDAMT"])
    lines: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for t in state.get("artran", []):
        lines[_k(t["INVNO"])] += _d(t["EXTPRICE"])
    for key, doc in armast.items():
        amount, paid, balance = _d(doc["INVAMT"]), _d(doc["PAIDAMT"]), _d(doc["BALANCE"])
        if balance != amount - paid:
            out.append(f"armast {key}: BALANCE {balance} is not INVAMT - PAIDAMT ({amount - paid})")
        if paid != applied[key]:
            out.append(f"armast {key}: PAIDAMT {paid} is not its arcash rows' {applied[key]}")
        if key in lines and lines[key] != amount:
            out.append(f"armast {key}: artran lines add up to {lines[key]}, INVAMT is {amount}")

    # Invoices: never overpaid, never negative.
    for key, inv in invoices.items():
        if not _ZERO <= _d(inv["BALANCE"]) <= _d(inv["INVAMT"]):
            out.append(f"invoice {key}: BALANCE {_d(inv['BALANCE'])} outside 0..{_d(inv['INVAMT'])}")

    # Credit memos: negative, against an invoice of the same customer, never more than it less earlier memos,
    # and refunded at most to zero.
    credited: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for key, memo in memos.items():
        amount, balance, target = _d(memo["INVAMT"]), _d(memo["BALANCE"]), _k(memo["APPLYTO"])
        if amount >= 0:
            out.append(f"credit memo {key}: INVAMT {amount} is not negative")
        if not amount <= balance <= 0:
            out.append(f"credit memo {key}: BALANCE {balance} outside {amount}..0 (refunded more than credited)")
        if not target:
            continue  # an open credit on the customer's account, applied to no invoice
        invoice = invoices.get(target)
        if invoice is None:
            out.append(f"credit memo {key}: APPLYTO {target!r} is not an invoice")
            continue
        if invoice["CUSTNO"] != memo["CUSTNO"]:
            out.append(f"credit memo {key}: invoice {target} is another customer's")
        credited[target] -= amount
    for target, total in credited.items():
        if total > _d(invoices[target]["INVAMT"]):
            out.append(f"invoice {target}: credit memos credit {total}, more than its {_d(invoices[target]['INVAMT'])}")

    # arcash: receipts pay invoices or stay on account (blank INVNO [I]); refunds pay credit memos out; a
    # reversal negates one receipt, once (an on-account one with a blank INVNO too).
    reversed_: dict[str, list[str]] = defaultdict(list)
    unapplied: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for c in cash:
        key, kind, paid, doc = _k(c["CASHNO"]), _k(c["TRANTYPE"]), _d(c["PAIDAMT"]), _k(c["INVNO"])
        if not doc:
            unapplied[c["CUSTNO"]] += paid
        if doc in armast and armast[doc]["CUSTNO"] != c["CUSTNO"]:
            out.append(f"arcash {key}: applied to another customer's document {doc}")
        if kind == REFUND:
            if doc not in memos or paid >= 0:
                out.append(f"refund {key}: must pay out (PAIDAMT < 0) against a credit memo, got {paid} on {doc!r}")
        elif kind == REVERSAL:
            receipt = receipts.get(_k(c["REVCASH"]))
            if receipt is None:
                out.append(f"reversal {key}: REVCASH {_k(c['REVCASH'])!r} is not a receipt")
                continue
            reversed_[_k(c["REVCASH"])].append(key)
            if _k(receipt["INVNO"]) != doc or paid != -_d(receipt["PAIDAMT"]):
                out.append(f"reversal {key}: must negate receipt {_k(c['REVCASH'])} on its own invoice")
        elif (doc and doc not in invoices) or paid <= 0:
            out.append(f"receipt {key}: must pay (PAIDAMT > 0) an invoice or the account, got {paid} on {doc!r}")
    for receipt, reversals in reversed_.items():
        if len(reversals) > 1:
            out.append(f"receipt {receipt} is reversed {len(reversals)} times: {', '.join(reversals)}")

    # The customer's balance is what its AR documents leave open (credits lower it), less the cash it
    # paid on account [I] (unapplied cash is the customer's credit until someone applies it).
    open_: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for doc in armast.values():
        open_[doc["CUSTNO"]] += _d(doc["BALANCE"])
    for custno, paid in unapplied.items():
        open_[custno] -= paid
    for cust in state.get("arcust", []):
        if _d(cust["BALANCE"]) != open_[cust["CUSTNO"]]:
            out.append(f"arcust {_k(cust['CUSTNO'])}: BALANCE {_d(cust['BALANCE'])} is not its open AR "
                       f"{open_[cust['CUSTNO']]}")
    return out
