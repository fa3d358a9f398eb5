"""The reconciliation report: a CSV and a self-contained HTML page a finance person can open.

Both are written from the database a thousand items at a time, so a day of a million
transactions never sits in memory: the CSV has a row per batch and per exception, the page has
the batch totals, the changes since the previous run and every exception with what was done.
"""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from jinja2 import Environment

from db.reconcile_models import ReconcileItem, ReconcileRun
from db.session import session_scope
from flows.settlement_rules import subject_reference
from sqlalchemy import select

CSV_COLUMNS = ("record", "batch", "reference", "transaction_id", "class", "expected", "found", "action", "detail")
#: The page lists this many exceptions; the CSV always has them all.
HTML_MAX_EXCEPTIONS = 5000


def report_stem(run: ReconcileRun) -> str:
    suffix = "" if run.number == 1 else f"-run{run.number}"
    return f"reconcile-{run.day.isoformat()}{suffix}"


def exceptions(db_url: str, run_id: int, limit: int | None = None) -> Iterator[ReconcileItem]:
    """The run's exceptions in order, read a thousand at a time."""
    last_id, given = 0, 0
    while limit is None or given < limit:
        with session_scope(db_url) as s:
            rows = s.scalars(select(ReconcileItem).where(ReconcileItem.run_id == run_id, ReconcileItem.is_exception,
                                                         ReconcileItem.id > last_id)
                             .order_by(ReconcileItem.id).limit(1000)).all()
        if not rows:
            return
        last_id = rows[-1].id
        for row in rows:
            if limit is not None and given >= limit:
                return
            given += 1
            yield row


def batch_rows(run: ReconcileRun) -> list[dict]:
    """One summary per batch: PayTrace's totals, what the items add up to, the settlement journal."""
    out = []
    for number, batch in sorted(run.totals.items(), key=lambda kv: int(kv[0])):
        said, items = batch.get("paytrace", {}), batch.get("items", {})
        settlement = batch.get("settlement", {})
        # PayTrace's batch export confirms only the number: totals are what its transactions add up
        # to, held against PayTrace's own where its export gives them (flows/settlement.py).
        own = "net_amount" in said
        out.append({
            "number": number, "created": said.get("created", ""),
            "count": said.get("transaction_count", items.get("transaction_count")),
            "sales": said.get("sales_amount", items.get("sales_amount")),
            "refunds": said.get("refund_amount", items.get("refund_amount")),
            "net": said.get("net_amount") if own else "not given",
            "items_count": items.get("transaction_count"), "items_net": items.get("net_amount"),
            "agrees": not int(items.get("unreadable") or 0) and bool(items) and (
                not own or (_same(said.get("net_amount"), items.get("net_amount"))
                            and said.get("transaction_count", items.get("transaction_count"))
                            == items.get("transaction_count"))),
            "journal": settlement.get("reference", ""), "journal_status": settlement.get("status", ""),
            "journal_detail": settlement.get("detail", "") or settlement.get("key", "") or "",
        })
    return out


def _same(a, b) -> bool:
    return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))


