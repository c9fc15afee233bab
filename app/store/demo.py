"""The built-in demo store: generated deterministically, with the spread a real store has.

Unicode names, several currencies (exponents 0, 2 and 3), phones written the national way,
customers missing e-mail, phone or country, nested categories, variants without images, orders
with discount codes, cancellations and refunds, carts at checkout and product views.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

SEED = 20261204
STORE_URL = "https://demo-store.example"
# (country, currency, locale, national phone pattern, first names, last names)
MARKETS = (
    (
        "US",
        "USD",
        "en-US",
        "(212) 555-{:04d}",
        ("Ava", "Noah", "Zoë", "Mateo"),
        ("Smith", "García"),
    ),
    ("DE", "EUR", "de-DE", "030 1234{:04d}", ("Jürgen", "Lena", "Anaïs"), ("Müller", "Straße")),
    ("JP", "JPY", "ja-JP", "03-1234-{:04d}", ("陽菜", "蓮", "さくら"), ("佐藤", "鈴木")),
    ("KW", "KWD", "ar-KW", "2222 {:04d}", ("فاطمة", "Omar"), ("الكندري", "Al-Sabah")),
    ("GB", "GBP", "en-GB", "020 7946 {:04d}", ("Siobhán", "Oliver"), ("O'Brien", "Ó Súilleabháin")),
)
CATEGORY_TREE = {
    "Apparel": ("Shirts", "Jackets"),
    "Home": ("Kitchen", "Lighting"),
    "Outdoor": ("Camping",),
}
DISCOUNTS = (("WELCOME10", 10), ("SUMMER25", 25), ("VIP40", 40))


@dataclass(frozen=True)
class DemoSize:
    customers: int = 300
    products: int = 40
    orders: int = 600
    carts: int = 80
    views: int = 200


def load_demo_store(database_url: str, size: DemoSize | None = None) -> str:
    size = size or DemoSize()
    rng = random.Random(SEED)
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        categories = _categories(cur)
        variants = _catalog(cur, rng, size, categories)
        _discounts(cur)
        customers = _customers(cur, rng, size, now)
        _orders(cur, rng, size, now, customers, variants)
        _carts_and_views(cur, rng, size, now, customers, variants)
    return (
        f"{len(customers)} customers, {size.products} products ({len(variants)} variants), "
        f"{size.orders} orders, {size.carts} carts, {size.views} product views"
    )


def _categories(cur: psycopg.Cursor) -> list[str]:
    leaves = []
    for top, children in CATEGORY_TREE.items():
        top_id = f"demo-{top.lower()}"
        cur.execute(
            "INSERT INTO core.categories (id, name, slug) VALUES (%s, %s, %s)",
            (top_id, top, top_id),
        )
        for child in children:
            child_id = f"{top_id}-{child.lower()}"
            cur.execute(
                "INSERT INTO core.categories (id, parent_id, name, slug) VALUES (%s, %s, %s, %s)",
                (child_id, top_id, child, child_id),
            )
            leaves.append(child_id)
    return leaves


def _catalog(
    cur: psycopg.Cursor, rng: random.Random, size: DemoSize, categories: list[str]
) -> list[tuple[str, str, str, int, str]]:
    adjectives = ("Classic", "Ultraléger", "Nordic", "Café", "Everyday", "Premium")
    nouns = ("Shirt", "Jacket", "Kettle", "Lamp", "Tent", "Mug", "Lantern", "Hoodie")
    variants = []
    for n in range(1, size.products + 1):
        product_id = f"demo-product-{n:03d}"
        title = f"{rng.choice(adjectives)} {rng.choice(nouns)} {n}"
        described = rng.random() > 0.2
        cur.execute(
            "INSERT INTO core.products (id, title, description, handle, url, brand, image_url)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                product_id,
                title,
                f"The {title}, made to last." if described else None,
                product_id,
                f"{STORE_URL}/products/{product_id}",
                rng.choice(("Acme", "Nord", None)),
                f"{STORE_URL}/img/{product_id}.jpg" if rng.random() > 0.15 else None,
            ),
        )
        cur.execute(
            "INSERT INTO core.product_categories (product_id, category_id) VALUES (%s, %s)",
            (product_id, rng.choice(categories)),
        )
        for v, label in enumerate(rng.sample(("S", "M", "L", "Blue", "Red"), rng.randint(1, 3))):
            variant_id = f"{product_id}-v{v + 1}"
            price = rng.randint(500, 25000)
            cur.execute(
                "INSERT INTO core.variants (id, product_id, sku, title, price_minor, currency,"
                " inventory_quantity) VALUES (%s, %s, %s, %s, %s, 'USD', %s)",
                (
                    variant_id,
                    product_id,
                    f"SKU-{n:03d}-{v + 1}" if rng.random() > 0.1 else None,
                    label,
                    price,
                    rng.randint(0, 50),
                ),
            )
            variants.append((variant_id, product_id, title, price, label))
    return variants


def _discounts(cur: psycopg.Cursor) -> None:
    for code, percent in DISCOUNTS:
        cur.execute(
            "INSERT INTO core.discounts (id, code, kind, percent_off) VALUES (%s, %s, 'percentage',"
            " %s)",
            (f"demo-{code.lower()}", code, percent),
        )


def _customers(
    cur: psycopg.Cursor, rng: random.Random, size: DemoSize, now: datetime
) -> list[tuple[str, str]]:
    customers = []
    for n in range(1, size.customers + 1):
        country, currency, locale, phone, firsts, lasts = rng.choice(MARKETS)
        first, last = rng.choice(firsts), rng.choice(lasts)
        has_email = rng.random() > 0.1
        subscribed = rng.random() > 0.4
        customer_id = f"demo-customer-{n:04d}"
        cur.execute(
            "INSERT INTO core.customers (id, email, phone, first_name, last_name, locale, city,"
            " country_code, accepts_email_marketing, consent_updated_at, properties)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                customer_id,
                f"shopper{n}@demo-store.example" if has_email else None,
                phone.format(n) if rng.random() > 0.2 else ("12" if n % 37 == 0 else None),
                first,
                last,
                locale,
                None if n % 11 == 0 else "Springfield",
                None if n % 13 == 0 else country,
                subscribed,
                now - timedelta(days=rng.randint(1, 400)) if subscribed else None,
                Jsonb({"loyalty_tier": rng.choice(("bronze", "silver", "gold"))}),
            ),
        )
        customers.append((customer_id, currency))
    return customers


def _orders(cur, rng, size, now, customers, variants) -> None:  # type: ignore[no-untyped-def]
    for n in range(1, size.orders + 1):
        customer_id, currency = rng.choice(customers)
        placed = now - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
        lines = rng.sample(variants, rng.randint(1, 4))
        code, percent = rng.choice((*DISCOUNTS, (None, 0), (None, 0)))
        rows = [(v, rng.randint(1, 3)) for v in lines]
        subtotal = sum(price * qty for (_, _, _, price, _), qty in rows)
        discount = subtotal * percent // 100
        fate = rng.random()
        status, extra = "placed", {}
        if fate < 0.6:
            status, extra = "fulfilled", {"fulfilled_at": placed + timedelta(days=2)}
        elif fate < 0.7:
            status, extra = (
                "cancelled",
                {
                    "cancelled_at": placed + timedelta(hours=3),
                    "cancel_reason": "customer changed their mind",
                },
            )
        elif fate < 0.75:
            status, extra = (
                "refunded",
                {
                    "fulfilled_at": placed + timedelta(days=2),
                    "refunded_at": placed + timedelta(days=9),
                    "refund_reason": "arrived damaged",
                },
            )
        order_id = f"demo-order-{n:05d}"
        columns = [
            "id",
            "customer_id",
            "number",
            "currency",
            "subtotal_minor",
            "discount_minor",
            "total_minor",
            "discount_code",
            "status",
            "placed_at",
            *extra,
        ]
        values = [
            order_id,
            customer_id,
            f"D{n:05d}",
            "USD",
            subtotal,
            discount,
            subtotal - discount,
            code,
            status,
            placed,
            *extra.values(),
        ]
        cur.execute(
            f"INSERT INTO core.orders ({', '.join(columns)}) VALUES "
            f"({', '.join(['%s'] * len(values))})",
            values,
        )
        for line_no, ((variant_id, product_id, title, price, label), qty) in enumerate(rows, 1):
            cur.execute(
                "INSERT INTO core.order_lines (order_id, line_no, variant_id, product_id, sku,"
                " name, quantity, unit_price_minor, total_minor)"
                " VALUES (%s, %s, %s, %s, NULL, %s, %s, %s, %s)",
                (
                    order_id,
                    line_no,
                    variant_id,
                    product_id,
                    f"{title} ({label})",
                    qty,
                    price,
                    price * qty,
                ),
            )


def _carts_and_views(cur, rng, size, now, customers, variants) -> None:  # type: ignore[no-untyped-def]
    for n in range(1, size.carts + 1):
        customer_id, _ = rng.choice(customers)
        cart_id = f"demo-cart-{n:04d}"
        started = now - timedelta(hours=rng.randint(1, 72))
        cur.execute(
            "INSERT INTO core.carts (id, customer_id, currency, checkout_url, checkout_started_at)"
            " VALUES (%s, %s, 'USD', %s, %s)",
            (
                cart_id,
                customer_id,
                f"{STORE_URL}/checkout/{cart_id}",
                started if rng.random() > 0.3 else None,
            ),
        )
        for line_no, (variant_id, product_id, title, price, _) in enumerate(
            rng.sample(variants, rng.randint(1, 3)), 1
        ):
            cur.execute(
                "INSERT INTO core.cart_lines (cart_id, line_no, variant_id, product_id, name,"
                " quantity, unit_price_minor, added_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    cart_id,
                    line_no,
                    variant_id,
                    product_id,
                    title,
                    rng.randint(1, 2),
                    price,
                    started - timedelta(minutes=10),
                ),
            )
    for _ in range(size.views):
        customer_id, _ = rng.choice(customers)
        variant_id, product_id, *_ = rng.choice(variants)
        cur.execute(
            "INSERT INTO core.product_views (customer_id, product_id, variant_id, viewed_at)"
            " VALUES (%s, %s, %s, %s)",
            (customer_id, product_id, variant_id, now - timedelta(hours=rng.randint(1, 500))),
        )
