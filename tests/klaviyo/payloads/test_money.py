"""Minor units to Klaviyo amounts by each currency's own exponent."""

from __future__ import annotations

import pytest

from app.klaviyo.payloads.money import UnknownCurrency, currency_exponent, minor_to_amount


@pytest.mark.parametrize(
    ("currency", "exponent", "minor", "amount"),
    [
        ("JPY", 0, 1999, 1999),
        ("USD", 2, 1999, 19.99),
        ("EUR", 2, 5, 0.05),
        ("KWD", 3, 1999, 1.999),
        ("BHD", 3, 1000, 1.0),
        ("USD", 2, -250, -2.5),
        # Shown without decimals in most locales, yet a hundredth is still their minor unit.
        ("HUF", 2, 1999, 19.99),
        ("COP", 2, 1999, 19.99),
        ("IRR", 2, 1999, 19.99),
        # Shown with no decimals, yet ISO 4217 gives three.
        ("IQD", 3, 1999, 1.999),
    ],
)
def test_exponent_comes_from_the_currency(currency, exponent, minor, amount):
    assert currency_exponent(currency) == exponent
    assert minor_to_amount(minor, currency) == amount


def test_zero_exponent_answers_an_integer():
    assert isinstance(minor_to_amount(1200, "JPY"), int)


def test_unknown_currency_is_named():
    with pytest.raises(UnknownCurrency, match="'ZZZ'"):
        minor_to_amount(100, "ZZZ")


@pytest.mark.parametrize("currency", ["ZZZ", "usd", "XAU"])
def test_a_code_without_an_iso_minor_unit_is_refused(currency):
    with pytest.raises(UnknownCurrency, match=repr(currency)):
        currency_exponent(currency)
