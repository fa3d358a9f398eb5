"""The ERP stand-in of bench/reconcile.py (figure p4): the day's receipts and journals by the generator's rule.

It lists what the PayTrace sandbox's `generate` made (a receipt and a journal per sale, but for one
sale in MISSING_EVERY, and one receipt in WRONG_EVERY a dollar off) and answers `find` by the same
rule: paysync's reconciliation is what the bench measures, so the stand-in is made cheap, and what
it still costs is measured alone before the clock and taken off (`listing_cpu_seconds`).
"""
from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Callable

BATCHES, REFUND_EVERY, MISSING_EVERY, WRONG_EVERY = 4, 100, 1000, 997
FIRST_ID = 100000000


# -- the generator's rule, as the ERP stand-in and the seeding need it -------------------------
#: Every amount the generator makes (sandbox/paytrace/state.generated_amount), and a wrong one a dollar above.
AMOUNTS = [Decimal(cents) / 100 for cents in range(50300)]

def is_refund(txn_id: int) -> bool:
    """`generate` makes every REFUND_EVERY-th transaction a refund (batches are multiples of it)."""
    return (txn_id - FIRST_ID) % REFUND_EVERY == REFUND_EVERY - 1


def bench_erp(day: date, count: int):
    """An ErpConnector holding a receipt and journal per generated sale, as the rule says."""
    from connectors.base import ErpConnector
    from sandbox.paytrace.state import generated_amount
    from schemas.domain import ErpDocument

    pattern = re.compile(r"^PT(\d+)-(RCP|JE)$")

    class BenchErp(ErpConnector):
        kind = "sage50"

        def __init__(self) -> None:
            self.journals: dict[str, ErpDocument] = {}

        def _doc(self, kind: str, txn_id: int) -> list[ErpDocument]:
            if is_refund(txn_id) or txn_id % MISSING_EVERY == 0 or not FIRST_ID <= txn_id < FIRST_ID + count:
                return []
            amount = generated_amount(txn_id) + (1 if kind == "payment" and txn_id % WRONG_EVERY == 0 else 0)
            code = "RCP" if kind == "payment" else "JE"
            return [ErpDocument(kind, f"K{txn_id}{code}", f"PT{txn_id}-{code}", amount, None, "C1")]

        def find(self, kind: str, reference: str) -> list[ErpDocument]:
            match = pattern.match(reference)
            if match:
                return self._doc(kind, int(match.group(1)))
            return [self.journals[reference]] if reference in self.journals else []

        def list_documents(self, kind: str, the_day: date):
            """The same documents as `_doc`, made cheaply: a stand-in must not be what is measured
            (a frozen dataclass's __init__ costs a microsecond; its __dict__ is filled directly)."""
            code = "RCP" if kind == "payment" else "JE"
            wrong = 100 if kind == "payment" else 0
            new, fill = object.__new__, object.__setattr__
            for txn_id in range(FIRST_ID, FIRST_ID + count):
                if (txn_id - FIRST_ID) % REFUND_EVERY == REFUND_EVERY - 1 or txn_id % MISSING_EVERY == 0:
                    continue
                doc = new(ErpDocument)
                fill(doc, "__dict__", {"kind": kind, "key": f"K{txn_id}{code}", "reference": f"PT{txn_id}-{code}",
                                       "amount": AMOUNTS[(txn_id * 7919) % 50000 + 100
                                                         + (wrong if txn_id % WRONG_EVERY == 0 else 0)],
                                       "amount_due": None, "customer_id": "C1"})
                yield doc
            yield from (ErpDocument(kind, f"X{i}", f"PT{i}-RCP", Decimal("5.00")) for i in (7, 8, 9))

        def listing_cpu_seconds(self, the_day: date, cpu_seconds: Callable[[], float]) -> float:
            """CPU this stand-in spends listing the day's receipts and journals, as the flow asks for them."""
            started = cpu_seconds()
            for kind in ("payment", "journal"):
                for _ in self.list_documents(kind, the_day):
                    pass
            return cpu_seconds() - started

        def _create_journal(self, entry):
            doc = ErpDocument("journal", uuid.uuid4().hex, entry.reference,
                              sum(l.amount for l in entry.lines if l.amount > 0))
            self.journals[entry.reference] = doc
            return doc

        def upsert_customer(self, customer):
            raise NotImplementedError

        _create_sales_order = _create_invoice = _create_payment = upsert_customer

    return BenchErp()
