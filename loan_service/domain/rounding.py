"""Exact half-even rounding of integer ratios, for the schedule's hot path.

The schedule keeps every amount as an exact fraction of integers (the annual
rate Decimal becomes numerator/denominator) and rounds once, half-to-even.
That is the same result ``shared.money.quantize_minor`` gives for the same
value as a Decimal (the unit tests check this), without building Decimals
and contexts for every row.
"""

from __future__ import annotations


def div_half_even(num: int, den: int) -> int:
    """``num / den`` rounded half-to-even, exactly (``den`` > 0)."""
    quotient, rest = divmod(num, den)
    twice = rest + rest
    if twice > den or (twice == den and quotient & 1):
        return quotient + 1
    return quotient


def round_multiple(amount: int, multiple: int) -> int:
    """Round whole minor units half-to-even to a multiple of ``multiple`` (>= 1)."""
    if multiple == 1:
        return amount
    return multiple * div_half_even(amount, multiple)


__all__ = ["div_half_even", "round_multiple"]
