"""Money at push time: integer minor units to Klaviyo amounts, by the currency's own exponent."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision, is_currency


class UnknownCurrency(ValueError):
    """A currency code that ISO 4217 (as babel knows it) does not define."""


# Cached: babel rebuilds its currency list on every lookup, and the drain asks per amount.
@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Digits after the decimal point: JPY 0, USD 2, KWD 3."""
    # babel answers 2 for codes it has never heard of; an unknown code must not pass silently.
    if not is_currency(currency):
        raise UnknownCurrency(f"unknown ISO 4217 currency {currency!r}")
    return get_currency_precision(currency)


def minor_to_amount(minor: int, currency: str) -> int | float:
    """An amount Klaviyo takes as a JSON number: 1999 USD → 19.99, 1999 JPY → 1999."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return int(minor)
    # Through Decimal, so the float is the nearest to the exact decimal amount (19.99, not
    # 19.990000000000002).
    return float(Decimal(int(minor)).scaleb(-exponent))
