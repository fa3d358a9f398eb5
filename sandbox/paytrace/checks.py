"""Checks (ACH): the stored check transaction, its export record, and the ledger that moves it.

No v1 check export was found, so the record shape and the status letters below are [I]: they
follow the card export (§3) where it makes sense. Statuses, one letter each like the card ones:

    H held (a hold, not yet funded)   Y pending settlement   S settled   R returned (ACH return)
    V voided                          X not processed (answered 125 at submission)

Check ids come from their own sequence, which starts where the card ids start, so the two id
spaces overlap on purpose: a client must never look a check id up as a card transaction.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from . import codes
from .codes import ApiError
from .formats import pacific_date, timestamp
from .records import Check

SALE, HOLD, REFUND = "SALE", "HOLD", "REFUND"

STATUS_MESSAGES = {  # [I] wording
    "H": "Held", "Y": "Pending Settlement", "S": "Settled", "R": "Returned", "V": "Voided",
    "X": "Not Processed",
}


@dataclass
class CheckPayment:
    """A validated check sale or hold request; the account is already reduced to its last four."""

    amount: Decimal
    check: Check
    billing: dict[str, str]
    invoice_id: str = ""
    customer_reference_id: str = ""
    description: str = ""
    email: str = ""
    customer_id: str = ""


@dataclass
class CheckTxn:
    """One check transaction; its status is derived from the flags, never stored twice."""

    id: int
    kind: str  # SALE | HOLD | REFUND
    amount: Decimal
    check: Check
    processed: bool  # False: refused at submission ("not processed", 125)
    billing: dict[str, str]
    created_at: datetime
    created_by: str
    from_ip: str
    invoice_id: str = ""
    customer_reference_id: str = ""
    description: str = ""
    email: str = ""
    customer_id: str = ""
    #: A number, as in every recorded answer [C] (0: no ACH reason); a return sets its NACHA
    #: number (R01 -> 1) and ach_message "R01 <reason>" [I].
    ach_code: int = 0
    ach_message: str = ""
    funded: bool = False  # a hold released for processing (manage/fund)
    voided: bool = False
    settled_at: datetime | None = None
    returned_at: datetime | None = None
    original_id: int | None = None
    refunded: Decimal = Decimal("0.00")
    link_exported: bool = False  # the invented link to the refunded check, only when asked

    @property
    def status_code(self) -> str:
        if not self.processed:
            return "X"
        if self.voided:
            return "V"
        if self.kind == HOLD and not self.funded:
            return "H"
        if self.returned_at is not None:
            return "R"
        return "S" if self.settled_at is not None else "Y"

    @property
    def transaction_type(self) -> str:
        # [I] as for cards: a voided check exports as VOID; a funded hold keeps its type HOLD.
        return "VOID" if self.voided else self.kind

    def export(self) -> dict[str, Any]:
        """The check export record [I]; the account number appears as its last four only."""
        record: dict[str, Any] = {
            "check_transaction_id": self.id,
            "transaction_type": self.transaction_type,
            "amount": self.amount,
            "check": self.check.export(),
            "billing_address": dict(self.billing),
            "invoice_id": self.invoice_id,
            "customer_reference_id": self.customer_reference_id,
            "description": self.description,
            "email": self.email,
            "customer_id": self.customer_id,
            "status_code": self.status_code,
            "status_message": STATUS_MESSAGES[self.status_code],
            "ach_code": self.ach_code,
            "ach_message": self.ach_message,
            "created": {"through": "API", "at": timestamp(self.created_at),
                        "by": self.created_by, "from_ip": self.from_ip},
            "settled": timestamp(self.settled_at) if self.settled_at else "",
            "returned": timestamp(self.returned_at) if self.returned_at else "",
        }
        if self.kind == REFUND and self.link_exported:
            record["original_check_transaction_id"] = self.original_id
        return record


def _answer(code: int, message: str, check_id: int) -> dict[str, Any]:
    # The four fields of every recorded check answer [C] (AM fixtures): no external_transaction_id.
    return {"success": True, "response_code": code, "status_message": message, "check_transaction_id": check_id}


class CheckLedger:
    """The account's check transactions; shares the account's lock and clock."""

    def __init__(self, lock: threading.RLock, now: Callable[[], datetime], username: str,
                 first_id: int) -> None:
        self._lock = lock
        self._now = now
        self._username = username
        self._checks: dict[int, CheckTxn] = {}
        self._next_id = first_id
        self.refund_links = False  # set by the account: export the invented refund link or not

    @property
    def next_id(self) -> int:
        return self._next_id

    def _new_id(self) -> int:
        check_id = self._next_id
        self._next_id += 1
        return check_id

    def _get(self, check_id: int, message: str | None = None) -> CheckTxn:
        found = self._checks.get(check_id)
        if found is None:
            raise ApiError.one(codes.E_CHECK_NOT_FOUND, message)
        return found

    def create(self, kind: str, payment: CheckPayment, from_ip: str) -> tuple[int, dict[str, Any]]:
        """Run a check sale or hold; (HTTP status, answer). A refused check keeps its id too."""
        assert kind in (SALE, HOLD)
        failure = f"{payment.amount:f}" in codes.ACH_DECLINE_TRIGGERS
        with self._lock:
            txn = CheckTxn(id=self._new_id(), kind=kind, amount=payment.amount, check=payment.check,
                           processed=not failure, billing=payment.billing,
                           created_at=self._now(), created_by=self._username, from_ip=from_ip,
                           invoice_id=payment.invoice_id,
                           customer_reference_id=payment.customer_reference_id,
                           description=payment.description, email=payment.email,
                           customer_id=payment.customer_id)
            self._checks[txn.id] = txn
        if not failure:
            return 200, _answer(120, codes.MSG_CHECK_PROCESSED, txn.id)
        # The recorded refusal, field for field [C] (AM unit fixture); HTTP 400 like a card decline [I].
        return 400, {"success": False, "response_code": 125,
                     "status_message": codes.MSG_CHECK_NOT_PROCESSED, "check_transaction_id": txn.id,
                     "ach_code": 0, "ach_message": ""}

    def fund(self, check_id: int) -> dict[str, Any]:
        """Release a held check for processing: it is then pending settlement like a sale."""
        with self._lock:
            txn = self._get(check_id, codes.CHECK_NOT_MANAGEABLE)
            if txn.status_code != "H":
                # PayTrace answers a check it cannot manage as one it cannot find [C: the text says so].
                raise ApiError.one(codes.E_CHECK_NOT_FOUND, codes.CHECK_NOT_MANAGEABLE)
            txn.funded = True
        return _answer(124, codes.MSG_CHECK_MANAGED, check_id)

    def void(self, check_id: int) -> dict[str, Any]:
        """[I] Only a held check or one pending settlement can be voided, as for cards."""
        with self._lock:
            txn = self._get(check_id, codes.CHECK_NOT_MANAGEABLE)
            if txn.status_code not in ("H", "Y"):
                raise ApiError.one(codes.E_CHECK_NOT_FOUND, codes.CHECK_NOT_MANAGEABLE)
            txn.voided = True
            if txn.kind == REFUND and txn.original_id in self._checks:
                self._checks[txn.original_id].refunded -= txn.amount
        return _answer(124, codes.MSG_CHECK_MANAGED, check_id)

    def refund(self, check_id: int, amount: Decimal | None, from_ip: str) -> dict[str, Any]:
        """[I] A settled, unreturned debit can be refunded, in part, up to what remains."""
        with self._lock:
            original = self._get(check_id)
            if original.status_code != "S" or original.kind == REFUND:
                raise ApiError.one(codes.E_CHECK_NOT_REFUNDABLE, codes.check_not_refundable(check_id))
            remaining = original.amount - original.refunded
            amount = remaining if amount is None else amount
            if remaining <= 0 or amount > remaining:
                raise ApiError.one(codes.E_AMOUNT,
                                   f"Please provide a valid Amount. At most {remaining:f} "
                                   f"remains refundable on Check ID {check_id}.")
            refund = replace(original, id=self._new_id(), kind=REFUND, amount=amount,
                             billing=dict(original.billing), created_at=self._now(), from_ip=from_ip,
                             ach_code=0, ach_message="", funded=False, voided=False,
                             settled_at=None, returned_at=None, original_id=original.id,
                             refunded=Decimal("0.00"), link_exported=self.refund_links)
            original.refunded += amount
            self._checks[refund.id] = refund
        return _answer(122, codes.MSG_CHECK_REFUNDED, refund.id)

    # ----- sandbox controls ---------------------------------------------------------------
    def settle(self) -> list[int]:
        """Settle every check pending settlement now; their ids. (No batch: see the module doc.)"""
        with self._lock:
            now = self._now()
            pending = sorted(c.id for c in self._checks.values() if c.status_code == "Y")
            for check_id in pending:
                self._checks[check_id].settled_at = now
            return pending

    def mark_returned(self, check_id: int, ach_code: int, ach_message: str) -> dict[str, Any]:
        """An ACH return arriving later (NSF, closed account...) on a processed check."""
        with self._lock:
            txn = self._get(check_id)
            if txn.status_code not in ("Y", "S"):
                raise ValueError(f"check {check_id} is {STATUS_MESSAGES[txn.status_code]}: "
                                 "only a pending or settled check can be returned")
            txn.returned_at = self._now()
            txn.ach_code, txn.ach_message = ach_code, ach_message
            return txn.export()

    # ----- exports ------------------------------------------------------------------------
    def export_by_id(self, check_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [self._get(check_id).export()]

    def export_range(self, start: date, end: date, customer_id: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [c.export() for c in sorted(self._checks.values(), key=lambda c: c.id)
                    if start <= pacific_date(c.created_at) <= end
                    and (not customer_id or c.customer_id == customer_id)]

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c.export() for c in sorted(self._checks.values(), key=lambda c: c.id)]
