"""In-memory PayTrace account: tokens, transactions and their state machine, vault, batches."""
from __future__ import annotations

import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from . import codes
from .answers import Answers
from .checks import CheckLedger
from .codes import ApiError
from .formats import Streamed, masked_response, pacific_date
from .records import AUTHORIZATION, REFUND, SALE, Batch, Card, Customer, Txn

Clock = Callable[[], datetime]


def _real_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Payment:
    """A validated sale/authorization request; holds the masked card, never the number."""

    amount: Decimal
    card: Card
    csc_given: bool
    billing: dict[str, str]
    shipping: dict[str, str]
    invoice_id: str = ""
    description: str = ""
    email: str = ""
    tax_amount: Decimal | None = None
    customer_reference_id: str = ""
    customer_id: str = ""
    discretionary_data: dict[str, Any] = field(default_factory=dict)
    keyed: bool = True  # by_customer responses carry no masked_card_number [C] VCR


@dataclass
class _Token:
    expires_at: datetime
    revoked: bool = False


def generated_amount(txn_id: int, refund_of: Decimal | None = None) -> Decimal:
    """The amount `generate` gives a transaction: 1.00..500.99 from its id; a refund, half its sale."""
    if refund_of is not None:
        return (refund_of / 2).quantize(Decimal("0.01"))
    return Decimal((txn_id * 7919) % 50000 + 100) / 100


