"""Numbers formatted for executives: currency symbols, thousands separators, percentages with one decimal.

Fractions (0.043) are the storage convention for rates and ratios in the marts; `fmt_pct` multiplies by 100.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from 2 (the rest use 2).
CURRENCY_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "KRW": "₩", "BRL": "R$",
    "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "MXN": "MX$", "HKD": "HK$", "SGD": "S$", "ILS": "₪",
    "CHF": "CHF ", "SEK": "SEK ", "NOK": "NOK ", "DKK": "DKK ", "PLN": "PLN ", "KWD": "KWD ", "ZAR": "R ",
}  # fmt: skip

NA = "n/a"


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def currency_symbol(currency: str) -> str:
    code = currency.upper()
    return CURRENCY_SYMBOLS.get(code, code + " ")


def to_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _sign(value: float) -> str:
    return "-" if value < 0 else ""


def fmt_money(value: float, currency: str) -> str:
    """$1,234,567 for large amounts; cents (the currency's minor units) below 1,000: $89.50."""
    decimals = 0 if abs(value) >= 1000 else currency_exponent(currency)
    return f"{_sign(value)}{currency_symbol(currency)}{abs(value):,.{decimals}f}"


def fmt_money_compact(value: float, currency: str) -> str:
    """Axis labels: $1.2M, $350K, $950."""
    sym = currency_symbol(currency)
    a = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= threshold:
            text = f"{a / threshold:,.1f}".removesuffix(".0")
            return f"{_sign(value)}{sym}{text}{suffix}"
    return f"{_sign(value)}{sym}{a:,.0f}"


def fmt_pct(fraction: float) -> str:
    return f"{fraction * 100:,.1f}%"


def fmt_pct_axis(fraction: float) -> str:
    """Axis ticks: whole percentages when the tick is one (10%), else one decimal (12.5%)."""
    pct = round(fraction * 100, 6)
    return f"{pct:,.0f}%" if pct == int(pct) else f"{pct:,.1f}%"


def fmt_count(value: float) -> str:
    return f"{round(value):,}"


def fmt_ratio(value: float) -> str:
    return f"{value:,.2f}×"


def fmt_months(value: float) -> str:
    return f"{value:,.1f} months"


def fmt_ms(value: float) -> str:
    return f"{value:,.0f} ms"


def fmt_value(kind: str, value: float, currency: str) -> str:
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "count":
        return fmt_count(value)
    if kind == "ratio":
        return fmt_ratio(value)
    if kind == "months":
        return fmt_months(value)
    if kind == "ms":
        return fmt_ms(value)
    return f"{value:,.2f}"


def fmt_delta(kind: str, current: float, previous: float) -> str:
    """Month-over-month change: percentage points for rates, relative change for everything else."""
    if kind == "pct":
        pp = (current - previous) * 100
        return f"{'+' if pp >= 0 else '−'}{abs(pp):,.1f} pp"
    if kind in ("months",):
        d = current - previous
        return f"{'+' if d >= 0 else '−'}{abs(d):,.1f} months"
    if previous == 0:
        return "new" if current != 0 else "±0.0%"
    rel = (current - previous) / abs(previous) * 100
    return f"{'+' if rel >= 0 else '−'}{abs(rel):,.1f}%"


def fmt_month(d: date) -> str:
    return d.strftime("%b %Y")


def fmt_day(d: date) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def fmt_cell(value: object, currency: str = "USD") -> str:
    """A table cell of unknown type (alerts table)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        v = float(value)
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 1 else f"{v:,.2f}"
    return str(value)
