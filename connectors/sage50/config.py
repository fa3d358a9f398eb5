"""Sage 50 bridge settings: where the agent is, and the accounts and item paysync posts to."""
from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Secret, Settings

# Sage 50 keeps at most 20 characters of a ReferenceNumber or customer ID (sage.md §2a [C]).
MAX_REFERENCE_LENGTH = 20


@dataclass(frozen=True)
class Sage50Config:
    """One Sage 50 company behind one bridge agent."""

    base_url: str
    api_key: Secret = field(repr=False)
    cash_account: str = "1200"
    clearing_account: str = "1205"
    default_item: str = "PAYMENT"
    payment_method: str = "Credit Card"
    timeout: float = 10.0
    retries: int = 2
    #: [I] Where a sales order's or invoice's status word is kept: one of the transaction's note
    #: fields (Sage 50's own order/invoice status is coded: open/closed/paid). Settable per site
    #: with SAGE50_STATUS_FIELD when Sage50Settings carries `status_field`.
    status_field: str = "InternalNote"
    #: The longest status word the mapping file may give (docs/sage50-bridge-api.md "Statuses").
    status_max_length: int = 20
    #: [I] The customer custom field (CustomFieldValues [C]) a name longer than Sage 50 keeps is kept
    #: whole in; blank: the name is only cut (and the cut is on the review list either way).
    full_name_field: str = "Full name"

    @classmethod
    def from_settings(cls, settings: Settings) -> "Sage50Config":
        s = settings.sage50
        return cls(s.base_url, s.api_key, s.cash_account, s.clearing_account, s.default_item,
                   s.payment_method, s.timeout, settings.http_retries,
                   status_field=getattr(s, "status_field", None) or cls.status_field)