class PayTraceState:
    """The whole simulated account behind one lock, so the threaded server stays consistent."""

    def __init__(self, username: str = "demo", password: str = "demo",
                 integrator_id: str = "PAYSYNC1", clock: Clock | None = None,
                 token_ttl: int = 7200, first_transaction_id: int = 100000000,
                 first_batch_number: int = 1, seed: int | None = None,
                 first_check_id: int | None = None, answers: dict[str, Any] | None = None,
                 refund_links: bool = False) -> None:
        self._answer_defaults = dict(answers or {})
        Answers().update(self._answer_defaults)  # refuse a bad setting at start, not at the first reset
        self.username = username
        self.password = password
        self.integrator_id = integrator_id
        self.token_ttl = token_ttl
        self.first_transaction_id = first_transaction_id
        self.first_batch_number = first_batch_number
        # Check ids start where card ids do unless told otherwise: the overlap is deliberate.
        self.first_check_id = first_transaction_id if first_check_id is None else first_check_id
        #: Whether refunds export the invented link to their sale (original_transaction_id).
        self.refund_links = refund_links
        self._base_clock: Clock = clock or _real_now
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._clock_offset = timedelta(0)
        self._tokens: dict[str, _Token] = {}
        self.reset()

    # ----- housekeeping -------------------------------------------------------------------
    def reset(self, keep_tokens: bool = False) -> None:
        """Forget every transaction, customer and batch (and tokens, unless kept)."""
        with self._lock:
            self._txns: dict[int, Txn] = {}
            self._customers: dict[str, Customer] = {}
            self._batches: dict[int, Batch] = {}
            self._next_txn_id = self.first_transaction_id
            self._next_batch = self.first_batch_number
            self.checks = CheckLedger(self._lock, self.now, self.username, self.first_check_id)
            self.checks.refund_links = self.refund_links
            self._requests: Counter[str] = Counter()
            self._token_grants = 0
            self._token_failures = 0
            self._faults = {"error_rate": 0.0, "latency_ms": 0}
            self.answers = Answers(**self._answer_defaults)
            if not keep_tokens:
                self._tokens = {}
                self._clock_offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            moment = self._base_clock()
            if moment.tzinfo is None:
                raise ValueError("the sandbox clock must return an aware datetime")
            return moment.astimezone(timezone.utc) + self._clock_offset

    def advance(self, seconds: float) -> datetime:
        """Move the simulated clock forward (never back, so tokens and batches stay ordered)."""
        if seconds < 0:
            raise ValueError("advance_seconds must not be negative")
        with self._lock:
            self._clock_offset += timedelta(seconds=seconds)
            return self.now()

    def count_request(self, path: str) -> None:
        with self._lock:
            self._requests[path] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self._requests), "total_requests": sum(self._requests.values()),
                    "token_grants": self._token_grants, "token_failures": self._token_failures,
                    "active_tokens": sum(1 for t in self._tokens.values() if self._live(t))}

    def set_faults(self, error_rate: float | None = None, latency_ms: int | None = None) -> dict:
        with self._lock:
            if error_rate is not None:
                if not 0 <= error_rate <= 1:
                    raise ValueError("error_rate must be within 0..1")
                self._faults["error_rate"] = float(error_rate)
            if latency_ms is not None:
                if latency_ms < 0:
                    raise ValueError("latency_ms must not be negative")
                self._faults["latency_ms"] = int(latency_ms)
            return dict(self._faults)

    def fault_decision(self) -> tuple[int, bool]:
        """(latency in ms, whether to fail) for one /v1 request."""
        with self._lock:
            rate = self._faults["error_rate"]
            return self._faults["latency_ms"], rate > 0 and self._rng.random() < rate

    # ----- OAuth --------------------------------------------------------------------------
    def grant_token(self, username: str, password: str) -> dict[str, Any] | None:
        """A Doorkeeper-style password grant; None when the credentials are wrong."""
        with self._lock:
            if not (secrets.compare_digest(username, self.username)
                    and secrets.compare_digest(password, self.password)):
                self._token_failures += 1
                return None
            now = self.now()
            # Drop long-dead tokens so a busy client cannot grow the table without bound.
            horizon = now - timedelta(days=1)
            self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > horizon}
            token = ":".join(secrets.token_hex(n) for n in (16, 16, 32))  # hex:hex:hex [C]
            self._tokens[token] = _Token(expires_at=now + timedelta(seconds=self.token_ttl))
            self._token_grants += 1
            return {"access_token": token, "token_type": "Bearer",
                    "expires_in": self.token_ttl, "created_at": int(now.timestamp())}

    def _live(self, token: _Token) -> bool:
        return not token.revoked and self.now() < token.expires_at

    def check_token(self, token: str) -> str | None:
        """None if usable, else "invalid" or "expired"."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return "invalid"
            return None if self._live(found) else "expired"

    def expire_tokens(self) -> int:
        with self._lock:
            live = [t for t in self._tokens.values() if self._live(t)]
            for token in live:
                token.revoked = True
            return len(live)

    # ----- transactions -------------------------------------------------------------------
    def _new_id(self) -> int:
        txn_id = self._next_txn_id
        self._next_txn_id += 1
        return txn_id

    def _get(self, txn_id: int) -> Txn:
        txn = self._txns.get(txn_id)
        if txn is None:
            raise ApiError.one(codes.E_NOT_FOUND)
        return txn

    def create_payment(self, kind: str, payment: Payment, from_ip: str) -> tuple[int, dict]:
        """Run a sale or authorization; (HTTP status, response body). Declines get an id too."""
        assert kind in (SALE, AUTHORIZATION)
        decline = codes.DECLINE_TRIGGERS.get(f"{payment.amount:f}")
        with self._lock:
            txn_id = self._new_id()
            csc = "Match" if payment.csc_given else ""
            if decline:
                approval = ("", decline, "0")
            elif self._avs_exact(payment.billing):
                approval = (self._approval_code(txn_id), codes.APPROVED_EXACT, "Full Exact Match")
            else:
                approval = (self._approval_code(txn_id), codes.APPROVED_NO_MATCH, "No Match")
            txn = Txn(
                id=txn_id, kind=kind, amount=payment.amount, card=payment.card,
                approved=not decline, approval_code=approval[0], approval_message=approval[1],
                avs_response=approval[2], csc_response=csc, billing=payment.billing,
                shipping=payment.shipping, created_at=self.now(), created_by=self.username,
                from_ip=from_ip, invoice_id=payment.invoice_id, description=payment.description,
                email=payment.email, tax_amount=payment.tax_amount,
                customer_reference_id=payment.customer_reference_id,
                customer_id=payment.customer_id, discretionary_data=payment.discretionary_data)
            self._txns[txn_id] = txn
        body: dict[str, Any] = {
            "success": not decline,
            "response_code": 102 if decline else 101,
            "status_message": codes.MSG_DECLINED if decline else codes.MSG_APPROVED,
            "transaction_id": txn_id,
            "approval_code": txn.approval_code,
            "approval_message": txn.approval_message,
            "avs_response": txn.avs_response,
            "csc_response": txn.csc_response,
            "external_transaction_id": "",
        }
        # Keyed answers carry the masked number, approved or declined [C] (VCR; AM's recorded
        # failed_purchase/failed_authorize); by_customer, by_transaction and swiped ones do not [C].
        if payment.keyed:
            body["masked_card_number"] = masked_response(payment.card.last4)
        if payment.discretionary_data:
            body["discretionary_data"] = payment.discretionary_data  # echoed [C] AM2
        return (400 if decline else 200), body  # [I] declines as HTTP 400

    @staticmethod
    def _approval_code(txn_id: int) -> str:
        # "TAS" + 3 digits [C]; derived from the id so a replayed export stays identical.
        return f"TAS{(txn_id * 389) % 900 + 100}"

    @staticmethod
    def _avs_exact(billing: dict[str, str]) -> bool:
        # [C] sandbox answers "Full Exact Match" for street 8320 / zip 85284.
        return "8320" in billing.get("street_address", "") and \
            billing.get("zip", "").startswith("85284")

    def capture(self, txn_id: int, amount: Decimal | None) -> dict[str, Any]:
        with self._lock:
            txn = self._get(txn_id)
            if not txn.uncaptured_auth:
                raise ApiError.one(codes.E_NOT_CAPTURABLE, codes.NOT_CAPTURABLE)
            if amount is not None and amount > txn.amount:
                # [I] capturing more than was authorized is refused with the amount error.
                raise ApiError.one(codes.E_AMOUNT)
            if amount is not None:
                txn.amount = amount  # [I] the record then shows the captured amount
            txn.captured = True
        return {"success": True, "response_code": 112, "status_message": codes.MSG_CAPTURED,
                "transaction_id": txn_id, "external_transaction_id": ""}

    def void(self, txn_id: int) -> dict[str, Any]:
        with self._lock:
            txn = self._get(txn_id)
            if not (txn.pending or txn.uncaptured_auth):
                raise ApiError.one(codes.E_NOT_VOIDABLE, codes.NOT_VOIDABLE)
            txn.voided = True
            if txn.kind == REFUND and txn.original_id in self._txns:
                # A voided refund gives its amount back to the sale's refundable balance.
                self._txns[txn.original_id].refunded -= txn.amount
        # No external_transaction_id on voids [C].
        return {"success": True, "response_code": 109, "status_message": codes.MSG_VOIDED,
                "transaction_id": txn_id}

    def refund(self, txn_id: int, amount: Decimal | None, from_ip: str) -> dict[str, Any]:
        with self._lock:
            original = self._get(txn_id)
            settled = original.status_code.startswith("GB")
            if not settled or original.kind == REFUND:
                # [I] refunding a refund is refused with the same key as an unsettled sale.
                raise ApiError.one(codes.E_NOT_REFUNDABLE, codes.NOT_REFUNDABLE)
            remaining = original.amount - original.refunded
            amount = remaining if amount is None else amount
            if remaining <= 0 or amount > remaining:
                # [I] partial refunds are capped at what is left; the key is invented.
                raise ApiError.one(codes.E_AMOUNT,
                                   f"Please provide a valid Amount. At most {remaining:f} "
                                   f"remains refundable on Transaction ID {txn_id}.")
            refund = replace(
                original, id=self._new_id(), kind=REFUND, amount=amount,
                billing=dict(original.billing), shipping=dict(original.shipping),
                approval_code="", approval_message="", avs_response="", csc_response="",
                created_at=self.now(), from_ip=from_ip, tax_amount=None, captured=False,
                voided=False, batch_number=None, settled_at=None, original_id=original.id,
                refunded=Decimal("0.00"), discretionary_data={}, link_exported=self.refund_links)
            original.refunded += amount
            self._txns[refund.id] = refund
        # The recorded refund of a transaction has these five fields, no masked number [C] (AM fixture);
        # only a keyed refund, to a card, echoes it (keyed_refund).
        return {"success": True, "response_code": 106, "status_message": codes.MSG_REFUNDED,
                "transaction_id": refund.id, "external_transaction_id": ""}

    def keyed_refund(self, payment: Payment, from_ip: str) -> dict[str, Any]:
        """An unreferenced refund to a card: a REFUND of its own, pending settlement like a sale."""
        with self._lock:
            txn = Txn(id=self._new_id(), kind=REFUND, amount=payment.amount, card=payment.card, approved=True,
                      approval_code="", approval_message="", avs_response="", csc_response="",
                      billing=payment.billing, shipping=payment.shipping, created_at=self.now(),
                      created_by=self.username, from_ip=from_ip, invoice_id=payment.invoice_id,
                      description=payment.description, email=payment.email,
                      customer_reference_id=payment.customer_reference_id)
            self._txns[txn.id] = txn
        # The fields DEMO's KeyedRefundJson reads [C].
        return {"success": True, "response_code": 106, "status_message": codes.MSG_REFUNDED,
                "transaction_id": txn.id, "external_transaction_id": "",
                "masked_card_number": masked_response(payment.card.last4)}

    def transaction_copy(self, txn_id: int) -> Txn:
        """A copy of one transaction (what a by_transaction sale reuses), or 811."""
        with self._lock:
            return replace(self._get(txn_id))

    def add_level_three(self, txn_id: int, brand: str, data: dict[str, Any]) -> int:
        """Keep level 3 data on an approved transaction not settled yet; the number of line items.

        [I] a settled, voided or declined one answers 811's "not found" family as 818 does for voids,
        and a card of another brand than the endpoint's is refused the same way."""
        with self._lock:
            txn = self._get(txn_id)
            usable = txn.approved and not txn.voided and txn.batch_number is None
            if not usable or (txn.card is not None and txn.card.brand != brand):
                raise ApiError.one(codes.E_TRANSACTION_ID)
            txn.level_three = dict(data)
            return len(data.get("line_items") or [])

    def settle(self) -> dict[str, Any]:
        """Close every pending (`Y`) transaction into one new batch."""
        with self._lock:
            pending = sorted(t.id for t in self._txns.values() if t.pending)
            if not pending:
                # [I] what PayTrace answers with nothing to settle was not found.
                return {"success": True, "response_code": 175,
                        "status_message": codes.MSG_SETTLED, "batch_number": None,
                        "transaction_count": 0}
            now = self.now()
            batch = Batch(number=self._next_batch, created_at=now, txn_ids=pending)
            self._next_batch += 1
            self._batches[batch.number] = batch
            for txn_id in pending:
                self._txns[txn_id].batch_number = batch.number
                self._txns[txn_id].settled_at = now
        # [I] the key carrying the batch number in the 175 answer was not found.
        return {"success": True, "response_code": 175, "status_message": codes.MSG_SETTLED,
                "batch_number": batch.number, "transaction_count": len(pending)}

    # ----- exports ------------------------------------------------------------------------
    def export_by_id(self, txn_id: int, include_bin: bool) -> list[dict[str, Any]]:
        with self._lock:
            return [self.answers.record(self._get(txn_id).export(include_bin))]

    def export_range(self, start: date, end: date, include_bin: bool,
                     keep: Callable[[Txn], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [self.answers.record(t.export(include_bin)) for t in sorted(self._txns.values(), key=lambda t: t.id)
                    if start <= pacific_date(t.created_at) <= end and keep(t)]

    def batches_in_range(self, start: date, end: date) -> list[dict[str, Any]]:
        with self._lock:
            return [b.export(self._txns, self.answers.batch_totals)
                    for b in sorted(self._batches.values(), key=lambda b: b.number)
                    if start <= pacific_date(b.created_at) <= end]

    def _batch(self, number: Any) -> Batch:
        batch = self._batches.get(number) if isinstance(number, int) else None
        if batch is None:
            raise ApiError.one(codes.E_BATCH_NOT_FOUND, codes.batch_not_found(number))
        return batch

    def batch_one(self, number: int | None) -> dict[str, Any]:
        with self._lock:
            if number is not None:
                return self._batch(number).export(self._txns, self.answers.batch_totals)
            if self._batches:
                return self._batches[max(self._batches)].export(self._txns, self.answers.batch_totals)
            # [I] with no batch yet, report what is pending, numberless.
            pending = Batch(number=0, created_at=self.now(),
                            txn_ids=sorted(t.id for t in self._txns.values() if t.pending))
            return {**pending.export(self._txns, self.answers.batch_totals), "number": None}

    def batch_transactions(self, number: int, include_bin: bool) -> Streamed:
        """The batch's records, rendered a thousand at a time under the lock, never all at once."""
        with self._lock:
            ids = self._batch(number).txn_ids  # fixed once the batch closed

        def chunks():
            for start in range(0, len(ids), 1000):
                with self._lock:
                    part = [self.answers.record(self._txns[i].export(include_bin))
                            for i in ids[start:start + 1000]]
                yield part

        return Streamed(chunks)

    def generate(self, count: int, batches: int = 1, refund_every: int = 0,
                 created_at: datetime | None = None) -> dict[str, Any]:
        """Sandbox only: `count` approved, settled transactions in `batches` new batches, created now
        (or at `created_at`, an aware time at or before now: a day that has passed, for a poller bench).

        Amounts follow the id (`generated_amount`) so a benchmark can know them without asking.
        Generated sales share their card and address objects, to keep a million of them small.
        """
        if count < 1 or batches < 1 or batches > count or refund_every < 0:
            raise ValueError("need count >= batches >= 1 and refund_every >= 0")
        amounts: dict[Decimal, Decimal] = {}  # one object per distinct amount
        card = Card(bin6="401200", last4="5439", length=16, brand="VISA", exp_month=12, exp_year=2030)
        billing = {"name": "Bench Customer", "street_address": "8320 E Main St", "street_address2": "",
                   "city": "Spokane", "state": "WA", "zip": "85284", "country": "US"}
        shipping = {key: "" for key in ("name", "street_address", "street_address2", "city", "county", "state",
                                        "zip", "country")}
        no_extra: dict[str, Any] = {}
        with self._lock:
            now = self.now()
            if created_at is not None:
                if created_at.tzinfo is None or created_at > now:
                    raise ValueError("created_at must be an aware time, not after the sandbox's now")
                now = created_at
            first_batch = self._next_batch
            per_batch = -(-count // batches)
            made = 0
            for b in range(batches):
                batch = Batch(number=self._next_batch, created_at=now, txn_ids=[])
                self._next_batch += 1
                previous: Txn | None = None
                for _ in range(min(per_batch, count - made)):
                    txn_id = self._new_id()
                    refund = bool(refund_every) and previous is not None and made % refund_every == refund_every - 1
                    amount = generated_amount(txn_id, refund_of=previous.amount if refund else None)
                    amount = amounts.setdefault(amount, amount)
                    txn = Txn(id=txn_id, kind=REFUND if refund else SALE, amount=amount, card=card, approved=True,
                              approval_code="" if refund else self._approval_code(txn_id),
                              approval_message="" if refund else codes.APPROVED_EXACT,
                              avs_response="" if refund else "Full Exact Match", csc_response="",
                              billing=billing, shipping=shipping, created_at=now, created_by=self.username,
                              from_ip="127.0.0.1", invoice_id="", description="", email="",
                              discretionary_data=no_extra, batch_number=batch.number, settled_at=now,
                              original_id=previous.id if refund else None)
                    if refund:
                        previous.refunded += amount
                    self._txns[txn_id] = txn
                    batch.txn_ids.append(txn_id)
                    previous = None if refund else txn
                    made += 1
                self._batches[batch.number] = batch
        return {"count": count, "batches": list(range(first_batch, self._next_batch)),
                "first_transaction_id": self._next_txn_id - count, "last_transaction_id": self._next_txn_id - 1}

    # ----- vault --------------------------------------------------------------------------
    def add_customer(self, customer: Customer) -> None:
        with self._lock:
            if customer.customer_id in self._customers:
                raise ApiError.one(codes.E_DUPLICATE_CUSTOMER)
            self._customers[customer.customer_id] = customer

    def customer(self, customer_id: str) -> Customer:
        """A copy of the profile, so a caller cannot mutate the vault outside the lock."""
        with self._lock:
            found = self._customers.get(customer_id)
            if found is None:
                raise ApiError.one(codes.E_CUSTOMER_NOT_FOUND, codes.customer_not_found(customer_id))
            return replace(found)

    def update_customer(self, customer_id: str, mutate: Callable[[Customer], None]) -> Customer:
        """Apply `mutate` to a copy under the lock, then store it: no lost concurrent updates."""
        with self._lock:
            updated = self.customer(customer_id)
            mutate(updated)
            self._customers[customer_id] = updated
            return replace(updated)

    def delete_customer(self, customer_id: str) -> Customer:
        with self._lock:
            found = self.customer(customer_id)
            del self._customers[customer_id]
            return found

    def export_customers(self, customer_id: str | None) -> list[dict[str, Any]]:
        with self._lock:
            if customer_id is not None:
                return [self.customer(customer_id).export()]
            return [c.export() for c in self._customers.values()]

    # ----- admin view ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the account holds, masked as stored (BIN + last four at most)."""
        with self._lock:
            txns = []
            for txn in sorted(self._txns.values(), key=lambda t: t.id):
                record = txn.export(include_bin=True)
                record["sandbox"] = {"kind": txn.kind, "batch_number": txn.batch_number,
                                     "refunded_amount": txn.refunded,
                                     "card_brand": txn.card.brand if txn.card else "",
                                     "original_transaction_id": txn.original_id}
                txns.append(record)
            return {"now": self.now().isoformat(), "transactions": txns,
                    "customers": [c.export() for c in self._customers.values()],
                    "batches": [b.export(self._txns, True) for b in self._batches.values()],
                    "checks": self.checks.snapshot(),
                    "next_transaction_id": self._next_txn_id, "next_batch_number": self._next_batch,
                    "next_check_transaction_id": self.checks.next_id}
