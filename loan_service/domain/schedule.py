"""The repayment schedule: due dates, principal and interest per installment.

Rules (docs/design.md: Schedules; Rounding), and how this module reads them:

Periodic rate
    r = annual / 100 / periods-per-year (52 weekly, 26 bi-weekly, 12 monthly).
    Interest is per period, not per day: a short or long first period (a given
    first repayment date) does not change the interest; it only moves dates.

Due dates
    Weekly and bi-weekly add 7 or 14 days. Monthly adds calendar months to the
    anchor and clamps to the month's end, always counting from the anchor
    (Jan 31 -> Feb 28/29 -> Mar 31). Without a first repayment date the anchor
    is the disbursement date and installment k falls k periods after it; with
    one, installment 1 is on it and installment k falls k-1 periods after it.

Methods (g = principal grace installments, interest-only; k = n - g)
    DECLINING_BALANCE x EQUAL_INSTALLMENTS: interest = outstanding x r;
        installment = EMI = P*r / (1 - (1+r)^-k) over the k amortizing rows
        (P/k when r = 0); principal = installment - interest.
    DECLINING_BALANCE x EQUAL_PRINCIPAL: principal P/k per amortizing row plus
        interest on the outstanding balance.
    FLAT (either amortization): total interest T = P x annual/100 x n/ppy,
        spread evenly over all n rows (grace rows included); principal is
        spread evenly over the k amortizing rows. Both amortizations therefore
        give equal installments, and they coincide up to rounding:
        EQUAL_PRINCIPAL rounds the principal per row (P/k) and adds the
        rounded interest; EQUAL_INSTALLMENTS rounds the installment
        (P/k + T/n) and takes principal = installment - interest. The two
        differ by at most one minor unit (or one rounding multiple) per row.

Rounding
    Every amount is computed as an exact fraction (the Decimal rate becomes
    an integer ratio) and rounded HALF_EVEN to the currency's minor unit,
    then the installment is rounded HALF_EVEN to the rounding multiple. With
    a multiple m > 1 every installment except the last is a multiple of m:
    equal-installment rows round the installment; declining equal-principal
    rows round the installment and let the principal absorb it (correcting
    the drift against P/k each row); interest-only grace rows and flat
    interest round the interest itself. The last installment absorbs every
    remainder, so principals sum to P and interests to the total interest
    exactly. A rounded figure that would overshoot (e.g. (n-1) rounded-up
    shares exceeding the total) is rounded down instead, so nothing is ever
    negative. If a declining EMI rounded to the multiple would over- or
    under-amortize, the neighbouring multiple is used; for loans too small
    for their multiple a row's principal is clamped to [0, outstanding].

Effective APR
    The annualised internal rate of return of the borrower's cash flows:
    + (principal - upfront fee) on the disbursement date, - each installment
    on its due date, with ACTUAL/365 time (years = days / 365) and annual
    compounding, i.e. sum(cf * (1 + APR)^-(days/365)) = 0, as used for
    XIRR and the EU APRC. Solved in float by Newton's method on
    v = ln(1 + APR) (the function is increasing and concave in v, and the
    start point ln(total/net)/mean-time lies left of the root, so Newton
    converges monotonically), then reported in percent with 2 decimals
    (HALF_EVEN). It is informational, never money.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import NamedTuple

from loan_service.domain.products import (
    MAX_INSTALLMENTS,
    Amortization,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.rounding import div_half_even, round_multiple
from shared.errors import InvalidArgument

_STEP_DAYS: dict[RepaymentFrequency, int] = {
    RepaymentFrequency.WEEKLY: 7,
    RepaymentFrequency.BIWEEKLY: 14,
}
_CENT = Decimal("0.01")
# Wide enough to print any APR a float can hold to 2 decimals.
_APR_CTX = Context(prec=400)


class ScheduleRow(NamedTuple):
    """One installment as scheduled. Amounts are minor units of the loan currency."""

    number: int
    due_date: date
    principal: int
    interest: int
    # Fees due with the installment; upfront fees are deducted at disbursement, so 0 today.
    fee: int
    # Penalties are charged later (PENALTY transactions); a new schedule has none.
    penalty: int
    # Scheduled principal balance after this row.
    outstanding_principal_after: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


@dataclass(frozen=True, slots=True)
class Schedule:
    """A frozen schedule and its totals. Amounts are minor units of ``currency``."""

    currency: str
    principal: int
    frequency: RepaymentFrequency
    disbursement_date: date
    rows: tuple[ScheduleRow, ...]
    total_interest: int
    # Fees inside installments (not the upfront fee).
    total_fees: int
    # principal + total_interest + total_fees.
    total_repayable: int
    upfront_fee: int
    # principal - upfront_fee: the cash handed to the borrower.
    net_disbursed: int
    # Percent a year, 2 decimals, e.g. "26.82".
    effective_apr: str

    @property
    def installments(self) -> int:
        return len(self.rows)

    @property
    def first_repayment_date(self) -> date:
        return self.rows[0].due_date

    @property
    def maturity_date(self) -> date:
        return self.rows[-1].due_date


# ------------------------------------------------------------------ due dates


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(anchor: date, months: int) -> date:
    """``anchor`` plus calendar months, clamped to the end of the target month."""
    year, month0 = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    day = anchor.day
    if day > 28:
        # Only late days can need clamping (monthrange also computes a weekday: slower).
        last = 29 if month0 == 1 and calendar.isleap(year) else _MONTH_DAYS[month0]
        day = min(day, last)
    return date(year, month0 + 1, day)


LATEST_DATE = date(9000, 12, 31)


def add_periods(anchor: date, frequency: RepaymentFrequency, periods: int) -> date:
    if frequency is RepaymentFrequency.MONTHLY:
        return add_months(anchor, periods)
    return anchor + timedelta(days=_STEP_DAYS[frequency] * periods)


def due_dates(
    frequency: RepaymentFrequency,
    disbursement_date: date,
    count: int,
    first_repayment_date: date | None = None,
) -> list[date]:
    """Due dates of ``count`` installments, each counted from the anchor (never chained)."""
    if first_repayment_date is None:
        anchor, offset = disbursement_date, 1
    else:
        anchor, offset = first_repayment_date, 0
    if frequency is not RepaymentFrequency.MONTHLY:
        step = _STEP_DAYS[frequency]
        start = anchor.toordinal() + step * offset
        return [date.fromordinal(start + step * k) for k in range(count)]
    # add_months inlined (this is the schedule's hot path).
    year, month0, day = anchor.year, anchor.month - 1, anchor.day
    out: list[date] = []
    for k in range(offset, count + offset):
        years, m = divmod(month0 + k, 12)
        y = year + years
        if day > 28:
            last = 29 if m == 1 and calendar.isleap(y) else _MONTH_DAYS[m]
            out.append(date(y, m + 1, min(day, last)))
        else:
            out.append(date(y, m + 1, day))
    return out


def check_first_repayment_date(
    frequency: RepaymentFrequency, disbursement_date: date, first_repayment_date: date
) -> None:
    """After the disbursement and at most two periods after it.

    Interest is charged per period, so a later first date would stretch the
    first period for free; two periods leaves room to align with a meeting day.
    """
    latest = add_periods(disbursement_date, frequency, 2)
    if not disbursement_date < first_repayment_date <= latest:
        raise InvalidArgument.field(
            "first_repayment_date",
            f"must be after the disbursement date {disbursement_date.isoformat()} and "
            f"no later than {latest.isoformat()}",
        )


# ------------------------------------------------------------------ amounts


def _over(share: int, count: int, total: int) -> bool:
    """Would ``count`` rows of ``share`` overshoot ``total``?"""
    return share * count > total


def _emi(principal: int, k: int, rnum: int, rden: int) -> int:
    """EMI = P*r / (1 - (1+r)^-k), r = rnum/rden, rounded half-even; exact."""
    if rnum == 0:
        return div_half_even(principal, k)
    # With R = rden + rnum: EMI = P * rnum * R^k / (rden * (R^k - rden^k)).
    grown = (rden + rnum) ** k
    return div_half_even(principal * rnum * grown, rden * (grown - rden**k))


def _amortize(
    principal: int, k: int, rnum: int, rden: int, part_of: Callable[[int, int, int], int]
) -> tuple[list[int], list[int]]:
    """Declining-balance rows: each row's interest is on what is still outstanding, its
    principal ``part_of(row index, interest, outstanding)``; the last row takes the rest."""
    outstanding = principal
    principals: list[int] = []
    interests: list[int] = []
    for j in range(k - 1):
        interest = div_half_even(outstanding * rnum, rden)
        part = part_of(j, interest, outstanding)
        principals.append(part)
        interests.append(interest)
        outstanding -= part
    principals.append(outstanding)
    interests.append(div_half_even(outstanding * rnum, rden))
    return principals, interests


def _declining_equal_installments(
    principal: int, k: int, rnum: int, rden: int, installment: int
) -> tuple[list[int], list[int], int]:
    """Rows for a fixed installment; the third value is 0, or +1/-1 if a row was clamped."""
    clamped = 0

    def part_of(_: int, interest: int, outstanding: int) -> int:
        nonlocal clamped
        part = installment - interest
        if part < 0:
            part, clamped = 0, clamped or -1
        elif part > outstanding:
            part, clamped = outstanding, clamped or 1
        return part

    principals, interests = _amortize(principal, k, rnum, rden, part_of)
    return principals, interests, clamped


def _declining(
    principal: int,
    n: int,
    grace: int,
    rnum: int,
    rden: int,
    amortization: Amortization,
    multiple: int,
) -> tuple[list[int], list[int]]:
    k = n - grace
    principals = [0] * grace
    interests = [round_multiple(div_half_even(principal * rnum, rden), multiple)] * grace
    if amortization is Amortization.EQUAL_INSTALLMENTS:
        exact = _emi(principal, k, rnum, rden)
        installment = round_multiple(exact, multiple)
        ps, is_, clamped = _declining_equal_installments(principal, k, rnum, rden, installment)
        if clamped:
            # Too big overshoots the principal early, too small never amortizes: step once.
            alt = installment - multiple if clamped > 0 else installment + multiple
            alt_ps, alt_is, alt_clamped = _declining_equal_installments(
                principal, k, rnum, rden, alt
            )
            if not alt_clamped:
                ps, is_ = alt_ps, alt_is
        principals.extend(ps)
        interests.extend(is_)
        return principals, interests
    share = div_half_even(principal, k)
    if _over(share, k - 1, principal):
        share = principal // k

    def part_of(j: int, interest: int, outstanding: int) -> int:
        if multiple == 1:
            return share
        # Round the installment; steer cumulative principal back to (j + 1) * share.
        due = (j + 1) * share - (principal - outstanding)
        part = round_multiple(due + interest, multiple) - interest
        return min(max(part, 0), outstanding)

    ps, is_ = _amortize(principal, k, rnum, rden, part_of)
    principals.extend(ps)
    interests.extend(is_)
    return principals, interests


def _flat(
    principal: int,
    n: int,
    grace: int,
    rnum: int,
    rden: int,
    amortization: Amortization,
    multiple: int,
) -> tuple[list[int], list[int]]:
    k = n - grace
    total_interest = div_half_even(principal * rnum * n, rden)
    per_row = div_half_even(total_interest, n)
    if _over(per_row, n - 1, total_interest):
        per_row = total_interest // n
    if multiple > 1 and n > 1:
        per_row = round_multiple(per_row, multiple)
        if _over(per_row, n - 1, total_interest):
            per_row = total_interest // (n - 1) // multiple * multiple
    interests = [per_row] * (n - 1)
    interests.append(total_interest - per_row * (n - 1))
    if amortization is Amortization.EQUAL_PRINCIPAL:
        share = div_half_even(principal, k)
        if _over(share, k - 1, principal):
            share = principal // k
        share = round_multiple(share, multiple)
    else:
        # Round the whole installment P/k + T/n; principal is what is left after interest.
        installment = round_multiple(
            div_half_even(principal * n + total_interest * k, n * k), multiple
        )
        share = max(installment - per_row, 0)
    if k > 1 and _over(share, k - 1, principal):
        share = principal // (k - 1) // multiple * multiple
    principals = [0] * grace + [share] * (k - 1)
    principals.append(principal - share * (k - 1))
    return principals, interests


# ------------------------------------------------------------------ APR


def effective_apr(net_disbursed: int, start: date, flows: list[tuple[date, int]]) -> str:
    """Annualised IRR (ACTUAL/365, annual compounding) in percent, 2 decimals."""
    return _apr(
        net_disbursed, start.toordinal(), [d.toordinal() for d, _ in flows], [a for _, a in flows]
    )


def _apr(net_disbursed: int, start: int, days: list[int], paid: list[int]) -> str:
    """``effective_apr`` on date ordinals: ``paid[i]`` falls due on ordinal ``days[i]``."""
    if net_disbursed <= 0 or not days:
        raise InvalidArgument.field("principal", "must exceed the upfront fee")
    net = float(net_disbursed)
    times = [(day - start) / 365.0 for day in days]
    amounts = [amount / net for amount in paid]
    total = math.fsum(amounts)
    if total <= 1.0:
        # Paying back no more than was received: no cost (or a negative one, reported as 0).
        return "0.00"
    mean_time = math.fsum(a * t for a, t in zip(amounts, times, strict=True)) / total
    if mean_time <= 0:
        return "0.00"
    # f(v) = 1 - sum(a * e^(-v t)); by Jensen f(v0) <= 0, so Newton climbs to the root.
    v = math.log(total) / mean_time
    for _ in range(100):
        value = 1.0
        slope = 0.0
        for a, t in zip(amounts, times, strict=True):
            x = a * math.exp(-v * t)
            value -= x
            slope += x * t
        if slope <= 0.0:
            break
        step = value / slope
        v -= step
        if abs(step) <= 1e-12 * max(1.0, v):
            break
    if v < 700.0:
        percent = Decimal(repr(math.expm1(v) * 100.0))
    else:
        percent = (_APR_CTX.exp(Decimal(repr(v))) - 1) * 100
    return str(percent.quantize(_CENT, rounding=ROUND_HALF_EVEN, context=_APR_CTX))


# ------------------------------------------------------------------ schedule


def generate_schedule(
    terms: ProductTerms,
    principal: int,
    installments: int,
    disbursement_date: date,
    first_repayment_date: date | None = None,
    *,
    check_ranges: bool = True,
) -> Schedule:
    """Build the schedule of a loan on ``terms``. Pure; amounts in minor units.

    ``check_ranges`` also checks the principal and term against the product's
    ranges (InvalidArgument on "principal"/"installments").
    """
    if check_ranges:
        terms.check_request(principal, installments)
    else:
        if not isinstance(principal, int) or principal <= 0:
            raise InvalidArgument.field("principal", "must be a positive amount")
        grace = terms.principal_grace_installments
        if not isinstance(installments, int) or not grace < installments <= MAX_INSTALLMENTS:
            raise InvalidArgument.field(
                "installments", f"must be above {grace} and at most {MAX_INSTALLMENTS}"
            )
    frequency = terms.frequency
    # Due dates run up to ~45 years past these; far beyond any real loan, and short of
    # the calendar's end (date.max), where the arithmetic would fail.
    for name, value in (
        ("disbursement_date", disbursement_date),
        ("first_repayment_date", first_repayment_date),
    ):
        if value is not None and value > LATEST_DATE:
            raise InvalidArgument.field(name, f"must not be after {LATEST_DATE.isoformat()}")
    if first_repayment_date is not None:
        check_first_repayment_date(frequency, disbursement_date, first_repayment_date)
    fee = terms.upfront_fee(principal)
    if fee >= principal:
        raise InvalidArgument.field("principal", "must exceed the upfront fee")
    rate_num, rate_den = terms.rate_ratio
    rnum = rate_num
    rden = rate_den * 100 * frequency.periods_per_year
    grace = terms.principal_grace_installments
    multiple = terms.rounding_multiple_minor
    if terms.interest_method is InterestMethod.FLAT:
        principals, interests = _flat(
            principal, installments, grace, rnum, rden, terms.amortization, multiple
        )
    else:
        principals, interests = _declining(
            principal, installments, grace, rnum, rden, terms.amortization, multiple
        )
    dates = due_dates(frequency, disbursement_date, installments, first_repayment_date)
    rows: list[ScheduleRow] = []
    make = tuple.__new__  # ScheduleRow(...) through its generated __new__ is slower
    outstanding = principal
    for number, (due, part, interest) in enumerate(
        zip(dates, principals, interests, strict=True), start=1
    ):
        outstanding -= part
        rows.append(make(ScheduleRow, (number, due, part, interest, 0, 0, outstanding)))
    total_interest = sum(interests)
    net = principal - fee
    paid = [part + interest for part, interest in zip(principals, interests, strict=True)]
    return Schedule(
        currency=terms.currency,
        principal=principal,
        frequency=frequency,
        disbursement_date=disbursement_date,
        rows=tuple(rows),
        total_interest=total_interest,
        total_fees=0,
        total_repayable=principal + total_interest,
        upfront_fee=fee,
        net_disbursed=net,
        effective_apr=_apr(
            net, disbursement_date.toordinal(), [d.toordinal() for d in dates], paid
        ),
    )


__all__ = [
    "Schedule",
    "ScheduleRow",
    "add_months",
    "add_periods",
    "check_first_repayment_date",
    "due_dates",
    "effective_apr",
    "generate_schedule",
]
