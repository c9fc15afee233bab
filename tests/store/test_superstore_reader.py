"""The Superstore reader handles the file's quirks and reports what it cannot use."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.store.superstore import (
    SuperstoreFormatError,
    clean_text,
    read_superstore,
    to_minor_units,
)

HEADER = (
    "Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,Segment,"
    "Country/Region,City,State/Province,Postal Code,Region,Product ID,Category,Sub-Category,"
    "Product Name,Sales,Quantity,Discount,Profit"
)


def _row(**overrides: str) -> str:
    fields = {
        "row": "1",
        "order": "US-2019-1",
        "od": "03/01/19",
        "sd": "07/01/19",
        "mode": "Standard Class",
        "cust": "DP-13000",
        "name": "Darren Powers",
        "seg": "Consumer",
        "country": "United States",
        "city": "Houston",
        "state": "Texas",
        "zip": "77095",
        "region": "Central",
        "pid": "OFF-PA-1",
        "cat": "Office Supplies",
        "sub": "Paper",
        "pname": "Plain Paper",
        "sales": "16.448",
        "qty": "2",
        "disc": "0.2",
        "profit": "5.5",
    }
    fields.update(overrides)
    return ",".join(fields.values())


def _write(tmp_path: Path, *rows: str, bom: bool = True) -> Path:
    path = tmp_path / "superstore.csv"
    text = "\n".join([HEADER, *rows]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_reads_bom_dates_quotes_and_nbsp(tmp_path: Path) -> None:
    quoted = '"Message Book, Wirebound, Four 5 1/2"" X 4"" Forms"'
    path = _write(tmp_path, _row(pname=quoted), _row(row="2", pname="Eldon\xa0Imàge  Series"))
    parsed = read_superstore(path)
    assert parsed.rejected == []
    first, second = parsed.lines
    assert first.order_date == date(2019, 1, 3) and first.ship_date == date(2019, 1, 7)
    assert first.product_name == 'Message Book, Wirebound, Four 5 1/2" X 4" Forms'
    assert second.product_name == "Eldon Imàge Series"
    assert first.country_code == "US"
    assert first.discount == Decimal("0.2")


def test_sales_round_half_even_to_the_cent() -> None:
    assert to_minor_units("16.448") == 1645
    assert to_minor_units("0.125") == 12
    assert to_minor_units("0.135") == 14
    assert to_minor_units("3.54") == 354


def test_rows_that_cannot_be_used_are_reported_not_guessed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _row(),
        _row(row="2", od="31/02/19"),
        _row(row="3", qty="0"),
        _row(row="4", sales="abc"),
        _row(row="5", country="Atlantis"),
        _row(row="6", cust=""),
        _row(row="7", sd="01/01/19"),
    )
    parsed = read_superstore(path)
    assert [line.line_number for line in parsed.lines] == [2]
    reasons = {r.line_number: r.reason for r in parsed.rejected}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "Quantity" in reasons[4]
    assert "Sales" in reasons[5]
    assert "Atlantis" in reasons[6]
    assert "Customer ID" in reasons[7]
    assert "before Order Date" in reasons[8]


def test_a_line_contradicting_its_order_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, _row(), _row(row="2", cust="XX-1"), _row(row="3", pid="OFF-PA-2"))
    parsed = read_superstore(path)
    assert [line.line_number for line in parsed.lines] == [2, 4]
    assert parsed.rejected[0].line_number == 3
    assert "US-2019-1" in parsed.rejected[0].reason


def test_product_with_two_names_is_noted(tmp_path: Path) -> None:
    path = _write(tmp_path, _row(), _row(row="2", order="US-2019-2", pname="Other Name"))
    parsed = read_superstore(path)
    assert len(parsed.lines) == 2
    assert any("more than one name" in note for note in parsed.notes)


def test_not_a_superstore_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SuperstoreFormatError, match="missing column"):
        read_superstore(path)


def test_clean_text_folds_spaces_only() -> None:
    assert clean_text("  A\xa0\xa0B  c ") == "A B c"
