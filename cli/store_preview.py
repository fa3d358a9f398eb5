"""`paysync mapping check` for a file with a store section: its rules, and the lines of a sample order.

The sample is a Shopify order made by the store simulator (two SKUs, a discount that does not
divide evenly, 8% tax, shipping), read the way the workers read a webhook, and built into ERP
lines by the same pure builder the sale flow uses. Nothing is posted and no ERP is asked, so an
unknown SKU shows only if the mapping's SKU map names an item the ERP lacks (known at posting time).
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from flows.order_documents import TotalMismatch, UnknownSku, sales_lines, stock_lines
from schemas.mapping import Mapping
from schemas.store import StoreOrderData, shopify_order


def sample_order(skus: list[str]) -> StoreOrderData:
    from sandbox.shop import create_app

    shop = create_app().test_client()
    lines = [{"sku": skus[0], "quantity": 3, "price": "25.00", "discount": "1.00"},
             {"sku": skus[1] if len(skus) > 1 else "GADGET-1", "quantity": 2, "price": "12.50"}]
    order = shop.post("/_sandbox/orders", json={
        "email": "ada@example.com", "customer": {"first_name": "Ada", "last_name": "Lovelace"},
        "billing_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Way",
                            "city": "Seattle", "province_code": "WA", "zip": "98101", "country_code": "US"},
        "line_items": lines, "shipping": {"title": "Ground", "price": "7.50"}, "tax_rate": "0.08"}).get_json()
    return shopify_order(order)


def show_store(m: Mapping, console: Console) -> bool:
    """Print the store rules and a sample order's ERP lines; False if the sample could not be built."""
    rules = m.store
    head = Table(title="Store orders", title_justify="left", show_header=False)
    head.add_column("rule", style="bold")
    head.add_column("value")
    head.add_row("SKU map", ", ".join(f"{k} -> {v}" for k, v in rules.skus.items()) or "each SKU is its own item")
    head.add_row("unknown SKU", f"fallback to {rules.fallback_item}" if rules.unknown_sku == "fallback"
                 else "a dead letter naming the SKU")
    head.add_row("tax / shipping items", f"{rules.tax_item} / {rules.shipping_item}")
    j = rules.join
    head.add_row("join", f"PayTrace {j.field} = {j.prefix!r} + the order number; each side waits "
                         f"{j.window_minutes} min, then review")
    for status in ("paid", "failed", "refunded", "cancelled"):
        action = rules.statuses.get(status)
        head.add_row(f"store told when {status}", action.describe() if action else "nothing")
    head.add_row("stock", f"pushed to the store ({rules.stock_reason})" if rules.push_stock else "not pushed")
    console.print(head)
    skus = list(rules.skus) or ["WIDGET-1", "GADGET-1"]
    order = sample_order(skus)
    try:
        lines = sales_lines(order, rules)
    except (UnknownSku, TotalMismatch) as exc:
        console.print(f"[bold red]sample order {order.name}: {exc}[/]", highlight=False)
        return False
    table = Table(title=f"Sample store order {order.name} ({order.total_price}) as ERP lines", title_justify="left")
    for column, justify in (("item", "left"), ("description", "left"), ("qty", "right"), ("unit price", "right"),
                            ("amount", "right")):
        table.add_column(column, justify=justify)
    for line in lines:
        table.add_row(line.item_id, line.description, str(line.quantity), f"{line.unit_price:,.2f}",
                      f"{line.amount:,.2f}")
    table.add_row("", "[bold]total[/]", "", "", f"[bold]{sum(l.amount for l in lines):,.2f}[/]")
    console.print(table)
    reserved = ", ".join(f"{s.quantity} x {s.item_id}" for s in stock_lines(order, rules))
    console.print(f"stock reserved with the sales order: {reserved or 'none'}", highlight=False)
    return True
