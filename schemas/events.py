"""Inbound events: signed webhooks from a checkout or e-commerce platform, and PayTrace silent posts.

Both are hints: they name a PayTrace transaction, and the worker re-reads that transaction from
PayTrace before it acts, so nothing in these payloads is trusted beyond the id.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

#: PayTrace ids are integers; anything past this cannot be one and would overflow a BIGINT column.
MAX_TRANSACTION_ID = 2**53

WEBHOOK_EVENT_TYPES = (
    "transaction.sale",
    "transaction.authorization",
    "transaction.capture",
    "transaction.refund",
    "transaction.void",
    "transaction.declined",
    "order.paid",
)


class WebhookDataSchema(Schema):
    class Meta:
        unknown = INCLUDE

    # strict: a JSON integer only; a non-strict Int would quietly turn 1.5 into transaction 1.
    transaction_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=MAX_TRANSACTION_ID))
    invoice_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=100))
    amount = fields.Decimal(load_default=None, allow_none=True, places=2, as_string=True)


class WebhookEventSchema(Schema):
    """`{"type": "transaction.sale", "data": {"transaction_id": 123, ...}}`."""

    class Meta:
        unknown = INCLUDE

    type = fields.Str(required=True, validate=validate.OneOf(WEBHOOK_EVENT_TYPES))
    data = fields.Nested(WebhookDataSchema, required=True)


def parse_silent_post(parm_list: str) -> dict[str, str]:
    """`ORDERID~1|TRANSACTIONID~2|APPCODE~X|...|` into a dict (paytrace.md §7 [C])."""
    out: dict[str, str] = {}
    for part in parm_list.split("|"):
        if not part.strip():
            continue
        key, sep, value = part.partition("~")
        if not sep or not key.strip().isalnum():
            raise ValidationError(f"not a KEY~VALUE pair: {part[:40]!r}", "parmList")
        out[key.strip().upper()] = value
    return out


class SilentPostSchema(Schema):
    """The fields of a silent post we use; TRANSACTIONID names the transaction to re-read."""

    class Meta:
        unknown = INCLUDE

    TRANSACTIONID = fields.Int(required=True, strict=False, validate=validate.Range(min=1, max=MAX_TRANSACTION_ID))
    ORDERID = fields.Str(load_default="")
    APPCODE = fields.Str(load_default="")
    APPMSG = fields.Str(load_default="")


class ChargebackSchema(Schema):
    """A chargeback case (PayTrace has no chargeback API: a CSV export or a signed push brings it)."""

    class Meta:
        unknown = INCLUDE

    case_id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    transaction_id = fields.Int(required=True, strict=False, validate=validate.Range(min=1, max=MAX_TRANSACTION_ID))
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=0.01), as_string=True)
    reason = fields.Str(load_default="", validate=validate.Length(max=200))
    date = fields.Date(load_default=None, allow_none=True)
