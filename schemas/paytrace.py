"""Marshmallow schemas of PayTrace v1 export records, loaded into GatewayTransaction.

Export timestamps come back as `M/D/YYYY h:mm:ss AM/PM` with no zone (paytrace.md §3 [C]); we read
them in the merchant's zone, America/Los_Angeles by default, because PayTrace settles at 8 PM
Pacific [I: the zone is not stated in the response].
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validates

from schemas.domain import Address, GatewayTransaction
from schemas.masking import mask_payload

EXPORT_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
TRANSACTION_TYPES = ("SALE", "AUTHORIZATION", "STR/FWD", "REFUND", "VOID", "SETTLED", "PENDING", "DECLINED")


def parse_export_time(value: str, tz: str = "America/Los_Angeles") -> datetime:
    naive = datetime.strptime(value.strip(), EXPORT_TIME_FORMAT)
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


_BRAND_BY_FIRST_DIGIT = {"4": "VISA", "5": "MASTERCARD", "2": "MASTERCARD", "3": "AMEX", "6": "DISCOVER"}


def card_brand(masked: str) -> str:
    return _BRAND_BY_FIRST_DIGIT.get(masked.strip()[:1], "UNKNOWN")


def record_brand(record: dict) -> str:
    """A raw transaction record's brand, as the sale's documents take it: ACH for a check, else the
    card's brand from its masked number (UNKNOWN when the record carries none)."""
    if isinstance(record.get("check"), dict) and record["check"]:
        return "ACH"
    card = record.get("credit_card")
    masked = str(card.get("masked_number") or "") if isinstance(card, dict) else ""
    return card_brand(masked) if masked[:1].isdigit() else "UNKNOWN"


class MoneyField(fields.Field):
    """Dollars as PayTrace sends them (number or string) into a Decimal, never through float."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in (None, ""):
            return Decimal("0.00")
        try:
            # str() of a JSON float like 110.1 is exact enough for two-decimal money.
            amount = Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError(f"not an amount: {value!r}") from exc
        return amount


class AddressSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.Str(load_default="")
    street_address = fields.Str(load_default="")
    street_address2 = fields.Str(load_default="")
    city = fields.Str(load_default="")
    state = fields.Str(load_default="")
    zip = fields.Str(load_default="")
    country = fields.Str(load_default="")

    @pre_load
    def _none_to_blank(self, data, **kwargs):
        return {k: ("" if v is None else v) for k, v in (data or {}).items()}


class CreatedSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    at = fields.Str(required=True)


class CreditCardSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    masked_number = fields.Str(load_default="")


class _ExportRecordSchema(Schema):
    """What card and check export records share: money, dates, references, the payer; masked on load."""

    class Meta:
        unknown = EXCLUDE

    transaction_type = fields.Str(required=True)
    amount = MoneyField(required=True)
    status_message = fields.Str(load_default="")
    created = fields.Nested(CreatedSchema, required=True)
    settled = fields.Str(load_default="", allow_none=True)
    invoice_id = fields.Str(load_default="", allow_none=True)
    customer_reference_id = fields.Str(load_default="", allow_none=True)
    description = fields.Str(load_default="", allow_none=True)
    customer_id = fields.Str(load_default="", allow_none=True)
    email = fields.Str(load_default="", allow_none=True)
    tax_amount = MoneyField(load_default=Decimal("0.00"))
    billing_address = fields.Nested(AddressSchema, load_default=dict)

    def __init__(self, *args, tz: str = "America/Los_Angeles", **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    @pre_load
    def _mask(self, data, **kwargs):
        return mask_payload(data)

    def _times(self, d: dict) -> tuple[datetime, datetime | None]:
        """(created, settled) in UTC, read in the merchant's zone."""
        try:
            created = parse_export_time(d["created"]["at"], self.tz)
            settled = parse_export_time(d["settled"], self.tz) if d.get("settled") else None
        except ValueError as exc:
            raise ValidationError(f"timestamp not in M/D/YYYY h:mm:ss AM/PM: {exc}", "created") from exc
        return created, settled


class TransactionRecordSchema(_ExportRecordSchema):
    """One element of `transactions[]` in export/by_id or export/by_date_range."""

    transaction_id = fields.Int(required=True, strict=True)  # PayTrace ids are JSON integers [C]
    status_code = fields.Str(load_default="")
    credit_card = fields.Nested(CreditCardSchema, load_default=dict)
    receipt_emailed_to = fields.Str(load_default="", allow_none=True)
    approval_code = fields.Str(load_default="", allow_none=True)

    @post_load
    def _to_domain(self, d, **kwargs) -> GatewayTransaction:
        created, settled = self._times(d)
        masked = (d.get("credit_card") or {}).get("masked_number", "")
        b = d.get("billing_address") or {}
        return GatewayTransaction(
            transaction_id=d["transaction_id"],
            transaction_type=d["transaction_type"].upper(),
            amount=d["amount"],
            status_code=d.get("status_code") or "",
            status_message=d.get("status_message") or "",
            created_at=created,
            settled_at=settled,
            masked_card=masked,
            card_brand=card_brand(masked) if masked and masked[0].isdigit() else "UNKNOWN",
            invoice_id=d.get("invoice_id") or "",
            customer_reference_id=d.get("customer_reference_id") or "",
            description=d.get("description") or "",
            customer_id=d.get("customer_id") or "",
            email=d.get("email") or d.get("receipt_emailed_to") or "",
            tax_amount=d["tax_amount"],
            billing=Address(
                name=b.get("name", ""), line1=b.get("street_address", ""), line2=b.get("street_address2", ""),
                city=b.get("city", ""), state=b.get("state", ""), postal_code=b.get("zip", ""),
                country=b.get("country", ""),
            ),
            approval_code=d.get("approval_code") or "",
        )


