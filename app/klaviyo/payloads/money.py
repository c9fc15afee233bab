"""Money at push time: integer minor units to Klaviyo amounts, by the currency's own exponent.

The exponent is ISO 4217's minor unit (the `iso4217` package ships the published table), not
the digits a locale shows: HUF, COP or IRR are displayed without decimals, yet their minor
unit is still a hundredth, so 1999 minor units of HUF are 19.99 HUF.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from iso4217 import Currency


class UnknownCurrency(ValueError):
    """A currency code ISO 4217 does not define, or one without a minor unit (gold, XDR)."""


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Digits after the decimal point by ISO 4217: JPY 0, USD 2, HUF 2, KWD 3."""
    entry = Currency.__members__.get(currency)
    # The enum also answers lower-case aliases; Klaviyo takes the upper-case code only.
    if entry is None or entry.code != currency:
        raise UnknownCurrency(f"unknown ISO 4217 currency {currency!r}")
    if entry.exponent is None:
        raise UnknownCurrency(f"ISO 4217 currency {currency!r} has no minor unit")
    return entry.exponent


def minor_to_amount(minor: int, currency: str) -> int | float:
    """An amount Klaviyo takes as a JSON number: 1999 USD → 19.99, 1999 JPY → 1999."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return int(minor)
    # Through Decimal, so the float is the nearest to the exact decimal amount (19.99, not
    # 19.990000000000002).
    return float(Decimal(int(minor)).scaleb(-exponent))
