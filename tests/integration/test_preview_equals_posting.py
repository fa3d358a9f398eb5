"""What `paysync mapping check` previews is what the workers post: for each ERP, with its shipped mapping
changed where previews and postings once parted (a by-brand clearing account, the reference pattern and
codes, checks' own pattern), for a card sale, an AMEX sale, a check (ACH) and a refund.

The preview is cli.mapping.preview over PayTrace's export record; the postings are read back from the
ERP sandbox's own state (sandbox.summary), after real workers and beat synced them.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from cli.mapping import preview
from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from config.settings import get_settings
from connectors.paytrace import PayTraceClient, PayTraceGateway
from tests.conftest import dump_logs
from tests.integration.erp_checks import dead_reasons, run_statuses, wait_for_runs

pytestmark = pytest.mark.slow

#: The rules that used to differ between the preview and the postings, changed from the shipped files.
CHANGES = (('pattern: "PT{transaction_id}-{code}"', 'pattern: "P{transaction_id}-{code}"\n  ach_pattern: "PA{transaction_id}-{code}"'),
           ("    invoice: INV\n", "    invoice: IN\n"), ("    payment: RCP ", "    payment: RC  "))
#: Each sandbox's chart has these accounts (X3 refuses an account it does not know).
AMEX_CLEARING = {"sage50": ("1205", "1215"), "sage_x3": ("10510", "10515"), "sage_pro": ("1205-00", "1215-00")}
CLEARING = {erp: (f'clearing: "{default}"', f'clearing: {{default: "{default}", by_brand: {{AMEX: "{amex}"}}}}')
            for erp, (default, amex) in AMEX_CLEARING.items()}


def _mapping_dir(tmp_path, erp: str):
    text = (DEFAULT_MAPPINGS_DIR / f"paytrace-{erp}.yaml").read_text()
    for old, new in CHANGES + (CLEARING[erp],):
        assert old in text, old
        text = text.replace(old, new, 1)
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / f"paytrace-{erp}.yaml").write_text(text)
    return folder


def _card_sale(client: PayTraceClient, amount: str, card: str, invoice_id: str) -> int:
    return int(client.transact("transactions/sale/keyed", {
        "amount": amount, "invoice_id": invoice_id, "description": f"Order {invoice_id}",
        "credit_card": {"number": card, "expiration_month": 12, "expiration_year": 2030}, "csc": "999",
        "billing_address": {"name": "Ada Lovelace", "street_address": "1 Main St", "city": "Spokane",
                            "state": "Washington", "zip": "99201", "country": "United States"}})["transaction_id"])


def _by_reference(rows) -> dict:
    return {r["reference"]: r for r in rows}


def _compare(mapping, summary: dict, record: dict, erp: str) -> list[str]:
    """Every difference between the preview of `record` and what the ERP holds for it."""
    p = preview(mapping, record)
    wrong = []
    orders, invoices = _by_reference(summary["sales_orders"]), _by_reference(summary["invoices"])
    payments, journals = _by_reference(summary["payments"]), _by_reference(summary["journals"])
    memos = _by_reference(summary.get("credit_memos", []))
    refunds = _by_reference(summary.get("refunds", []))
    for doc, held in ((p.sales_order, orders), (p.invoice, invoices)):
        if doc is None:
            continue
        got = held.get(doc.reference)
        want = sorted((l.item_id, l.amount) for l in doc.lines)
        if got is None or sorted(got["lines"]) != want or got["amount"] != doc.amount:
            wrong.append(f"{doc.reference}: preview {want}, ERP {got and got['lines']}")
    if p.payment is not None:
        got = payments.get(p.payment.reference)
        want = {"amount": p.payment.amount, "method": p.payment.method}
        want.update({"entry_type": p.payment.entry_type} if erp == "sage_x3" else
                    {"cash_account": p.payment.cash_account})
        if got is None or any(got.get(k) != v for k, v in want.items()):
            wrong.append(f"{p.payment.reference}: preview {want}, ERP {got}")
    if p.credit_memo is not None:
        got = memos.get(p.credit_memo.reference)
        if got is None or got["amount"] != p.credit_memo.amount:
            wrong.append(f"{p.credit_memo.reference}: preview {p.credit_memo.amount}, ERP {got}")
        got = refunds.get(p.refund.reference)
        if got is None or got["amount"] != p.refund.amount:
            wrong.append(f"{p.refund.reference}: preview {p.refund.amount}, ERP {got}")
    want = sorted((l.account, l.amount) for l in p.journal.lines)
    got = journals.get(p.journal.reference)
    if got is None or got["lines"] != want:
        wrong.append(f"{p.journal.reference}: preview {want}, ERP {got and got['lines']}")
    return wrong


@pytest.mark.parametrize("erp", ["sage50", "sage_x3", "sage_pro"])
def test_the_workers_post_exactly_what_mapping_check_previews(stack_factory, tmp_path, erp):
    # given paysync on this ERP, with the mapping rules previews and postings once disagreed on
    folder = _mapping_dir(tmp_path, erp)
    stack = stack_factory(erp=erp, PAYSYNC_MAPPINGS=str(folder), REFUND_LINK_WAIT_SECONDS="0")
    stack.start_worker(concurrency=2)
    stack.start_beat()
    client = PayTraceClient(get_settings().paytrace)
    gateway = PayTraceGateway(client)
    # when a VISA sale, an AMEX sale and a check are made, the day settles and the VISA sale is partly refunded
    visa = _card_sale(client, "120.50", "4012000098765439", "WEB-501")
    amex = _card_sale(client, "75.25", "371449635392376", "WEB-502")
    check = int(client.transact("checks/sale/by_account", {
        "amount": "40.00", "check": {"account_number": "000123456789", "routing_number": "325070760"},
        "billing_address": {"name": "Grace Hopper", "zip": "99202"}, "invoice_id": "WEB-503"})[
        "check_transaction_id"])
    client.call("transactions/settle", {})
    refund = int(client.call("transactions/refund/for_transaction", {"transaction_id": visa, "amount": "20.50"})[
        "transaction_id"])
    ids = [visa, amex, check, refund]
    assert wait_for_runs(stack.database_url, ids, timeout=120) >= len(ids), \
        f"{run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    assert run_statuses(stack.database_url)["dead"] == 0, (dead_reasons(stack.database_url), dump_logs(stack)[-3000:])

    # then for each, the ERP holds exactly the documents the preview shows
    mapping = load_mapping(folder / f"paytrace-{erp}.yaml")
    summary = stack.erp_summary()
    records = [gateway.transaction(t) for t in (visa, amex, refund)] + [gateway.check(check)]
    problems = [line for record in records for line in _compare(mapping, summary, record, erp)]
    assert problems == [], problems
    # and the rules are the changed ones: the AMEX sale cleared to its own account, references by the new pattern
    amex_journal = _by_reference(summary["journals"])[f"P{amex}-JE"]
    assert AMEX_CLEARING[erp][1] in [account for account, _ in amex_journal["lines"]]
    assert f"P{visa}-IN" in _by_reference(summary["invoices"]) and f"PA{check}-RC" in _by_reference(
        summary["payments"])
    assert Decimal(sum(a for _, a in amex_journal["lines"])) == 0
