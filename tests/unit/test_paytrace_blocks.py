"""The block reader of streamed exports (connectors/paytrace/blocks.py): the same records as ijson, or a refusal.

Given answers shaped to trip a cut at `},{` (nested lists of objects, strings holding the
separator, pretty-printed whitespace, `success` after the list), when read a block at a time,
then every record read equals the record ijson reads whole, restricted to the fields asked for;
or the reader refuses (NotBlockShaped) and nothing it cannot vouch for is returned.
"""
from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import ijson
import msgspec
import pytest

from connectors.paytrace import blocks
from connectors.paytrace.blocks import NotBlockShaped, record_blocks


class Fields(msgspec.Struct):
    transaction_id: Any = None
    amount: Any = None
    credit_card: Any = None
    description: Any = None


def records(n: int) -> list[dict]:
    """Records with every trap in them: a nested list of objects, `},{` in strings, escapes, unicode."""
    out = []
    for i in range(n):
        out.append({
            "transaction_id": 100 + i, "amount": Decimal(f"{i % 500}.{i % 100:02d}"),
            "credit_card": {"masked_number": "411111******1111", "expiration_month": 12},
            "description": ["plain", "a},{b", 'quote \\"},{\\" inside', "},{", "é ☃ }, {"][i % 5],
            "line_items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}] if i % 3 == 0 else [],
            "amount_text": "12.50", "deep": {"x": [{"y": [{"z": "},{"}]}]},
        })
    return out


def body(items: list[dict], *, indent: int | None = None, success_first: bool = True) -> bytes:
    head = {"success": True, "response_code": 1, "status_message": "ok"} if success_first else {}
    doc = {**head, "transactions": items, "external_transaction_id": ""}
    if not success_first:
        doc["success"] = True
    return json.dumps(doc, indent=indent, cls=_DecimalEncoder).encode()


class _DecimalEncoder(json.JSONEncoder):
    """Decimals as JSON numbers, exactly as written (a float would round them)."""

    def iterencode(self, o, _one_shot=False):
        for chunk in super().iterencode(o, _one_shot):
            yield chunk.replace('"__D__', "").replace('__D__"', "")

    def default(self, o):
        if isinstance(o, Decimal):
            return f"__D__{o}__D__"
        return super().default(o)


def read_blocks(data: bytes) -> list[dict]:
    source = io.BytesIO(data)
    return [msgspec.structs.asdict(r) for block in record_blocks(source.read, "transactions", Fields) for r in block]


def read_ijson(data: bytes) -> list[dict]:
    return [{k: r.get(k) for k in ("transaction_id", "amount", "credit_card", "description")}
            for r in ijson.items(io.BytesIO(data), "transactions.item", use_float=False)]


@pytest.mark.parametrize("indent", [None, 2])
def test_a_body_cut_into_many_blocks_reads_exactly_as_ijson_reads_it(monkeypatch, indent):
    # Given an answer of 3,000 trap-laden records, and blocks of 4 kB so that it is cut hundreds of times
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4096)
    data = body(records(3000), indent=indent)
    # When read a block at a time, then the records are ijson's, in order, amounts still Decimal
    got = read_blocks(data)
    assert got == read_ijson(data)
    assert len(got) == 3000 and isinstance(got[7]["amount"], Decimal)


def test_an_empty_list_and_a_single_record_read_as_such():
    assert read_blocks(body([])) == []
    one = records(1)
    assert read_blocks(body(one)) == read_ijson(body(one))


def test_an_answer_with_success_after_the_list_is_refused_so_the_caller_reads_it_whole():
    with pytest.raises(NotBlockShaped, match="success"):
        read_blocks(body(records(5), success_first=False))


def test_an_answer_that_is_not_json_after_the_list_is_refused():
    data = body(records(5)).rstrip(b"}") + b', "broken": }'
    with pytest.raises(NotBlockShaped):
        read_blocks(data)


def test_a_block_whose_every_candidate_cut_falls_inside_one_record_is_refused(monkeypatch):
    # Given one record holding more `},{` than the reader tries, spanning the whole block
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(blocks, "TRIES", 3)
    huge = {"transaction_id": 1, "amount": 5, "line_items": [{"sku": str(i)} for i in range(5000)]}
    data = body([huge, *records(3)])
    # When read, then it refuses rather than return a wrong record
    with pytest.raises(NotBlockShaped):
        read_blocks(data)
