"""The pure rules of nightly reconciliation: what a finding is, what a batch adds up to, the journal.

No I/O here (like flows/documents.py for the sale): flows/settlement.py runs the steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, NamedTuple
from zoneinfo import ZoneInfo

from schemas.domain import ErpDocument, JournalEntry, JournalLine
from schemas.paytrace import TRANSACTION_TYPES, record_brand

CENT = Decimal("0.01")

# -- what a finding can be -------------------------------------------------------------------
MATCHED = "matched"
MISSING = "missing_in_erp"
AMOUNT = "amount_mismatch"
STATUS = "status_mismatch"
UNKNOWN = "unknown_to_paytrace"
REFUND = "refund"
VOID = "void"
TOTALS = "batch_total_mismatch"
SETTLEMENT = "settlement_not_posted"
SETTLES_LATER = "settles_later"  # an ERP receipt of the day that PayTrace settles in another batch
EXCEPTIONS = frozenset({MISSING, AMOUNT, STATUS, UNKNOWN, REFUND, VOID, TOTALS, SETTLEMENT})
CLASSES = (MATCHED, MISSING, AMOUNT, STATUS, UNKNOWN, REFUND, VOID, TOTALS, SETTLEMENT, SETTLES_LATER)

#: What the ERP must hold for a settled sale: the receipt, and the journal moving it to clearing.
SALE_DOCUMENTS = ("payment", "journal")


@dataclass(frozen=True)
class Fees:
    """Processor fees taken from the deposit, if the merchant configures them (none by default)."""

    rate: Decimal = Decimal("0")  # of the batch's sales amount
    fixed: Decimal = Decimal("0")  # per settled transaction
    account: str = ""

    def of(self, sales_amount: Decimal, count: int) -> Decimal:
        return (self.rate * sales_amount + self.fixed * count).quantize(CENT)


class Settled(NamedTuple):
    """One transaction of a settled batch, as far as reconciliation cares (a tuple: a million are made)."""

    transaction_id: int
    kind: str  # SALE, REFUND, VOID, AUTHORIZATION (captured), ...
    amount: Decimal
    batch: int
    original_id: int | None = None
    brand: str = "UNKNOWN"  # VISA, ..., ACH: whose clearing account the money passed through


def money(value: Any) -> Decimal:
    """PayTrace amounts arrive as JSON numbers (Decimal when streamed, float from a parsed body)."""
    try:
        # A Decimal reads the same through str(): skip the round trip (a million a night).
        return (value if type(value) is Decimal else Decimal(str(value))).quantize(CENT)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not an amount: {value!r}") from None


#: The fields of a batches/transaction_list record reconciliation reads [C: transaction records,
#: paytrace.md §3]. A record without one is an error, never a zero (docs/fidelity.md).
RECORD_FIELDS = ("transaction_id", "transaction_type", "amount")
#: Every field of a record `settled_from` reads (record_brand: `check`, `credit_card`): a record holding
#: only these reads the same as the whole record (flows/settlement_stage.py streams just these).
READ_FIELDS = RECORD_FIELDS + ("original_transaction_id", "check", "credit_card")
#: The export types (schemas.paytrace) a settled batch may hold; anything else leaves its totals unknown.
SETTLED_TYPES = frozenset(TRANSACTION_TYPES) - {"DECLINED"}


def settled_from(record: dict, batch: int) -> Settled:
    """One record of a settled batch; KeyError/ValueError naming the field when it cannot be read."""
    get = record.get
    txn_id, kind, amount = get("transaction_id"), get("transaction_type"), get("amount")
    if txn_id is None or txn_id == "" or kind is None or kind == "" or amount is None or amount == "":
        raise KeyError(f"no {', '.join(f for f in RECORD_FIELDS if get(f) in (None, ''))}")
    if type(kind) is not str or kind not in SETTLED_TYPES:  # (already the canonical spelling: as it is)
        kind = str(kind).strip().upper()
        if kind not in SETTLED_TYPES:
            raise ValueError(f"transaction_type {kind!r} is not one a settled batch holds")
    original = get("original_transaction_id")
    return Settled(int(txn_id), kind, money(amount), batch,
                   int(original) if original and str(original).isdigit() else None, record_brand(record))


@dataclass
class BatchSums:
    """What a batch adds up to, derived from its transactions (batches/transaction_list).

    PayTrace's batch export confirms only `number` [C]: the totals are these sums, and a record that
    could not be read makes them unknown (`unreadable`), never smaller."""

    count: int = 0
    sales_count: int = 0
    sales_amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_amount: Decimal = Decimal("0.00")
    unreadable: int = 0
    #: Net by brand (sales - refunds): what the settlement takes out of each brand's clearing account.
    by_brand: dict[str, Decimal] = field(default_factory=dict)

    def add(self, t: Settled) -> None:
        self.add_many(t.kind, t.brand, 1, t.amount)

    def add_many(self, kind: str, brand: str, count: int, amount: Decimal) -> None:
        """`count` transactions of one kind and brand, `amount` together (a database's group of them)."""
        self.count += count
        if kind == "REFUND":
            self.refund_count += count
            self.refund_amount += amount
            self.by_brand[brand] = self.by_brand.get(brand, Decimal("0.00")) - amount
        elif kind != "VOID":  # a void moves no money (and is an exception of its own)
            self.sales_count += count
            self.sales_amount += amount
            self.by_brand[brand] = self.by_brand.get(brand, Decimal("0.00")) + amount

    @property
    def net(self) -> Decimal:
        return self.sales_amount - self.refund_amount

    def as_dict(self) -> dict[str, str | int]:
        return {"transaction_count": self.count, "sales_count": self.sales_count,
                "sales_amount": str(self.sales_amount), "refund_count": self.refund_count,
                "refund_amount": str(self.refund_amount), "net_amount": str(self.net),
                "unreadable": self.unreadable, "by_brand": {b: str(v) for b, v in sorted(self.by_brand.items())}}


def derived_totals(items: dict | None) -> tuple[Decimal, Decimal, int] | str:
    """(net, sales amount, count) a batch's settlement journal is posted from, or why it cannot be."""
    if not items:
        return "its transactions were not read (batches/transaction_list)"
    if int(items.get("unreadable") or 0):
        return f"{items['unreadable']} of its transaction records could not be read: its totals are unknown"
    return money(items["net_amount"]), money(items["sales_amount"]), int(items["transaction_count"])


TOTAL_FIELDS = ("transaction_count", "sales_count", "sales_amount", "refund_count", "refund_amount", "net_amount")


def total_differences(paytrace: dict, items: dict) -> list[str]:
    """Each batch total PayTrace reports that the items do not add up to, as `field: said vs summed`."""
    out = []
    for name in TOTAL_FIELDS:
        if name not in paytrace:
            continue  # a key PayTrace did not send ([I] names) is not a mismatch
        said, summed = paytrace[name], items[name]
        if "amount" in name:
            said, summed = money(said), money(summed)
        else:
            said, summed = int(said), int(summed)
        if said != summed:
            out.append(f"{name}: PayTrace {said}, items {summed}")
    if {"sales_amount", "refund_amount", "net_amount"} <= set(paytrace):
        inner = money(paytrace["sales_amount"]) - money(paytrace["refund_amount"])
        if inner != money(paytrace["net_amount"]):
            out.append(f"net_amount {money(paytrace['net_amount'])} is not sales - refunds ({inner})")
    return out


@dataclass(frozen=True)
class LedgerView:
    """Our sync run of one transaction and the ERP keys its steps recorded."""

    run_id: int
    status: str
    current_step: str | None
    last_error: str | None
    steps: dict[str, str | None]  # done step -> ERP key
    note: str | None = None  # what a person reads about why the run finished as it did


@dataclass(frozen=True)
class Verdict:
    """How one settled transaction compares; `then` says what to do about it."""

    item_class: str
    found: Decimal | None
    detail: str
    then: str  # nothing | repair (send its sync) | wait (its sync is running) | review


def asks_on_account(t: Settled, payments: list[ErpDocument]) -> bool:
    """Whether a sale's receipt on account (PT<id>-OA) counts: its receipt is missing, or applied in
    part (flows/matching.py writes the rest on account)."""
    return t.kind not in ("REFUND", "VOID") and (
        not payments or (payments[0].amount is not None and payments[0].amount != t.amount))


def classify(t: Settled, ledger: LedgerView | None, docs: dict[str, list[ErpDocument]],
             reference: Callable[[int, str], str]) -> Verdict:
    """Compare one settled transaction with our ledger and what the ERP holds for its references.

    `reference(transaction_id, step)` is the mapping's reference of a document (flows/documents.py).
    """
    synced = ledger is not None and ledger.status == "succeeded"
    if t.kind == "REFUND":
        if synced:
            return Verdict(MATCHED, t.amount, f"refund posted by run {ledger.run_id}", "nothing")
        of = f" of PT{t.original_id}" if t.original_id else ""
        return Verdict(REFUND, None, f"refund{of} for {t.amount} settled; not posted by paysync's sale flow",
                       "review")
    if t.kind == "VOID":
        return Verdict(VOID, None, f"a void for {t.amount} settled in the batch", "review")
    payments, journals = docs.get("payment", []), docs.get("journal", [])
    # A payment applied in part (an overpayment) or not at all (unapplied cash) has its receipt on
    # account, PT<id>-OA: the receipts together carry what PayTrace settled.
    unapplied = docs.get("on_account", [])
    for kind, found_docs in (("payment", payments), ("on_account", unapplied), ("journal", journals)):
        if len(found_docs) > 1:
            return Verdict(STATUS, found_docs[0].amount,
                           f"{len(found_docs)} documents carry {reference(t.transaction_id, kind)}", "review")
    received = [d for d in payments + unapplied if d.amount is not None]
    found = sum((d.amount for d in received), Decimal("0.00")) if received else None
    if found is not None and found != t.amount:
        refs = " + ".join(d.reference for d in received)
        return Verdict(AMOUNT, found, f"receipt {refs} is {found}, PayTrace settled {t.amount}", "review")
    if journals and journals[0].amount is not None and journals[0].amount != t.amount:
        return Verdict(AMOUNT, journals[0].amount, f"journal {reference(t.transaction_id, 'journal')} is "
                                                   f"{journals[0].amount}, PayTrace settled {t.amount}", "review")
    missing = [reference(t.transaction_id, kind) for kind in SALE_DOCUMENTS
               if not docs.get(kind) and not (kind == "payment" and unapplied)]
    if not missing:
        note = "" if ledger is not None else "in the ERP, but no sync run of ours"
        return Verdict(MATCHED, found, note, "nothing")
    absent = ", ".join(missing)
    if ledger is None:
        return Verdict(MISSING, found, f"{absent} not in the ERP and never synced", "repair")
    if ledger.status in ("pending", "running"):
        return Verdict(MISSING, found, f"{absent} not yet in the ERP; run {ledger.run_id} is at "
                                       f"{ledger.current_step or 'its start'}", "wait")
    if ledger.status == "dead":
        return Verdict(MISSING, found, f"{absent} not in the ERP; run {ledger.run_id} was dead-lettered at "
                                       f"{ledger.current_step}: {(ledger.last_error or '')[:300]}", "review")
    if ledger.status == "skipped":
        return Verdict(STATUS, found, f"our run {ledger.run_id} skipped it ({ledger.note or 'declined'}) "
                                      f"but PayTrace settled it", "review")
    keys = ", ".join(f"{k}={v}" for k, v in sorted(ledger.steps.items()))
    return Verdict(MISSING, found, f"{absent} not in the ERP although run {ledger.run_id} recorded them "
                                   f"({keys}): removed in the ERP?", "review")


def settlement_entry(batch: int, day: date, net: Decimal, fees: Decimal, *, bank: str,
                     clearing: dict[str, Decimal], fee_account: str = "") -> JournalEntry:
    """Dr bank (the deposit) and fees, Cr each clearing account what the batch's sales put there.

    `clearing` is account -> net amount that passed through it (flows/settlement_journal.py sums the
    brands that share an account); the credits add up to `net`, so the journal balances."""
    if sum(clearing.values(), Decimal("0")) != net:
        raise ValueError(f"batch {batch}: clearing amounts {clearing} do not add up to the net {net}")
    text = f"PayTrace batch {batch} settlement"
    lines = [JournalLine(bank, net - fees, f"{text}: deposit")]
    if fees:
        lines.append(JournalLine(fee_account, fees, f"{text}: processing fees"))
    lines.extend(JournalLine(account, -amount, f"{text}: card clearing")
                 for account, amount in sorted(clearing.items()) if amount)
    return JournalEntry(settlement_reference(batch), day, text, tuple(lines))


def settlement_reference(batch: int) -> str:
    return f"PTB{batch}-SET"


def subject_reference(subject: str) -> str:
    """The reference a person searches for: PT<txn>, PTB<batch>, PTB<batch>-SET, or an ERP document's key."""
    tag, rest = subject[0], subject[1:]
    return {"T": f"PT{rest}", "B": f"PTB{rest}", "J": f"PTB{rest}-SET", "E": rest}.get(tag, subject)


def day_for(now: datetime, timezone: str, hour: int, minute: int, days_back: int = 0) -> date:
    """The merchant-local day a scheduled run reconciles: the date its scheduled time fell on.

    Read from the schedule, not from the wall clock, so a run delayed past midnight (still inside
    its expiry) reconciles the day it was meant for.
    """
    local = now.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=hour, minutes=minute)).date() - timedelta(days=days_back)
