"""The customer sync's own records: each profile's link to its ERP customer, the ERP-side cursor, review references."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from db.models import CustomerLink, PollerCursor, ReviewItem
from db.session import session_scope
from db.types import utcnow

if TYPE_CHECKING:
    from flows.runs import FlowContext

LINKED, REVIEW = "linked", "review"
#: A person decided a profile on the review list is not the customer it looked like: the next sync
#: creates its own ERP customer for it.
SEPARATE = "separate"
DUPLICATE_KIND, CONFLICT_KIND, FAILED_KIND = "customer_duplicate", "customer_conflict", "customer_sync_failed"


def load_links(db_url: str, pair: str) -> dict[str, CustomerLink]:
    """Every link of the pair, by PayTrace profile id."""
    with session_scope(db_url) as s:
        rows = s.scalars(select(CustomerLink).where(CustomerLink.pair == pair))
        return {row.paytrace_customer_id: row for row in rows}


def save_link(ctx: FlowContext, pair: str, profile_id: str, **values: Any) -> None:
    """Create the profile's link, or set `values` on the one it has."""
    with session_scope(ctx.db_url) as s:
        row = s.scalars(select(CustomerLink).where(CustomerLink.pair == pair,
                                                   CustomerLink.paytrace_customer_id == profile_id)).one_or_none()
        if row is None:
            s.add(CustomerLink(pair=pair, erp=ctx.erp.kind, paytrace_customer_id=profile_id, **values))
            return
        for key, value in values.items():
            setattr(row, key, value)


def settle_duplicate(db_url: str, pair: str, profile_id: str, *, link_to: str | None, who: str) -> str:
    """A person's answer to a duplicate on the review list: link the profile to `link_to`, or keep it apart.

    Linking writes nothing to the ERP now (the next sync brings the customer up to date only if the
    profile changes); keeping apart makes the next sync create the profile's own ERP customer.
    Returns what was recorded; raises LookupError if the profile is not waiting for a decision.
    """
    with session_scope(db_url) as s:
        link = s.scalars(select(CustomerLink).where(CustomerLink.pair == pair,
                                                    CustomerLink.paytrace_customer_id == profile_id)).one_or_none()
        if link is None or link.status != REVIEW:
            raise LookupError(f"PayTrace profile {profile_id} of pair {pair} is not waiting for a decision")
        if link_to:
            link.erp_customer_id, link.status = link_to, LINKED
            outcome = f"linked to ERP customer {link_to}"
        else:
            link.status = SEPARATE
            outcome = "kept apart: the next sync creates its own ERP customer"
        items = s.scalars(select(ReviewItem).where(ReviewItem.kind == DUPLICATE_KIND,
                                                   ReviewItem.reference == review_reference(pair, profile_id),
                                                   ReviewItem.status == "open")).all()
        for item in items:
            item.status, item.resolved_at, item.resolved_by, item.note = "resolved", utcnow(), who[:80], outcome
    return outcome


def linked_erp_customer(db_url: str, pair: str, profile_id: str) -> str | None:
    """The ERP customer a vault profile is linked to (merged ones included), or None: for the sale flow."""
    with session_scope(db_url) as s:
        return s.scalars(select(CustomerLink.erp_customer_id).where(
            CustomerLink.pair == pair, CustomerLink.paytrace_customer_id == profile_id,
            CustomerLink.status == LINKED)).one_or_none()


def cursor_name(pair: str) -> str:
    name = f"customers:{pair}"
    return name if len(name) <= 40 else "customers:" + hashlib.sha1(pair.encode()).hexdigest()[:30]


def cursor_position(db_url: str, name: str) -> datetime | None:
    """Where the cursor stands, or None before its first move."""
    with session_scope(db_url) as s:
        row = s.get(PollerCursor, name)
        return row.position if row else None


def advance_cursor(db_url: str, name: str, position: datetime) -> None:
    """Move the cursor forward to `position` (never back)."""
    with session_scope(db_url) as s:
        row = s.get(PollerCursor, name)
        if row is None:
            s.add(PollerCursor(name=name, position=position, updated_at=utcnow()))
        elif position > row.position:
            row.position = position

# -- the review list ------------------------------------------------------------------------------
def review_group(pair: str, what: str) -> str:
    return f"customers:{pair}:{what}"[:80]


def review_reference(pair: str, profile_id: str) -> str:
    return f"{pair}:{profile_id}"[:80]
