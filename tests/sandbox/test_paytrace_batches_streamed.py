"""Given a day generated in bulk on the PayTrace sandbox, the batch list streams and adds up."""
from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from config.settings import Secret
from connectors.errors import PermanentError
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.client import _stream_records
from connectors.paytrace.config import PayTraceConfig
from sandbox.paytrace import PayTraceSandbox


@pytest.fixture
def sandbox():
    with PayTraceSandbox() as pt:
        yield pt


def test_generated_batches_stream_record_by_record_and_add_up(sandbox):
    requests.post(f"{sandbox.url}/_sandbox/answers", json={"batch_totals": True}, timeout=5).raise_for_status()
    made = requests.post(f"{sandbox.url}/_sandbox/generate",
                         json={"count": 2500, "batches": 2, "refund_every": 10}, timeout=30).json()
    assert made["count"] == 2500 and len(made["batches"]) == 2
    gateway = PayTraceGateway(PayTraceClient(PayTraceConfig(sandbox.url, "demo", Secret("demo"), "PAYSYNC1")))
    day = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    batches = gateway.batches(day)
    assert [b["number"] for b in batches] == made["batches"]
    for batch in batches:
        records = list(gateway.batch_transactions(batch["number"]))
        assert len(records) == batch["transaction_count"] == 1250
        assert all(isinstance(r["amount"], Decimal) for r in records)  # streamed money is never float
        refunds = [r for r in records if r["transaction_type"] == "REFUND"]
        net = sum(r["amount"] for r in records) - 2 * sum(r["amount"] for r in refunds)
        assert len(refunds) == batch["refund_count"] and net == Decimal(str(batch["net_amount"]))
    with pytest.raises(PermanentError, match="992"):  # an unknown batch is refused before any streaming
        list(gateway.batch_transactions(4242))


class _Answer:
    """A streamed response whose body is given (for the reader's slow path)."""

    status_code = 200

    def __init__(self, body: bytes) -> None:
        self.raw = io.BytesIO(body)


def test_success_after_the_list_is_still_checked():
    late = b'{"transactions":[{"transaction_id":1,"amount":1.50}],"success":true}'
    assert [r["transaction_id"] for r in _stream_records(_Answer(late), "transactions", "op")] == [1]
    refused = b'{"transactions":[{"transaction_id":1}],"success":false}'
    with pytest.raises(PermanentError):
        list(_stream_records(_Answer(refused), "transactions", "op"))
    with pytest.raises(PermanentError):
        list(_stream_records(_Answer(b'{"success":false,"response_code":1,"errors":{}}'), "transactions", "op"))
