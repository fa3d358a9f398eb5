"""The /v1/checks operations (ACH): sale and hold by account or vault customer, manage, refund, exports.

Paths and request fields follow paytrace.md "ACH / checks (v1)"; the two exports are [I] (no v1
check export was found). Answers carry `check_transaction_id`, never an account number.
"""
from __future__ import annotations

from typing import Any

from . import codes
from .api import (Context, exported, operation, read_amount, read_check, read_dates, required_text,
                  text)
from .checks import HOLD, SALE, CheckPayment
from .codes import ApiError, Problems
from .records import BILLING_KEYS, clean_address
from .state import PayTraceState


def read_check_id(body: dict, problems: Problems) -> int | None:
    """`check_transaction_id`: missing is 970; anything but a positive integer is key 80 [I]."""
    raw = body.get("check_transaction_id")
    if raw is None or raw == "":
        problems.add_missing("check_transaction_id")
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip())
    problems.add(codes.E_CHECK_NOT_FOUND)
    return None


def _extras(body: dict) -> dict[str, Any]:
    return {"invoice_id": text(body, "invoice_id"), "description": text(body, "description"),
            "customer_reference_id": text(body, "customer_reference_id"),
            "email": text(body, "email")}


def _by_account(kind: str):
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        check = read_check(body, problems)
        amount = read_amount(body, problems)
        billing = clean_address(body.get("billing_address"), BILLING_KEYS)
        if not billing["name"].strip():
            # [I] an ACH debit names the account holder, so the name is required.
            problems.add_missing("billing_address.name")
        problems.raise_if_any()
        payment = CheckPayment(amount=amount, check=check, billing=billing, **_extras(body))
        return state.checks.create(kind, payment, ctx.ip)
    return handler


def _by_customer(kind: str):
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        customer_id = required_text(body, "customer_id", problems)
        amount = read_amount(body, problems)
        problems.raise_if_any()
        customer = state.customer(customer_id)
        if customer.check is None:  # a card-only profile is "incomplete" for a check [I]
            raise ApiError.one(codes.E_CUSTOMER_NOT_FOUND, codes.customer_not_found(customer_id))
        billing = body.get("billing_address")
        payment = CheckPayment(amount=amount, check=customer.check,
                               billing=clean_address(billing, BILLING_KEYS) if isinstance(billing, dict)
                               else dict(customer.billing),
                               customer_id=customer_id, **_extras(body))
        if not payment.email:
            payment.email = customer.email  # [I] the profile's address gets the receipt
        return state.checks.create(kind, payment, ctx.ip)
    return handler


operation("checks/sale/by_account")(_by_account(SALE))
operation("checks/hold/by_account")(_by_account(HOLD))
operation("checks/sale/by_customer")(_by_customer(SALE))
operation("checks/hold/by_customer")(_by_customer(HOLD))


@operation("checks/manage/fund")
def fund(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    check_id = read_check_id(body, problems)
    problems.raise_if_any()
    return 200, state.checks.fund(check_id)


@operation("checks/manage/void")
def void(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    check_id = read_check_id(body, problems)
    problems.raise_if_any()
    return 200, state.checks.void(check_id)


@operation("checks/refund/by_transaction")
def refund(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    check_id = read_check_id(body, problems)
    amount = read_amount(body, problems, required=False)
    problems.raise_if_any()
    return 200, state.checks.refund(check_id, amount, ctx.ip)


@operation("checks/export/by_id")
def export_by_id(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    check_id = read_check_id(body, problems)
    problems.raise_if_any()
    return exported(checks=state.checks.export_by_id(check_id))


@operation("checks/export/by_date_range")
def export_by_date_range(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    start, end = read_dates(body, problems)
    problems.raise_if_any()
    customer_id = text(body, "customer_id").strip()
    return exported(checks=state.checks.export_range(start, end, customer_id))
