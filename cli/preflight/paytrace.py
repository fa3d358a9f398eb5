"""PayTrace, read-only: the ping, the login, and a recent window through every export paysync relies on."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import islice

import requests
from marshmallow import ValidationError

from cli.preflight.checks import CANNOT_TELL, FAILS, HOLDS, Check, Checks
from config.settings import Settings
from connectors.errors import ConnectorError
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from flows.settlement_rules import RECORD_FIELDS
from schemas.domain import is_settled_status
from schemas.paytrace import load_transaction

#: What a refund record may carry that ties it to its sale (flows/lifecycle.py links by what is there).
LINK_FIELDS = {"invoice_id": "invoice id", "customer_id": "vault customer id",
               "credit_card": "masked card and expiry", "original_transaction_id": "original_transaction_id"}
#: Batch records read to check their fields: enough to see the shape, never a whole million-record batch.
BATCH_SAMPLE = 1000
LOGIN = "PAYTRACE_USERNAME, PAYTRACE_PASSWORD, PAYTRACE_INTEGRATOR_ID"


def run(settings: Settings, today: date, days: int) -> list[Check]:
    c = Checks("PayTrace")
    cfg = settings.paytrace
    client = PayTraceClient(cfg)
    try:
        _ping(c, cfg)
        try:
            client.login()
        except ConnectorError as exc:
            c.add("the API user logs in (oauth/token)", FAILS, exc.message, LOGIN)
            c.add("the exports below", CANNOT_TELL, "not read: the log in failed")
            return c.found
        c.add("the API user logs in (oauth/token)", HOLDS)
        gateway, start = PayTraceGateway(client), today - timedelta(days=days - 1)
        window = f"{start:%m/%d/%Y}..{today:%m/%d/%Y}"
        records = _transactions(c, gateway, start, today, window)
        if records is not None:
            _refund_links(c, records, window)
            _statuses(c, records, window)
        _batches(c, gateway, start, today, window)
        _checks(c, gateway, settings, start, today, window)
        _vault(c, gateway)
    finally:
        client.close()
    return c.found


def _ping(c: Checks, cfg: PayTraceConfig) -> None:
    try:
        answer = requests.get(f"{cfg.base_url}/v1/ping", timeout=cfg.timeout)
        ok = answer.status_code == 200 and answer.json().get("status") == "success"
        detail = "" if ok else f"HTTP {answer.status_code}: {answer.text[:120]}"
    except (requests.RequestException, ValueError) as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:200]
    c.verdict('GET /v1/ping answers {"status": "success"}', ok, detail, "PAYTRACE_BASE_URL")


def _transactions(c: Checks, gateway: PayTraceGateway, start: date, end: date, window: str) -> list[dict] | None:
    what = "transactions/export/by_date_range records carry the fields paysync reads"
    try:
        records = gateway.transactions_between(start, end)
    except ConnectorError as exc:
        c.add(what, FAILS, exc.message, LOGIN if exc.status in (401, 403) else "")
        return None
    if not records:
        c.add(what, CANNOT_TELL, f"no transactions in {window}: run it again after some sales, or with --days")
        return records
    bad = Counter()
    for record in records:
        try:
            load_transaction(record)
        except ValidationError as exc:
            bad.update(exc.normalized_messages())
    c.verdict(what, not bad, f"{len(records)} read in {window}" if not bad else
              f"unreadable fields: {', '.join(f'{k} ({n}x)' for k, n in bad.most_common(5))}")
    one = records[-1]
    try:
        again = gateway.transaction(int(one["transaction_id"]))
        c.verdict("transactions/export/by_id finds a transaction again by its id",
                  str(again.get("transaction_id")) == str(one["transaction_id"]))
    except (ConnectorError, KeyError, ValueError) as exc:
        c.add("transactions/export/by_id finds a transaction again by its id", FAILS, str(exc)[:200])
    return records


def _refund_links(c: Checks, records: list[dict], window: str) -> None:
    """Whether refunds carry anything that ties them to their sale: paysync links by what real records carry."""
    what = "refund records carry something that links them to their sale"
    refunds = [r for r in records if str(r.get("transaction_type") or "").upper() == "REFUND"]
    if not refunds:
        c.add(what, CANNOT_TELL, f"no refund in {window}")
        return
    seen, unlinked = Counter(), []
    for refund in refunds:
        links = [label for field, label in LINK_FIELDS.items() if _present(refund.get(field))]
        seen.update(links)
        if not links:
            unlinked.append(str(refund.get("transaction_id")))
    carried = ", ".join(f"{label} {n}/{len(refunds)}" for label, n in seen.most_common()) or "nothing"
    detail = f"refunds carry: {carried}"
    if unlinked:
        detail += f"; {len(unlinked)} carry nothing (e.g. {', '.join(unlinked[:3])}): they go on account and to review"
    c.verdict(what, not unlinked, detail, "none: ask PayTrace whether the account can export more")


def _present(value) -> bool:
    if isinstance(value, dict):
        return any(_present(v) for v in value.values())
    return value not in (None, "", 0)


def _statuses(c: Checks, records: list[dict], window: str) -> None:
    codes = Counter(str(r.get("status_code") or "").strip() for r in records)
    unknown = sorted(code for code in codes if not (code in ("Y", "N") or is_settled_status(code)))
    seen = ", ".join(f"{code or 'blank'} ({n})" for code, n in codes.most_common(6))
    c.verdict("card status codes are Y, N, GB<batch> or Settled…", not unknown, f"seen: {seen}",
              "none: report the codes to paysync's maintainers")


def _batches(c: Checks, gateway: PayTraceGateway, start: date, end: date, window: str) -> None:
    what = "batches/export names every batch (number); reconciliation totals each batch from its transactions"
    try:
        batches = gateway.batches(start, end)
    except ConnectorError as exc:
        c.add(what, FAILS, exc.message)
        return
    if not batches:
        c.add(what, CANNOT_TELL, f"no batch settled in {window}")
        return
    unnumbered = [b for b in batches if str(b.get("number") or "").strip() == ""]
    totals = sorted(set().union(*(set(b) for b in batches)) - {"number", "created"})
    c.verdict(what, not unnumbered, (f"{len(batches)} batches; the export also gives {', '.join(totals)} "
                                     f"(held against the derived totals)") if totals else
              f"{len(batches)} batches; no totals in the export (as the evidence says)")
    latest = max((b for b in batches if not str(b.get("number") or "").strip() == ""),
                 key=lambda b: int(b["number"]), default=None)
    if latest is None:
        return
    what = "batches/transaction_list records carry transaction_id, transaction_type and amount"
    try:
        sample = list(islice(gateway.batch_transactions(int(latest["number"])), BATCH_SAMPLE))
    except ConnectorError as exc:
        c.add(what, FAILS, exc.message)
        return
    lacking = Counter(f for r in sample for f in RECORD_FIELDS if r.get(f) in (None, ""))
    c.verdict(what, bool(sample) and not lacking,
              f"batch {latest['number']}: {len(sample)} records read" + (
                  f"; missing {', '.join(f'{k} ({n}x)' for k, n in lacking.items())}" if lacking else ""),
              "none: without these reconciliation cannot total the batch")


def _checks(c: Checks, gateway: PayTraceGateway, settings: Settings, start: date, end: date, window: str) -> None:
    what = "the checks (ACH) export answers (checks/export/by_date_range [I])"
    setting = "PAYTRACE_ACH=false, or PAYTRACE_LAYOUT check_export_by_date_range / check_export_by_id"
    try:
        found = gateway.checks_between(start, end)
    except ConnectorError as exc:
        off = "" if settings.paytrace.ach else " (PAYTRACE_ACH is false: paysync does not read checks anyway)"
        c.add(what, FAILS if settings.paytrace.ach else CANNOT_TELL, f"{exc.message}{off}"[:240],
              setting if settings.paytrace.ach else "")
        return
    note = "" if settings.paytrace.ach else "; PAYTRACE_ACH is false, so paysync does not sync them"
    c.add(what, HOLDS, f"{len(found)} checks in {window}{note}")


def _vault(c: Checks, gateway: PayTraceGateway) -> None:
    try:
        profiles = gateway.customers()
    except ConnectorError as exc:
        c.add("customer/export lists the vault's profiles", FAILS, exc.message)
        return
    c.add("customer/export lists the vault's profiles", HOLDS, f"{len(profiles)} profiles")
