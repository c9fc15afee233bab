"""Writes the Superstore sample into the reference store through its own tables.

Everything goes through `core`, so the module's triggers record the outbox exactly as live
traffic would. Every insert is ON CONFLICT DO NOTHING: loading the file twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from app.store.superstore import SuperstoreFile, SuperstoreLine, read_superstore

CURRENCY = "USD"
STORE_URL = "https://superstore.example"
ORDERS_PER_TRANSACTION = 500


@dataclass(frozen=True)
class LoadReport:
    customers: int
    categories: int
    products: int
    discounts: int
    orders: int
    lines: int
    rejected: int
    notes: tuple[str, ...]

    def summary(self) -> str:
        return (
            f"{self.customers} customers, {self.categories} categories, {self.products} products, "
            f"{self.discounts} discounts, {self.orders} orders, {self.lines} order lines; "
            f"{self.rejected} rows rejected"
        )


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def category_ids(line: SuperstoreLine) -> tuple[str, str]:
    top = f"ss-{slug(line.category)}"
    return top, f"{top}--{slug(line.sub_category)}"


def discount_code(rate: Decimal) -> str:
    return f"SAVE{int(rate * 100)}"


def discount_id(rate: Decimal) -> str:
    return f"ss-discount-{int(rate * 100)}"


def _noon(day: date) -> datetime:
    # The file has days only; noon UTC keeps the day the same in every American time zone.
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _split_name(name: str) -> tuple[str, str | None]:
    first, _, last = name.partition(" ")
    return first, (last or None)


def load_superstore(database_url: str, path: Path) -> tuple[LoadReport, SuperstoreFile]:
    parsed = read_superstore(path)
    lines = parsed.lines
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            categories = _load_categories(conn, lines)
            products = _load_products(conn, lines)
            discounts = _load_discounts(conn, lines)
            customers = _load_customers(conn, lines)
        orders = _group_orders(lines)
        ids = list(orders)
        for start in range(0, len(ids), ORDERS_PER_TRANSACTION):
            with conn.transaction():
                _load_orders(conn, (orders[i] for i in ids[start : start + ORDERS_PER_TRANSACTION]))
    report = LoadReport(
        customers=customers,
        categories=categories,
        products=products,
        discounts=discounts,
        orders=len(orders),
        lines=len(lines),
        rejected=len(parsed.rejected),
        notes=tuple(parsed.notes),
    )
    return report, parsed


def _load_categories(conn: psycopg.Connection, lines: list[SuperstoreLine]) -> int:
    rows: dict[str, tuple[str, str | None, str, str]] = {}
    for line in lines:
        top, sub = category_ids(line)
        rows.setdefault(top, (top, None, line.category, top))
        rows.setdefault(sub, (sub, top, line.sub_category, sub))
    parents_first = sorted(rows.values(), key=lambda r: r[1] is not None)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.categories (id, parent_id, name, slug) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            parents_first,
        )
    return len(rows)


def _list_price_minor(line: SuperstoreLine) -> int:
    """Undiscounted unit price: the line total before its discount, per unit."""
    before_discount = Decimal(line.sales_minor) / (Decimal(1) - line.discount)
    return max(int((before_discount / line.quantity).to_integral_value()), 0)


def _load_products(conn: psycopg.Connection, lines: list[SuperstoreLine]) -> int:
    first: dict[str, SuperstoreLine] = {}
    for line in lines:
        first.setdefault(line.product_id, line)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.products (id, title, handle, url) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [
                (pid, ln.product_name, slug(pid), f"{STORE_URL}/products/{slug(pid)}")
                for pid, ln in first.items()
            ],
        )
        cur.executemany(
            "INSERT INTO core.product_categories (product_id, category_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            [(pid, category_ids(ln)[1]) for pid, ln in first.items()],
        )
        cur.executemany(
            "INSERT INTO core.variants (id, product_id, sku, price_minor, currency,"
            " inventory_quantity) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [
                (f"{pid}-default", pid, pid, _list_price_minor(ln), CURRENCY, 100)
                for pid, ln in first.items()
            ],
        )
    return len(first)


def _load_discounts(conn: psycopg.Connection, lines: list[SuperstoreLine]) -> int:
    rates = sorted({line.discount for line in lines if line.discount > 0})
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.discounts (id, code, kind, percent_off) VALUES (%s, %s, 'percentage',"
            " %s) ON CONFLICT DO NOTHING",
            [(discount_id(r), discount_code(r), r * 100) for r in rates],
        )
    return len(rates)


def _load_customers(conn: psycopg.Connection, lines: list[SuperstoreLine]) -> int:
    # A customer's address is the one on their latest order.
    latest: dict[str, SuperstoreLine] = {}
    for line in lines:
        seen = latest.get(line.customer_id)
        if seen is None or line.order_date >= seen.order_date:
            latest[line.customer_id] = line
    rows = []
    for cid, ln in latest.items():
        first, last = _split_name(ln.customer_name)
        rows.append(
            (
                cid,
                first,
                last,
                ln.city,
                ln.state,
                ln.postal_code,
                ln.country_code,
                Jsonb({"segment": ln.segment, "sales_region": ln.region}),
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.customers (id, first_name, last_name, city, region, postal_code,"
            " country_code, properties) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


def _group_orders(lines: Iterable[SuperstoreLine]) -> dict[str, list[SuperstoreLine]]:
    orders: dict[str, list[SuperstoreLine]] = {}
    for line in lines:
        orders.setdefault(line.order_id, []).append(line)
    return orders


def _load_orders(conn: psycopg.Connection, orders: Iterable[list[SuperstoreLine]]) -> None:
    now = datetime.now(UTC)
    order_rows, line_rows = [], []
    for lines in orders:
        head = lines[0]
        total = sum(ln.sales_minor for ln in lines)
        subtotal = sum(ln.quantity * _list_price_minor(ln) for ln in lines)
        rates = [ln.discount for ln in lines if ln.discount > 0]
        shipped = _noon(head.ship_date)
        fulfilled_at = shipped if shipped <= now else None
        order_rows.append(
            (
                head.order_id,
                head.customer_id,
                head.order_id,
                CURRENCY,
                subtotal,
                max(subtotal - total, 0),
                total,
                discount_code(max(rates)) if rates else None,
                "fulfilled" if fulfilled_at else "placed",
                _noon(head.order_date),
                fulfilled_at,
            )
        )
        for number, ln in enumerate(lines, start=1):
            line_rows.append(
                (
                    head.order_id,
                    number,
                    f"{ln.product_id}-default",
                    ln.product_id,
                    ln.product_id,
                    ln.product_name,
                    ln.quantity,
                    round(ln.sales_minor / ln.quantity),
                    ln.sales_minor,
                )
            )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.orders (id, customer_id, number, currency, subtotal_minor,"
            " discount_minor, total_minor, discount_code, status, placed_at, fulfilled_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            order_rows,
        )
        cur.executemany(
            "INSERT INTO core.order_lines (order_id, line_no, variant_id, product_id, sku, name,"
            " quantity, unit_price_minor, total_minor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            line_rows,
        )
