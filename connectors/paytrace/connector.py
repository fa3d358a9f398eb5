"""PayTrace as paysync uses it: the authoritative transaction by id, and exports by date."""
from __future__ import annotations

from datetime import date
from typing import Iterator

from connectors.errors import NotFoundError
from connectors.paytrace.client import PayTraceClient
from connectors.paytrace.mapping import SYSTEM, export_date


class PayTraceGateway:
    """Read side of PayTrace: transactions and batches as export records (dicts, card-masked by PayTrace)."""

    def __init__(self, client: PayTraceClient) -> None:
        self.client = client

    def transaction(self, transaction_id: int) -> dict:
        """The export record of one transaction (export/by_id, element [0])."""
        body = self.client.call("transactions/export/by_id",
                                {"transaction_id": int(transaction_id), "include_bin": True}, idempotent=True)
        records = body.get("transactions") or []
        if not records:
            raise NotFoundError(f"transaction {transaction_id} not in export", system=SYSTEM,
                                operation="transactions/export/by_id")
        return records[0]

    def transactions_between(self, start: date, end: date) -> list[dict]:
        """Every transaction created from `start` to `end` inclusive (merchant-local dates)."""
        body = self.client.call("transactions/export/by_date_range",
                                {"start_date": export_date(start), "end_date": export_date(end),
                                 "include_bin": True}, idempotent=True)
        return list(body.get("transactions") or [])

    def batches(self, start: date, end: date | None = None) -> list[dict]:
        """The settled batches closed from `start` to `end` (PayTrace's dates, MM/DD/YYYY)."""
        body = self.client.call("batches/export", {"start_date": export_date(start),
                                                   "end_date": export_date(end or start)}, idempotent=True)
        return list(body.get("batches") or [])

    def batch_transactions(self, batch_number: int) -> Iterator[dict]:
        """The settled transactions of one batch, streamed: a batch may hold a million of them."""
        return self.client.stream("batches/transaction_list", {"batch_number": int(batch_number),
                                                               "include_bin": True}, array="transactions")