def load_transaction(record: dict, tz: str = "America/Los_Angeles") -> GatewayTransaction:
    """Validate one export record; raises marshmallow.ValidationError with every bad field."""
    return TransactionRecordSchema(tz=tz).load(record)


# -- checks (ACH) ------------------------------------------------------------------------------
# No v1 check export was found: the record shape and its statuses are the sandbox's [I] model
# (docs/paytrace.md). They are mapped onto the card vocabulary so flows treat both alike:
#   transaction_type  SALE -> SALE, HOLD -> AUTHORIZATION, REFUND -> REFUND, VOID -> VOID,
#                     DECLINED -> DECLINED, and any type with status X (not processed) -> DECLINED
#   status_code       H held -> N, V voided -> N, X not processed -> N, Y pending -> Y,
#                     S / Settled... -> SETTLED (no card batch), GB<n> kept, R returned -> RETURNED
CHECK_TYPES = {"SALE": "SALE", "HOLD": "AUTHORIZATION", "REFUND": "REFUND", "VOID": "VOID",
               "DECLINED": "DECLINED"}
_CHECK_STATUSES = {"H": "N", "V": "N", "X": "N", "Y": "Y", "S": "SETTLED", "R": "RETURNED"}


def check_status(raw: str) -> str | None:
    """Our status_code for a check's raw one; None when it is not one we know."""
    code = raw.strip().upper()
    if code.startswith("GB") and code[2:].isdigit():
        return code  # should PayTrace settle checks in numbered batches after all
    if code.startswith("SETTLED"):
        return "SETTLED"
    return _CHECK_STATUSES.get(code)


def ach_reason(code, message) -> str:
    """The ACH reason of a check for people: its message, else its code unless 0 (no reason)."""
    text = str(message or "").strip()
    if text:
        return text if str(code or "") in ("", "0") or str(code) in text else f"{code} {text}"
    return "" if str(code if code is not None else "").strip() in ("", "0") else str(code).strip()


def masked_account(raw: str) -> str:
    """The last four digits of an account behind six x, whatever PayTrace (or a bug) sent."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    return "x" * 6 + digits[-4:] if digits else ""


class CheckAccountSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    masked_account_number = fields.Str(load_default="")
    routing_number = fields.Str(load_default="")


class CheckRecordSchema(_ExportRecordSchema):
    """One element of `checks[]` in checks/export/by_id or checks/export/by_date_range [I]."""

    check_transaction_id = fields.Int(required=True, strict=True)
    status_code = fields.Str(required=True)
    check = fields.Nested(CheckAccountSchema, load_default=dict)
    #: A number in every recorded answer [C] (0: no reason); text is accepted too.
    ach_code = fields.Raw(load_default=None, allow_none=True)
    ach_message = fields.Str(load_default="", allow_none=True)

    @validates("transaction_type")
    def _known_type(self, value, **kwargs):
        if value.strip().upper() not in CHECK_TYPES:
            raise ValidationError(f"unknown check transaction type {value!r}; known: {', '.join(CHECK_TYPES)}")

    @validates("status_code")
    def _known_status(self, value, **kwargs):
        if check_status(value) is None:
            raise ValidationError(f"unknown check status {value!r}")

    @post_load
    def _to_domain(self, d, **kwargs) -> GatewayTransaction:
        created, settled = self._times(d)
        raw_status = d["status_code"].strip().upper()
        kind = "DECLINED" if raw_status == "X" else CHECK_TYPES[d["transaction_type"].strip().upper()]
        message = d.get("status_message") or ""
        reason = ach_reason(d.get("ach_code"), d.get("ach_message"))
        if reason:  # a refusal or a return: keep its ACH reason with the status
            message = f"{message} ({reason})".strip()
        b = d.get("billing_address") or {}
        return GatewayTransaction(
            transaction_id=d["check_transaction_id"],
            transaction_type=kind,
            amount=d["amount"],
            status_code=check_status(raw_status),
            status_message=message,
            created_at=created,
            settled_at=settled,
            masked_card=masked_account((d.get("check") or {}).get("masked_account_number", "")),
            card_brand="ACH",
            invoice_id=d.get("invoice_id") or "",
            customer_reference_id=d.get("customer_reference_id") or "",
            description=d.get("description") or "",
            customer_id=d.get("customer_id") or "",
            email=d.get("email") or "",
            tax_amount=d["tax_amount"],
            billing=Address(
                name=b.get("name", ""), line1=b.get("street_address", ""), line2=b.get("street_address2", ""),
                city=b.get("city", ""), state=b.get("state", ""), postal_code=b.get("zip", ""),
                country=b.get("country", ""),
            ),
            approval_code="",
            payment_type="ACH",
        )


def load_check(record: dict, tz: str = "America/Los_Angeles") -> GatewayTransaction:
    """Validate one check export record [I]; raises marshmallow.ValidationError with every bad field."""
    return CheckRecordSchema(tz=tz).load(record)
