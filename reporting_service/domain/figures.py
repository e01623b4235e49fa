"""Helpers every report shares: percentages, per-currency money, date ranges."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal

from shared.errors import InvalidArgument
from shared.money import Money

# Wide enough that part * 100 / whole of any int64 amounts rounds once, at the quantize.
_CTX = Context(prec=60)
_HUNDREDTH = Decimal("0.01")


def percent(part: int, whole: int) -> str:
    """``part / whole`` in percent with 2 decimals, rounded HALF_EVEN: "56.41".

    "0.00" when ``whole`` is 0 (nothing at risk in an empty portfolio).
    """
    if whole == 0:
        return "0.00"
    value = _CTX.divide(Decimal(part * 100), Decimal(whole))
    return f"{value.quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN, context=_CTX):f}"


def rate(part: int, whole: int) -> str | None:
    """Like ``percent``, but None when ``whole`` is 0: no rate when nothing was due."""
    return None if whole == 0 else percent(part, whole)


def money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor, currency)


def check_range(start: date, end: date) -> None:
    """A report period is ``start`` to ``end`` inclusive; ``from`` after ``to`` is refused."""
    if start > end:
        raise InvalidArgument.field(
            "from", f"{start.isoformat()} is after to ({end.isoformat()})"
        )


__all__ = ["check_range", "money", "percent", "rate"]
