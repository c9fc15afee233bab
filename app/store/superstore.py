"""Reads the public Superstore sample into typed order lines, reporting every row it cannot use.

The file has a real feed's quirks: a UTF-8 byte-order mark, dates written DD/MM/YY, quoted names
holding commas and doubled quotes, non-breaking spaces inside names, `Sales` as the line total
after discount with up to four decimals, and Product IDs that carry more than one name. Rows are
never repaired by guessing: a row that cannot be read, or that contradicts its own order, is
reported with its line number and reason and left out.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import pycountry

REQUIRED_COLUMNS = (
    "Row ID",
    "Order ID",
    "Order Date",
    "Ship Date",
    "Ship Mode",
    "Customer ID",
    "Customer Name",
    "Segment",
    "Country/Region",
    "City",
    "State/Province",
    "Postal Code",
    "Region",
    "Product ID",
    "Category",
    "Sub-Category",
    "Product Name",
    "Sales",
    "Quantity",
    "Discount",
)
CENT = Decimal("0.01")
_SPACES = re.compile(r"\s+")


class SuperstoreFormatError(ValueError):
    """The file is not the Superstore sample: a header is missing."""


@dataclass(frozen=True)
class SuperstoreLine:
    line_number: int
    order_id: str
    order_date: date
    ship_date: date
    ship_mode: str
    customer_id: str
    customer_name: str
    segment: str
    country_code: str
    city: str
    state: str
    postal_code: str
    region: str
    product_id: str
    category: str
    sub_category: str
    product_name: str
    sales_minor: int
    quantity: int
    discount: Decimal


@dataclass(frozen=True)
class RejectedRow:
    line_number: int
    reason: str


@dataclass
class SuperstoreFile:
    lines: list[SuperstoreLine] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    # Facts worth telling the operator that did not cost a row (e.g. a product with two names).
    notes: list[str] = field(default_factory=list)


def clean_text(value: str) -> str:
    """Non-breaking and repeated spaces become one space; nothing else is touched."""
    return _SPACES.sub(" ", value.replace("\xa0", " ")).strip()


def parse_day(value: str) -> date:
    return datetime.strptime(value.strip(), "%d/%m/%y").date()


def to_minor_units(value: str) -> int:
    """Dollars with up to four decimals → cents, rounded half-even like a ledger."""
    amount = Decimal(value.strip())
    if amount < 0:
        raise ValueError(f"negative amount {value!r}")
    return int(amount.quantize(CENT, rounding=ROUND_HALF_EVEN) * 100)


def country_code(name: str) -> str:
    try:
        return str(pycountry.countries.lookup(name.strip()).alpha_2)
    except LookupError:
        raise ValueError(f"unknown country {name!r}") from None


def _parse_row(line_number: int, row: dict[str, str]) -> SuperstoreLine:
    missing = [c for c in REQUIRED_COLUMNS if not (row.get(c) or "").strip()]
    if missing:
        raise ValueError(f"empty {', '.join(missing)}")
    try:
        quantity = int(row["Quantity"])
        discount = Decimal(row["Discount"].strip())
    except (ValueError, InvalidOperation):
        raise ValueError(
            f"bad Quantity {row['Quantity']!r} or Discount {row['Discount']!r}"
        ) from None
    if quantity <= 0:
        raise ValueError(f"Quantity {quantity} is not positive")
    if not Decimal(0) <= discount < Decimal(1):
        raise ValueError(f"Discount {discount} is outside [0, 1)")
    try:
        sales_minor = to_minor_units(row["Sales"])
    except (ValueError, InvalidOperation):
        raise ValueError(f"bad Sales {row['Sales']!r}") from None
    order_date, ship_date = parse_day(row["Order Date"]), parse_day(row["Ship Date"])
    if ship_date < order_date:
        raise ValueError(f"Ship Date {ship_date} is before Order Date {order_date}")
    return SuperstoreLine(
        line_number=line_number,
        order_id=clean_text(row["Order ID"]),
        order_date=order_date,
        ship_date=ship_date,
        ship_mode=clean_text(row["Ship Mode"]),
        customer_id=clean_text(row["Customer ID"]),
        customer_name=clean_text(row["Customer Name"]),
        segment=clean_text(row["Segment"]),
        country_code=country_code(row["Country/Region"]),
        city=clean_text(row["City"]),
        state=clean_text(row["State/Province"]),
        postal_code=clean_text(row["Postal Code"]),
        region=clean_text(row["Region"]),
        product_id=clean_text(row["Product ID"]),
        category=clean_text(row["Category"]),
        sub_category=clean_text(row["Sub-Category"]),
        product_name=clean_text(row["Product Name"]),
        sales_minor=sales_minor,
        quantity=quantity,
        discount=discount,
    )


def _order_facts(line: SuperstoreLine) -> tuple[object, ...]:
    return (line.customer_id, line.order_date, line.ship_date)


def read_superstore(path: Path) -> SuperstoreFile:
    result = SuperstoreFile()
    # utf-8-sig drops the byte-order mark; csv handles quoted commas and doubled quotes.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise SuperstoreFormatError(f"{path}: missing column(s) {', '.join(absent)}")
        for row in reader:
            # The header is line 1; quoted fields never span lines in this file.
            line_number = reader.line_num
            try:
                result.lines.append(_parse_row(line_number, row))
            except ValueError as exc:
                result.rejected.append(RejectedRow(line_number, str(exc)))
    _reject_contradicting_orders(result)
    _note_products_with_several_names(result)
    return result


def _reject_contradicting_orders(result: SuperstoreFile) -> None:
    """An order is one customer on one day: a line that says otherwise cannot be trusted."""
    first: dict[str, SuperstoreLine] = {}
    kept: list[SuperstoreLine] = []
    for line in result.lines:
        reference = first.setdefault(line.order_id, line)
        if _order_facts(line) != _order_facts(reference):
            result.rejected.append(
                RejectedRow(
                    line.line_number,
                    f"order {line.order_id}: customer/order date/ship date differ from line "
                    f"{reference.line_number}",
                )
            )
            continue
        kept.append(line)
    result.lines = kept


def _note_products_with_several_names(result: SuperstoreFile) -> None:
    names: dict[str, list[str]] = {}
    for line in result.lines:
        seen = names.setdefault(line.product_id, [])
        if line.product_name not in seen:
            seen.append(line.product_name)
    several = {pid: n for pid, n in names.items() if len(n) > 1}
    if several:
        result.notes.append(
            f"{len(several)} product ids carry more than one name; the catalog uses the first "
            "name seen and each order line keeps the name written on it"
        )
