"""A customer name longer than the ERP keeps: the connector cuts it; a person is told, on the review list."""
from __future__ import annotations

import logging

from connectors.base import ErpConnector
from flows.review import Finding, file_findings
from schemas.domain import Customer

KIND = "customer_name_cut"
alert_log = logging.getLogger("paysync.alert")


def review_cut_name(db_url: str, pair: str, erp: ErpConnector, customer: Customer, erp_id: str) -> bool:
    """File a review item when `customer.name` is longer than `erp` keeps; True when it was."""
    width, name = erp.customer_name_width, customer.name.strip()
    if width is None or len(name) <= width:
        return False
    kept = erp.name_kept_in(name)
    where = f"the whole name is kept in {kept}" if kept else f"{erp.kind} has no field for the rest"
    reason = (f"customer {erp_id}: the name {name!r} ({len(name)} characters) was cut to {width} in {erp.kind} "
              f"({name[:width]!r}); {where}. Check how it reads on documents")
    alert_log.warning("REVIEW %s", reason)
    file_findings(db_url, f"customers:{pair}:names"[:80], [Finding(
        KIND, f"{pair}:{erp_id}"[:80], reason,
        {"pair": pair, "erp": erp.kind, "erp_customer_id": erp_id, "name": name, "kept_as": name[:width],
         "whole_name_in": kept})])
    return True


def upsert(db_url: str, pair: str, erp: ErpConnector, customer: Customer) -> str:
    """`erp.upsert_customer`, then the review item if the name did not fit; the ERP's customer id."""
    erp_id = erp.upsert_customer(customer)
    review_cut_name(db_url, pair, erp, customer, erp_id)
    return erp_id
