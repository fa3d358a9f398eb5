"""The PayTrace v1 operations: read and validate each request body, then act on the state."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from . import codes
from .codes import ApiError, Problems
from .formats import (aba_ok, card_brand, luhn_ok, masked_response, parse_amount, parse_us_date,
                      truthy)
from .records import (AUTHORIZATION, BILLING_KEYS, SALE, SHIPPING_KEYS, Card, Check, Customer,
                      Txn, clean_address)
from .state import Payment, PayTraceState


@dataclass
class Context:
    """Per-request facts the operations need besides the body."""

    ip: str


Handler = Callable[[PayTraceState, dict, Context], "tuple[int, dict[str, Any]]"]
OPERATIONS: dict[str, Handler] = {}

_DIGITS = re.compile(r"^[0-9]+$")


def operation(*paths: str) -> Callable[[Handler], Handler]:
    """Register a handler under its path(s) below /v1/."""
    def register(handler: Handler) -> Handler:
        for path in paths:
            OPERATIONS[path] = handler
        return handler
    return register


def exported(**payload: Any) -> tuple[int, dict[str, Any]]:
    """A successful export: success true with response_code 1 [C] DOC-EXP."""
    return 200, {"success": True, "response_code": 1, "status_message": codes.MSG_EXPORTED,
                 **payload, "external_transaction_id": ""}


# ----- field readers ------------------------------------------------------------------------
def text(body: dict, key: str) -> str:
    value = body.get(key)
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def required_text(body: dict, key: str, problems: Problems) -> str:
    value = text(body, key).strip()
    if not value:
        problems.add_missing(key)
    return value


def _small_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.match(value.strip()) and len(value.strip()) <= 4:
        return int(value.strip())
    return None


def read_amount(body: dict, problems: Problems, required: bool = True,
                allow_zero: bool = False) -> Decimal | None:
    """`amount`; zero only where PayTrace takes it: a $0.00 authorization is a card check (verify) [C]."""
    raw = body.get("amount")
    if raw is None or raw == "":
        if required:
            problems.add_missing("amount")
        return None
    if allow_zero and str(raw).strip() in ("0", "0.0", "0.00"):
        return Decimal("0.00")
    amount = parse_amount(raw)
    if amount is None:
        problems.add(codes.E_AMOUNT)
    return amount


def read_tax(body: dict, problems: Problems) -> Decimal | None:
    raw = body.get("tax_amount")
    if raw is None or raw == "":
        return None
    if str(raw).strip() in ("0", "0.0", "0.00"):
        return Decimal("0.00")  # a zero tax is valid, unlike a zero amount
    tax = parse_amount(raw)
    if tax is None:
        problems.add(codes.E_AMOUNT, "Please provide a valid Tax Amount.")  # [I] wording
    return tax


def read_id(body: dict, key: str, problems: Problems, required: bool = True) -> int | None:
    raw = body.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required and key == "transaction_id":
            problems.add(codes.E_TRANSACTION_ID)  # a blank id is 58, not 970 [C] (AM test_failed_capture/void)
        elif required:
            problems.add_missing(key)
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and _DIGITS.match(raw.strip()):
        return int(raw.strip())
    if key == "transaction_id":
        problems.add(codes.E_TRANSACTION_ID)
    else:
        problems.add(codes.E_BATCH_NOT_FOUND, codes.batch_not_found(raw))
    return None


def card_number(body: dict) -> str:
    raw = body.get("credit_card")
    number = raw.get("number") if isinstance(raw, dict) else None
    return str(number).strip() if isinstance(number, (str, int)) and not isinstance(number, bool) else ""


def card_echo(body: dict) -> dict[str, str]:
    """What an error answer to a card request echoes: the masked number sent [C] (vendor samples
    read `masked_card_number` from the error body; AM's 171 fixture carries it)."""
    digits = "".join(ch for ch in card_number(body) if ch.isdigit())
    return {"masked_card_number": masked_response(digits[-4:])} if len(digits) >= 4 else {}


def read_card(body: dict, problems: Problems) -> Card | None:
    """Validate `credit_card`; the returned Card keeps only BIN, last four and brand."""
    raw = body.get("credit_card")
    raw = raw if isinstance(raw, dict) else {}
    number = card_number(body)
    month = _small_int(raw.get("expiration_month"))
    year = _small_int(raw.get("expiration_year"))
    return _card(number, month, year, problems)


def _card(number: str, month: int | None, year: int | None, problems: Problems) -> Card | None:
    valid_number = luhn_ok(number)
    if not valid_number:
        problems.add(codes.E_CARD_NUMBER)
    if month is None or not 1 <= month <= 12:
        problems.add(codes.E_EXP_MONTH)
    if year is not None and year < 100:
        year += 2000  # two-digit years, as the export shows them
    if year is None:
        # Only a missing or unreadable year: an expiry of 1999 answers 35 and 43, never 44 [C]
        # (AM test_failed_purchase_with_multiple_errors); whether a past year declines is [I] (it does not here).
        problems.add(codes.E_EXP_YEAR)
    if not valid_number or month is None or year is None or not 1 <= month <= 12:
        return None
    return Card(bin6=number[:6], last4=number[-4:], length=len(number),
                brand=card_brand(number), exp_month=month, exp_year=year)


_TRACK1 = re.compile(r"%B(\d{12,19})\^[^^]*\^(\d{2})(\d{2})")
_TRACK2 = re.compile(r";(\d{12,19})=(\d{2})(\d{2})")


def read_swipe(body: dict, problems: Problems) -> Card | None:
    """`swipe` (track 1 and/or 2 as read, DEMO SwipedSaleJson [C]): the card, keeping no track data.

    The track's expiry is YYMM. An unreadable swipe answers like a bad card number [I]."""
    raw = text(body, "swipe").strip() or text(body, "encrypted_swipe").strip()
    found = _TRACK1.search(raw) or _TRACK2.search(raw)
    if not raw:
        problems.add_missing("swipe")
        return None
    if found is None:
        problems.add(codes.E_CARD_NUMBER)
        return None
    number, yy, mm = found.groups()
    return _card(number, int(mm), int(yy), problems)


def read_check(body: dict, problems: Problems) -> Check | None:
    """Validate `check`; the returned Check keeps the last four of the account, never the number."""
    raw = body.get("check")
    raw = raw if isinstance(raw, dict) else {}
    account = str(raw.get("account_number") or "").strip()
    routing = str(raw.get("routing_number") or "").strip()
    if not (_DIGITS.match(account) and 4 <= len(account) <= 17):
        problems.add(codes.E_ACCOUNT_NUMBER)
    if not aba_ok(routing):  # [I] that PayTrace checks the ABA checksum, not only nine digits
        problems.add(codes.E_ROUTING_NUMBER)
    if codes.E_ACCOUNT_NUMBER in problems.errors or codes.E_ROUTING_NUMBER in problems.errors:
        return None
    return Check(last4=account[-4:], length=len(account), routing_number=routing)


def read_dates(body: dict, problems: Problems) -> tuple[Any, Any]:
    dates = []
    for key, code in (("start_date", codes.E_START_DATE), ("end_date", codes.E_END_DATE)):
        if not text(body, key).strip():
            problems.add_missing(key)
            dates.append(None)
            continue
        parsed = parse_us_date(body.get(key))
        if parsed is None:
            problems.add(code)
        dates.append(parsed)
    return dates[0], dates[1]


def _payment_extras(body: dict, tax: Decimal | None) -> dict[str, Any]:
    extra = body.get("discretionary_data")
    return {"shipping": clean_address(body.get("shipping_address"), SHIPPING_KEYS),
            "invoice_id": text(body, "invoice_id"), "description": text(body, "description"),
            "email": text(body, "email"), "tax_amount": tax,
            "customer_reference_id": text(body, "customer_reference_id"),
            "discretionary_data": dict(extra) if isinstance(extra, dict) else {}}


# ----- transactions -------------------------------------------------------------------------
def _keyed(kind: str) -> Handler:
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        card = read_card(body, problems)
        amount = read_amount(body, problems, allow_zero=kind == AUTHORIZATION)
        tax = read_tax(body, problems)
        problems.raise_if_any(card_echo(body))
        payment = Payment(amount=amount, card=card, csc_given=bool(text(body, "csc").strip()),
                          billing=clean_address(body.get("billing_address"), BILLING_KEYS),
                          **_payment_extras(body, tax))
        return state.create_payment(kind, payment, ctx.ip)
    return handler


@operation("transactions/sale/swiped")
def swiped_sale(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    """A card-present sale from track data [C path, DEMO]; the answer has no masked number [C]."""
    problems = Problems()
    card = read_swipe(body, problems)
    amount = read_amount(body, problems)
    tax = read_tax(body, problems)
    problems.raise_if_any()
    payment = Payment(amount=amount, card=card, csc_given=bool(text(body, "csc").strip()),
                      billing=clean_address(body.get("billing_address"), BILLING_KEYS), keyed=False,
                      **_payment_extras(body, tax))
    return state.create_payment(SALE, payment, ctx.ip)


def _by_transaction(kind: str) -> Handler:
    """A new sale (or authorization) on the card of an earlier transaction [C: narch/paytracer
    cassette create_sale_by_transaction: 200, 101, nine fields, no masked_card_number]."""
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        txn_id = read_id(body, "transaction_id", problems)
        amount = read_amount(body, problems)
        tax = read_tax(body, problems)
        problems.raise_if_any()
        earlier = state.transaction_copy(txn_id)
        if earlier.card is None:
            raise ApiError.one(codes.E_TRANSACTION_ID)
        billing = body.get("billing_address")
        payment = Payment(amount=amount, card=earlier.card, csc_given=bool(text(body, "csc").strip()),
                          billing=clean_address(billing, BILLING_KEYS) if isinstance(billing, dict)
                          else dict(earlier.billing), customer_id=earlier.customer_id, keyed=False,
                          **_payment_extras(body, tax))
        return state.create_payment(kind, payment, ctx.ip)
    return handler


def _by_customer(kind: str) -> Handler:
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        customer_id = required_text(body, "customer_id", problems)
        amount = read_amount(body, problems, allow_zero=kind == AUTHORIZATION)
        tax = read_tax(body, problems)
        problems.raise_if_any()
        customer = state.customer(customer_id)
        if customer.card is None:  # a check-only profile is "incomplete" for a card sale
            raise ApiError.one(codes.E_CUSTOMER_NOT_FOUND, codes.customer_not_found(customer_id))
        billing = body.get("billing_address")
        payment = Payment(amount=amount, card=customer.card,
                          csc_given=bool(text(body, "csc").strip()),
                          billing=clean_address(billing, BILLING_KEYS) if isinstance(billing, dict)
                          else dict(customer.billing),
                          customer_id=customer_id, keyed=False, **_payment_extras(body, tax))
        return state.create_payment(kind, payment, ctx.ip)
    return handler


operation("transactions/sale/keyed")(_keyed(SALE))
operation("transactions/authorization/keyed")(_keyed(AUTHORIZATION))
operation("transactions/sale/by_customer")(_by_customer(SALE))
operation("transactions/authorization/by_customer")(_by_customer(AUTHORIZATION))
operation("transactions/sale/by_transaction")(_by_transaction(SALE))
operation("transactions/authorization/by_transaction")(_by_transaction(AUTHORIZATION))


@operation("transactions/authorization/capture")
def capture(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    txn_id = read_id(body, "transaction_id", problems)
    amount = read_amount(body, problems, required=False)
    problems.raise_if_any()
    return 200, state.capture(txn_id, amount)


@operation("transactions/void")
def void(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    txn_id = read_id(body, "transaction_id", problems)
    problems.raise_if_any()
    return 200, state.void(txn_id)


@operation("transactions/refund/for_transaction")
def refund(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    txn_id = read_id(body, "transaction_id", problems)
    amount = read_amount(body, problems, required=False)
    problems.raise_if_any()
    return 200, state.refund(txn_id, amount, ctx.ip)


@operation("transactions/refund/keyed")
def keyed_refund(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    """Money back to a card with no earlier transaction [C path and 106, DEMO KeyedRefundJson]."""
    problems = Problems()
    card = read_card(body, problems)
    amount = read_amount(body, problems)
    problems.raise_if_any(card_echo(body))
    payment = Payment(amount=amount, card=card, csc_given=bool(text(body, "csc").strip()),
                      billing=clean_address(body.get("billing_address"), BILLING_KEYS),
                      **_payment_extras(body, None))
    return 200, state.keyed_refund(payment, ctx.ip)


def _level_three(brand: str) -> Handler:
    """Enhanced (level 3) data on an approved, unsettled transaction: 170 [C] (AM ENDPOINTS, remote
    tests, unit fixture). Stored on the transaction, not exported [I]."""
    def handler(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
        problems = Problems()
        txn_id = read_id(body, "transaction_id", problems)
        lines = body.get("line_items")
        if lines is not None and not (isinstance(lines, list) and all(isinstance(l, dict) for l in lines)):
            problems.add_missing("line_items")  # [I] a malformed list answers as a missing one
        problems.raise_if_any()
        data = {k: v for k, v in body.items() if k not in ("integrator_id", "transaction_id", "username", "password")}
        count = state.add_level_three(txn_id, brand, data)
        return 200, {"success": True, "response_code": 170,
                     "status_message": codes.level_three_added(txn_id, count)}
    return handler


operation("level_three/visa")(_level_three("VISA"))
operation("level_three/mastercard")(_level_three("MASTERCARD"))


@operation("transactions/settle")
def settle(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    return 200, state.settle()


# ----- exports ------------------------------------------------------------------------------
@operation("transactions/export/by_id")
def export_by_id(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    txn_id = read_id(body, "transaction_id", problems)
    problems.raise_if_any()
    return exported(transactions=state.export_by_id(txn_id, truthy(body.get("include_bin"))))


@operation("transactions/export/by_date_range")
def export_by_date_range(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    start, end = read_dates(body, problems)
    txn_id = read_id(body, "transaction_id", problems, required=False)
    problems.raise_if_any()
    wanted_type = text(body, "transaction_type").strip().upper()
    customer_id = text(body, "customer_id").strip()
    needle = text(body, "including_text").strip().lower()

    def keep(txn: Txn) -> bool:
        if wanted_type == "SETTLED" and not txn.status_code.startswith("GB"):
            return False
        if wanted_type == "PENDING" and not txn.pending:
            return False
        if wanted_type not in ("", "SETTLED", "PENDING") and txn.transaction_type != wanted_type:
            return False
        if txn_id is not None and txn.id != txn_id:
            return False
        if customer_id and txn.customer_id != customer_id:
            return False
        # [I] PIPE names `including_text` but not what it searches: here, a case-insensitive
        # substring of invoice_id, description or customer_reference_id.
        return not needle or any(needle in field.lower() for field in
                                 (txn.invoice_id, txn.description, txn.customer_reference_id))

    records = state.export_range(start, end, truthy(body.get("include_bin")), keep)
    return exported(transactions=records)


@operation("batches/export")
def batches_export(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    start, end = read_dates(body, problems)
    problems.raise_if_any()
    return exported(batches=state.batches_in_range(start, end))


@operation("batches/export_one")
def batches_export_one(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    number = read_id(body, "batch_number", problems, required=False)
    problems.raise_if_any()
    return exported(batch=state.batch_one(number))


@operation("batches/transaction_list")
def batches_transaction_list(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    number = read_id(body, "batch_number", problems)
    problems.raise_if_any()
    return exported(transactions=state.batch_transactions(number, truthy(body.get("include_bin"))))


# ----- vault --------------------------------------------------------------------------------
def _profile_answer(code: int, verb: str, customer: Customer) -> tuple[int, dict]:
    # [C] for "created" (VCR); "updated"/"deleted" wording is [I], modelled on it.
    body = {"success": True, "response_code": code,
            "status_message": f"The customer profile for {customer.customer_id}/"
                              f"{customer.billing.get('name', '')} was successfully {verb}.",
            "customer_id": customer.customer_id}
    if customer.card is not None and verb != "deleted":
        body["masked_card_number"] = masked_response(customer.card.last4)
    return 200, body


def _read_payment_method(body: dict, problems: Problems, required: bool) -> tuple[Any, Any]:
    if isinstance(body.get("credit_card"), dict):
        return read_card(body, problems), None
    if isinstance(body.get("check"), dict):
        return None, read_check(body, problems)
    if required:
        problems.add(codes.E_CARD_NUMBER)
    return None, None


@operation("customer/create")
def customer_create(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    customer_id = required_text(body, "customer_id", problems)
    card, check = _read_payment_method(body, problems, required=True)
    problems.raise_if_any(card_echo(body))
    extra = body.get("discretionary_data")
    customer = Customer(customer_id=customer_id, card=card, check=check,
                        billing=clean_address(body.get("billing_address"), BILLING_KEYS),
                        shipping=clean_address(body.get("shipping_address"), SHIPPING_KEYS),
                        email=text(body, "email"), phone=text(body, "phone"),
                        created_at=state.now(),
                        discretionary_data=dict(extra) if isinstance(extra, dict) else {})
    try:
        state.add_customer(customer)
    except ApiError as error:  # a duplicate id (171) still echoes the card [C] (AM fixture)
        error.extra.update(card_echo(body))
        raise
    return _profile_answer(160, "created", customer)


@operation("customer/update")
def customer_update(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    customer_id = required_text(body, "customer_id", problems)
    card, check = _read_payment_method(body, problems, required=False)
    problems.raise_if_any()

    def mutate(customer: Customer) -> None:
        # [I] fields left out of the update keep their stored values.
        if card is not None:
            customer.card, customer.check = card, None
        if check is not None:
            customer.card, customer.check = None, check
        for attr, key, keys in (("billing", "billing_address", BILLING_KEYS),
                                ("shipping", "shipping_address", SHIPPING_KEYS)):
            if isinstance(body.get(key), dict):
                merged = {**getattr(customer, attr), **{k: v for k, v in body[key].items() if k in keys}}
                setattr(customer, attr, clean_address(merged, keys))
        for key in ("email", "phone"):
            if key in body:
                setattr(customer, key, text(body, key))
        if isinstance(body.get("discretionary_data"), dict):
            customer.discretionary_data = dict(body["discretionary_data"])

    return _profile_answer(161, "updated", state.update_customer(customer_id, mutate))


@operation("customer/delete")
def customer_delete(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    problems = Problems()
    customer_id = required_text(body, "customer_id", problems)
    problems.raise_if_any()
    return _profile_answer(162, "deleted", state.delete_customer(customer_id))


@operation("customer/export")
def customer_export(state: PayTraceState, body: dict, ctx: Context) -> tuple[int, dict]:
    customer_id = text(body, "customer_id").strip() or None
    # [I] success code 1 and an unknown filtered id answering key 30 follow the other exports.
    return exported(customers=state.export_customers(customer_id))
