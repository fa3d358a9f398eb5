"""How to reach one Sage 50 company's bridge agent: the one frozen config of Sage 50.

The accounts, item and payment method a document carries are the mapping file's (flows/documents.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.secret import Secret

# Sage 50 keeps at most 20 characters of a ReferenceNumber or customer ID (sage.md §2a [C]).
MAX_REFERENCE_LENGTH = 20


@dataclass(frozen=True)
class Sage50Config:
    """One Sage 50 company behind one bridge agent."""

    base_url: str
    api_key: Secret = field(repr=False)
    timeout: float = 10.0
    retries: int = 2
    #: [I] Where a sales order's or invoice's status word is kept: one of the transaction's note
    #: fields (Sage 50's own order/invoice status is coded: open/closed/paid); SAGE50_STATUS_FIELD.
    status_field: str = "InternalNote"
    #: The longest status word the mapping file may give (docs/sage50-bridge-api.md "Statuses").
    status_max_length: int = 20
    #: [I] The customer custom field (CustomFieldValues [C]) a name longer than Sage 50 keeps is kept
    #: whole in; blank: the name is only cut (and the cut is on the review list either way).
    full_name_field: str = "Full name"