def write_reports(db_url: str, run_id: int, directory: Path) -> tuple[Path, Path]:
    """Write `reconcile-<day>[-runN].csv` and `.html` under `directory`; return both paths."""
    with session_scope(db_url) as s:
        run = s.get(ReconcileRun, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = directory / f"{report_stem(run)}.csv", directory / f"{report_stem(run)}.html"
    batches = batch_rows(run)
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for b in batches:
            writer.writerow(["batch", b["number"], f"PTB{b['number']}", "", "batch_totals", b["net"], b["items_net"],
                             f"{b['journal']} {b['journal_status']}".strip(),
                             f"PayTrace {b['count']} transactions, sales {b['sales']}, refunds {b['refunds']}; "
                             f"items {b['items_count']}"])
        for item in exceptions(db_url, run_id):
            writer.writerow(["exception", item.batch_number or "", subject_reference(item.subject),
                             item.transaction_id or "", item.item_class, _cell(item.expected_amount),
                             _cell(item.found_amount), item.action, item.detail])
    rows = ({"batch": i.batch_number or "", "reference": subject_reference(i.subject), "class": i.item_class,
             "expected": _cell(i.expected_amount), "found": _cell(i.found_amount), "action": i.action,
             "detail": i.detail} for i in exceptions(db_url, run_id, limit=HTML_MAX_EXCEPTIONS))
    page = _TEMPLATE.generate(run=run, batches=batches, rows=rows, limit=HTML_MAX_EXCEPTIONS,
                              counts=sorted(run.counts.items()), changes=run.changes, csv_name=csv_path.name)
    with html_path.open("w", encoding="utf-8") as f:
        for piece in page:
            f.write(piece)
    return csv_path, html_path


def _cell(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


_TEMPLATE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string("""\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Reconciliation {{ run.day }} (run {{ run.number }})</title>
<style>
 body { font: 14px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
 h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
 .meta { color: #666; } table { border-collapse: collapse; margin-top: .5em; }
 th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
 th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
 .ok { color: #17702f; font-weight: 600; } .bad { color: #b00020; font-weight: 600; }
 .pill { display: inline-block; padding: 0 .5em; border-radius: 1em; background: #fde7ea; color: #b00020; }
</style></head><body>
<h1>Settlement reconciliation: {{ run.day }}</h1>
<p class="meta">Run {{ run.number }} ({{ run.trigger }}), ERP {{ run.erp }}, started {{ run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") }}.
{% if run.exceptions %}<span class="bad">{{ run.exceptions }} exception{{ "s" if run.exceptions != 1 }}</span>{% else %}<span class="ok">No exceptions: the books agree with PayTrace.</span>{% endif %}
&nbsp;Full list: {{ csv_name }}</p>

<h2>Batches</h2>
<table><tr><th>Batch</th><th>Closed</th><th>Transactions</th><th>Sales</th><th>Refunds</th><th>Net (PayTrace)</th>
<th>Net (items)</th><th>Totals</th><th>Settlement journal</th></tr>
{% for b in batches %}
<tr><td>{{ b.number }}</td><td>{{ b.created }}</td><td class="n">{{ b.count }}</td><td class="n">{{ b.sales }}</td>
<td class="n">{{ b.refunds }}</td><td class="n">{{ b.net }}</td><td class="n">{{ b.items_net }}</td>
<td>{% if b.agrees %}<span class="ok">agree</span>{% else %}<span class="bad">differ</span>{% endif %}</td>
<td>{{ b.journal }} {{ b.journal_status }} {{ b.journal_detail }}</td></tr>
{% else %}
<tr><td colspan="9">PayTrace settled no batch that day.</td></tr>
{% endfor %}
</table>

<h2>Findings by class</h2>
<table><tr><th>Class</th><th>Count</th></tr>
{% for cls, n in counts %}<tr><td>{{ cls }}</td><td class="n">{{ n }}</td></tr>{% endfor %}
</table>

<h2>Changes since the previous run</h2>
{% if changes.previous_run is none %}<p>First run of this day.</p>
{% elif not changes.transitions and not changes.posted %}<p>No changes since run {{ changes.previous_run }}.</p>
{% else %}
<table><tr><th>From</th><th>To</th><th>Count</th><th>For example</th></tr>
{% for c in changes.transitions %}<tr><td>{{ c["from"] }}</td><td>{{ c.to }}</td><td class="n">{{ c.count }}</td><td>{{ c.example }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if changes.posted %}<p>Settlement journals posted by this run: {{ changes.posted | join(", ") }}.</p>{% endif %}

<h2>Exceptions and what was done</h2>
<table><tr><th>Batch</th><th>Reference</th><th>Class</th><th>PayTrace</th><th>ERP</th><th>Action</th><th>Detail</th></tr>
{% for r in rows %}
<tr><td>{{ r.batch }}</td><td>{{ r.reference }}</td><td><span class="pill">{{ r["class"] }}</span></td>
<td class="n">{{ r.expected }}</td><td class="n">{{ r.found }}</td><td>{{ r.action }}</td><td>{{ r.detail }}</td></tr>
{% else %}
<tr><td colspan="7">None.</td></tr>
{% endfor %}
</table>
{% if run.exceptions > limit %}<p>Only the first {{ limit }} are listed here; {{ csv_name }} has all {{ run.exceptions }}.</p>{% endif %}
</body></html>
""")
