"""Customers both ways between the PayTrace vault and the ERP (issue 5).

Pass 1, PayTrace -> ERP (`pull_profiles`), every vault profile:
- linked and unchanged since the last sync: nothing to do;
- linked and changed: its ERP customer takes the profile's contact details (a customer the ERP had
  before paysync, linked by a merge, keeps its own name);
- not linked yet: the ERP customer a sale by the profile already created (`PT-<vault id>`, the id
  rule of flows/documents.py) is linked; else the duplicate rules are tried in order -- same
  reference (an ERP customer whose id is the vault id itself), same email (any case), same name and
  postal code -- and a match is merged (linked, the ERP's data kept, only its blank fields filled)
  or put on the review list with nothing written, as the mapping's `customers.duplicates` says
  (several matches always go to review); no match creates the ERP customer under the id rule.

Pass 2, ERP -> PayTrace (`push_erp_changes`, when `customers.erp_to_paytrace`): ERP customers
changed since the pair's cursor update their linked profiles' email, phone and billing address
(never the cardholder name, never payment data). The cursor moves only past changes that were
applied, so a failure is tried again by the next run; the updates are idempotent.

Each link keeps a fingerprint of what each side said when last synced: the sha256 of the
normalized contact (name, email, phone, address; never card data). A side is read back after
every write, so a change is acted on once and our own write coming back is not taken for one.
When both sides changed between two runs, the profile wins and the overwrite is put on the review
list. The profile id is the token; a masked number (first 6 / last 4 at most) is all a link keeps.
A failure of one customer goes on the report and the review list and does not stop the others.

The contact's normalization and fingerprint are in flows/customer_contact.py; the links, the cursor
and the review references in flows/customer_links.py.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from connectors.errors import ConnectorError, RetriableError
from db.models import CustomerLink
from flows import names
from flows.customer_contact import billing_address_for, fill_blanks, fingerprint, masked_number, profile_customer, \
    profile_id_of
from flows.customer_links import (CONFLICT_KIND, DUPLICATE_KIND, FAILED_KIND, LINKED, REVIEW, SEPARATE,
                                  advance_cursor, cursor_name, cursor_position, load_links, review_group,
                                  review_reference, save_link)
from flows.documents import erp_customer_id_for_profile
from flows.review import Finding, close_unseen, file_findings
from schemas.domain import Customer
from schemas.mapping import Customers

if TYPE_CHECKING:
    from flows.runs import FlowContext

log = logging.getLogger("paysync.customers")
alert_log = logging.getLogger("paysync.alert")


# -- the report -----------------------------------------------------------------------------------
@dataclass
class CustomerSyncReport:
    """What one customer sync did, counted by outcome; `errors` names every customer that failed, and why."""

    pair: str = "default"
    created: int = 0
    updated: int = 0
    linked: int = 0  # linked to an ERP customer that was there already (merged, or a sale's own)
    review: int = 0  # waiting on a person (a duplicate found, nothing written)
    unchanged: int = 0
    pushed_to_paytrace: int = 0
    errors: list[str] = field(default_factory=list)
    retriable: list[RetriableError] = field(default_factory=list, repr=False)
    failed: set[tuple[str, str]] = field(default_factory=set, repr=False)

    COUNTS = ("created", "updated", "linked", "review", "unchanged", "pushed_to_paytrace")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS} | {"errors": len(self.errors)}

    def raise_retriable(self) -> None:
        """Raise one RetriableError when any customer failed for a reason that may pass (the task retries)."""
        if self.retriable:
            first = self.retriable[0]
            raise RetriableError(f"{len(self.retriable)} customer(s) failed for now; first: {first}",
                                 system=first.system, operation=first.operation, status=first.status,
                                 retry_after=first.retry_after)


# -- the review list --------------------------------------------------------------------------------
def _file(ctx: FlowContext, pair: str, what: str, finding: Finding) -> None:
    alert_log.warning("REVIEW %s", finding.reason)
    file_findings(ctx.db_url, review_group(pair, what), [finding])


def _failed(ctx: FlowContext, pair: str, report: CustomerSyncReport, side: str, key: str,
            exc: ConnectorError) -> None:
    """One customer failed: on the report and the review list (closed again once a run gets it through)."""
    retriable = isinstance(exc, RetriableError)
    what = f"PayTrace profile {key}" if side == "paytrace" else f"ERP customer {key} -> PayTrace"
    reason = f"customer sync of {what} failed: {exc}" + ("; tried again by the next run" if retriable else "")
    report.errors.append(f"{what}: {exc}")
    if retriable:
        report.retriable.append(exc)
    reference = review_reference(pair, f"{side}:{key}")
    report.failed.add((FAILED_KIND, reference))
    _file(ctx, pair, "failed", Finding(FAILED_KIND, reference, reason,
                                       {"pair": pair, "side": side, "id": key, **exc.context()}))


def _policy(ctx: FlowContext) -> Customers:
    return ctx.mapping.customers if ctx.mapping is not None else Customers()


def _read_back(ctx: FlowContext, erp_id: str, sent: Customer) -> str:
    """The fingerprint of the ERP customer as the ERP keeps it now (it may cut or keep fields)."""
    now = ctx.erp.customer(erp_id)
    return fingerprint(now if now is not None else sent)


# -- pass 1: PayTrace -> ERP ------------------------------------------------------------------------
def find_duplicates(ctx: FlowContext, profile_id: str, profile: Customer) -> tuple[str, list[Customer]] | None:
    """The first duplicate rule some ERP customer meets, with every customer it finds; None: no duplicate."""
    if profile_id != profile.customer_id:
        same = ctx.erp.customer(profile_id)
        if same is not None:
            return "same reference", [same]
    email = profile.email.strip()
    if email:
        found = [c for c in ctx.erp.find_customers(email=email) if c.email.strip().casefold() == email.casefold()]
        if found:
            return "same email", found
    name, postal = profile.address.name.strip(), profile.address.postal_code.strip()
    if name and postal:  # the billing name only: a placeholder name matches no one
        found = ctx.erp.find_customers(name=name, postal_code=postal)
        if found:
            return "same name and postal code", found
    return None


def _link_new(ctx: FlowContext, pair: str, profile_id: str, profile: Customer, fp: str, masked: str | None) -> str:
    """A profile paysync has not linked yet: link it, merge it, put it on the review list, or create it."""
    if ctx.erp.customer(profile.customer_id) is not None:
        # The customer a sale by this profile created (the same id rule): ours, so it takes the profile's details.
        erp_id = names.upsert(ctx.db_url, pair, ctx.erp, profile)
        save_link(ctx, pair, profile_id, erp_customer_id=erp_id, status=LINKED, paytrace_fingerprint=fp,
                   erp_fingerprint=_read_back(ctx, erp_id, profile), masked_number=masked)
        return "linked"
    duplicate = find_duplicates(ctx, profile_id, profile)
    if duplicate is None:
        erp_id = names.upsert(ctx.db_url, pair, ctx.erp, profile)
        save_link(ctx, pair, profile_id, erp_customer_id=erp_id, status=LINKED, paytrace_fingerprint=fp,
                   erp_fingerprint=_read_back(ctx, erp_id, profile), masked_number=masked)
        return "created"
    rule, found = duplicate
    if _policy(ctx).duplicates == "merge" and len(found) == 1:
        target = found[0]
        filled = fill_blanks(target, profile)
        erp_id = names.upsert(ctx.db_url, pair, ctx.erp, filled) if filled != target else target.customer_id
        save_link(ctx, pair, profile_id, erp_customer_id=erp_id, status=LINKED, paytrace_fingerprint=fp,
                   erp_fingerprint=_read_back(ctx, erp_id, filled), masked_number=masked)
        log.info("customer sync %s: profile %s merged into ERP customer %s (%s)", pair, profile_id, erp_id, rule)
        return "linked"
    ids = ", ".join(c.customer_id for c in found)
    why = "several ERP customers match" if len(found) > 1 else "the mapping says a person decides"
    save_link(ctx, pair, profile_id, erp_customer_id=found[0].customer_id, status=REVIEW, paytrace_fingerprint=fp,
               erp_fingerprint=fingerprint(found[0]), masked_number=masked)
    _file(ctx, pair, "duplicates", Finding(
        DUPLICATE_KIND, review_reference(pair, profile_id),
        f"PayTrace profile {profile_id} matches ERP customer {ids} by {rule} ({why}); nothing written to the ERP: "
        f"link it to one of them or keep it apart",
        {"pair": pair, "rule": rule, "paytrace_customer_id": profile_id,
         "erp_customer_ids": [c.customer_id for c in found], "would_create": profile.customer_id}))
    return "review"


def _update_linked(ctx: FlowContext, pair: str, link: CustomerLink, profile: Customer, fp: str,
                   masked: str | None) -> str:
    """A linked profile: unchanged, or its ERP customer brought up to date."""
    profile_id = link.paytrace_customer_id
    if link.paytrace_fingerprint == fp:
        if link.masked_number != masked:
            save_link(ctx, pair, profile_id, masked_number=masked)
        return "unchanged"
    erp_id = link.erp_customer_id
    current = ctx.erp.customer(erp_id)
    wanted = replace(profile, customer_id=erp_id)
    if current is not None and erp_id != profile.customer_id:
        # A customer the ERP had before paysync (a merge) keeps its own name; contact details follow the profile.
        wanted = replace(wanted, name=current.name, address=replace(wanted.address, name=current.address.name))
    if current is not None and link.erp_fingerprint and \
            fingerprint(current) not in (link.erp_fingerprint, link.paytrace_fingerprint):
        _file(ctx, pair, "conflicts", Finding(
            CONFLICT_KIND, review_reference(pair, profile_id),
            f"PayTrace profile {profile_id} and ERP customer {erp_id} both changed since the last sync; the "
            f"profile's details were written to the ERP: check the ERP customer's own recent edit",
            {"pair": pair, "paytrace_customer_id": profile_id, "erp_customer_id": erp_id}))
    written = names.upsert(ctx.db_url, pair, ctx.erp, wanted)
    save_link(ctx, pair, profile_id, erp_customer_id=written, paytrace_fingerprint=fp,
               erp_fingerprint=_read_back(ctx, written, wanted), masked_number=masked)
    return "updated"


def pull_profiles(ctx: FlowContext, pair: str, report: CustomerSyncReport) -> None:
    """PayTrace -> ERP: every vault profile created, updated, linked or put on the review list."""
    links = load_links(ctx.db_url, pair)
    for record in ctx.gateway.customers():
        profile_id = profile_id_of(record)
        if not profile_id:
            report.errors.append("a vault profile without a customer_id was skipped")
            alert_log.warning("customer sync %s: PayTrace exported a profile without a customer_id", pair)
            continue
        link = links.get(profile_id)
        if link is not None and link.status == REVIEW:
            report.review += 1  # a person decides; nothing is written until then
            continue
        profile = profile_customer(record, erp_customer_id_for_profile(profile_id))
        fp, masked = fingerprint(profile), masked_number(record)
        if link is not None and link.status == SEPARATE:
            try:  # kept apart by a person: its own customer, no duplicate rules asked again
                erp_id = names.upsert(ctx.db_url, pair, ctx.erp, profile)
            except ConnectorError as exc:
                _failed(ctx, pair, report, "paytrace", profile_id, exc)
                continue
            save_link(ctx, pair, profile_id, erp_customer_id=erp_id, status=LINKED, paytrace_fingerprint=fp,
                       erp_fingerprint=_read_back(ctx, erp_id, profile), masked_number=masked)
            report.created += 1
            continue
        try:
            outcome = (_update_linked(ctx, pair, link, profile, fp, masked) if link is not None
                       else _link_new(ctx, pair, profile_id, profile, fp, masked))
        except ConnectorError as exc:
            _failed(ctx, pair, report, "paytrace", profile_id, exc)
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)


# -- pass 2: ERP -> PayTrace ------------------------------------------------------------------------
def _push_one(ctx: FlowContext, pair: str, link: CustomerLink, customer: Customer) -> bool:
    """Send one ERP customer's contact details to its linked profile; False when there was nothing to send."""
    fp = fingerprint(customer)
    if fp in (link.erp_fingerprint, link.paytrace_fingerprint):
        return False  # what we last wrote or read: our own write coming back, or nothing new
    email, phone = customer.email.strip() or None, customer.phone.strip() or None
    address = billing_address_for(customer.address)
    if email is None and phone is None and address is None:
        # A blank never erases the profile's details (as the ERP connectors treat our blanks).
        save_link(ctx, pair, link.paytrace_customer_id, erp_fingerprint=fp)
        link.erp_fingerprint = fp
        return False
    ctx.gateway.update_customer(link.paytrace_customer_id, email=email, phone=phone, billing_address=address)
    records = ctx.gateway.customers(link.paytrace_customer_id)
    paytrace_fp = fingerprint(profile_customer(records[0], link.erp_customer_id)) if records else None
    masked = masked_number(records[0]) if records else link.masked_number
    save_link(ctx, pair, link.paytrace_customer_id, erp_fingerprint=fp, paytrace_fingerprint=paytrace_fp,
               masked_number=masked)
    link.erp_fingerprint, link.paytrace_fingerprint = fp, paytrace_fp
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def push_erp_changes(ctx: FlowContext, pair: str, report: CustomerSyncReport) -> None:
    """ERP -> PayTrace: customers changed since the cursor update their linked profiles; the cursor follows."""
    if not _policy(ctx).erp_to_paytrace:
        return
    name = cursor_name(pair)
    since = cursor_position(ctx.db_url, name)
    by_erp: dict[str, list[CustomerLink]] = defaultdict(list)
    for link in load_links(ctx.db_url, pair).values():
        if link.status == LINKED:
            by_erp[link.erp_customer_id].append(link)
    reached, blocked = since, None
    for change in ctx.erp.customers_changed_since(since):
        at, ok = _aware(change.changed_at), True
        for link in by_erp.get(change.customer.customer_id, ()):
            try:
                if _push_one(ctx, pair, link, change.customer):
                    report.pushed_to_paytrace += 1
            except ConnectorError as exc:
                ok = False
                _failed(ctx, pair, report, "erp", change.customer.customer_id, exc)
        if not ok:
            blocked = at if blocked is None else min(blocked, at)
        elif (blocked is None or at < blocked) and (reached is None or at > reached):
            reached = at  # never past a failed change, so the next run lists it again
    if reached is not None and reached != since:
        advance_cursor(ctx.db_url, name, reached)


STEPS = (pull_profiles, push_erp_changes)


def sync_customers(ctx: FlowContext, *, pair: str | None = None) -> CustomerSyncReport:
    """Both passes for `pair` (default: the context's), in STEPS order; failures are on the report."""
    pair = pair or ctx.pair
    report = CustomerSyncReport(pair=pair)
    for step in STEPS:
        step(ctx, pair, report)
    # A customer that failed before and went through this time is no longer a person's problem.
    close_unseen(ctx.db_url, review_group(pair, "failed"), report.failed, "synced without error by a later run")
    log.info("customer sync %s: %s", pair, report.counts())
    return report


__all__ = ["CustomerSyncReport", "STEPS", "sync_customers", "pull_profiles", "push_erp_changes", "find_duplicates"]
