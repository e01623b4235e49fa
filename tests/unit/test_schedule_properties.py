"""Properties of the schedule engine, over generated loans."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.adapters.loan_repository import schedule_from_doc, schedule_to_doc
from loan_service.domain.products import (
    Amortization,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.rounding import div_half_even, round_multiple
from loan_service.domain.schedule import Schedule, add_months, generate_schedule
from shared.money import quantize_minor, round_to_multiple

MAX_N = {RepaymentFrequency.WEEKLY: 104, RepaymentFrequency.BIWEEKLY: 52,
         RepaymentFrequency.MONTHLY: 60}
CTX = Context(prec=80)


@dataclass(frozen=True)
class Case:
    terms: ProductTerms
    principal: int
    n: int
    start: date
    first: date | None

    def schedule(self) -> Schedule:
        return generate_schedule(self.terms, self.principal, self.n, self.start, self.first)

    @property
    def grace(self) -> int:
        return self.terms.principal_grace_installments

    @property
    def rate(self) -> Decimal:
        """Periodic rate r = annual / 100 / periods-per-year (to 80 digits)."""
        return CTX.divide(self.terms.annual_rate, 100 * self.terms.frequency.periods_per_year)

    @property
    def exact_rate(self) -> Fraction:
        """The same rate as an exact fraction: 100% / 26 is not a finite decimal."""
        return Fraction(self.terms.annual_rate) / (100 * self.terms.frequency.periods_per_year)


def half_even(value: Fraction) -> int:
    # Python's round() of a Fraction is exact and rounds ties to even.
    return round(value)


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    methods: tuple[InterestMethod, ...] = tuple(InterestMethod),
    amortizations: tuple[Amortization, ...] = tuple(Amortization),
    multiples: tuple[int, ...] = (1,),
    max_rate: int = 100,
    min_principal: int = 10_000,
    max_principal: int = 10**9,
    grace: bool = True,
) -> Case:
    frequency = draw(st.sampled_from(RepaymentFrequency))
    n = draw(st.integers(1, MAX_N[frequency]))
    g = draw(st.integers(0, min(3, n - 1))) if grace else 0
    multiple = draw(st.sampled_from(multiples))
    principal = draw(st.integers(max(min_principal, multiple), max_principal))
    rate = draw(st.decimals(min_value=0, max_value=max_rate, places=2))
    start = draw(st.dates(date(2020, 1, 1), date(2035, 12, 31)))
    # Within the allowed window (after disbursement, at most two periods later).
    longest = {RepaymentFrequency.WEEKLY: 14, RepaymentFrequency.BIWEEKLY: 28}.get(frequency, 56)
    first = draw(
        st.none() | st.integers(1, longest).map(lambda days: start + timedelta(days=days))
    )
    terms = ProductTerms(
        currency=draw(st.sampled_from(["USD", "UGX", "KWD"])),
        principal_min=multiple,
        principal_max=10**12,
        installments_min=g + 1,
        installments_max=520,
        frequency=frequency,
        interest_method=draw(st.sampled_from(methods)),
        amortization=draw(st.sampled_from(amortizations)),
        annual_rate=rate,
        principal_grace_installments=g,
        rounding_multiple_minor=multiple,
    ).validate()
    return Case(terms, principal, n, start, first)


def closed_form_emi(principal: int, r: Decimal, k: int) -> Decimal:
    if r == 0:
        return CTX.divide(Decimal(principal), k)
    one_plus = CTX.add(1, r)
    return CTX.divide(CTX.multiply(principal, r), CTX.subtract(1, CTX.power(one_plus, -k)))


# Anything goes here, including absurd rates, tiny principals and coarse multiples.
WILD = cases(multiples=(1, 5, 100, 1000), max_rate=999, min_principal=1, max_principal=10**12)


@settings(max_examples=400, deadline=None)
@given(WILD)
def test_totals_are_exact_and_nothing_is_negative(case: Case) -> None:
    schedule = case.schedule()
    rows = schedule.rows
    assert len(rows) == case.n
    assert sum(row.principal for row in rows) == case.principal
    assert sum(row.interest for row in rows) == schedule.total_interest
    assert schedule.total_repayable == case.principal + schedule.total_interest
    assert all(row.principal >= 0 and row.interest >= 0 for row in rows)
    outstanding = case.principal
    for row in rows:
        outstanding -= row.principal
        assert row.outstanding_principal_after == outstanding >= 0
    assert rows[-1].outstanding_principal_after == 0
    # Grace rows are interest-only.
    assert all(row.principal == 0 for row in rows[: case.grace])
    Decimal(schedule.effective_apr)  # always a decimal string


@settings(max_examples=300, deadline=None)
@given(WILD)
def test_flat_total_interest_is_the_formula(case: Case) -> None:
    if case.terms.interest_method is not InterestMethod.FLAT:
        return
    # T = P * annual/100 * n/ppy, half-even to the minor unit.
    exact = case.principal * case.exact_rate * case.n
    assert case.schedule().total_interest == half_even(exact)


@settings(max_examples=300, deadline=None)
@given(cases(methods=(InterestMethod.DECLINING_BALANCE,), multiples=(1, 100)))
def test_declining_interest_never_increases(case: Case) -> None:
    rows = case.schedule().rows
    # Grace rows round their interest to the multiple (they have no principal to absorb
    # it), so with a multiple the comparison starts at the first amortizing row.
    start = 0 if case.terms.rounding_multiple_minor == 1 else case.grace
    interests = [row.interest for row in rows[start:]]
    assert all(later <= earlier for earlier, later in itertools.pairwise(interests))
    # And each is the outstanding balance times r, half-even.
    balance = case.principal
    for index, row in enumerate(rows):
        if index >= case.grace:
            assert row.interest == half_even(balance * case.exact_rate)
        balance -= row.principal


@settings(max_examples=300, deadline=None)
@given(
    cases(
        methods=(InterestMethod.DECLINING_BALANCE,),
        amortizations=(Amortization.EQUAL_INSTALLMENTS,),
    )
)
def test_emi_installments_equal_and_match_the_annuity_formula(case: Case) -> None:
    rows = case.schedule().rows
    amortizing = [row.total for row in rows[case.grace :]]
    assert len(set(amortizing[:-1])) <= 1, "installments equal except the last"
    k = case.n - case.grace
    emi = closed_form_emi(case.principal, case.rate, k)
    # EMI = P*r / (1 - (1+r)^-k), within one minor unit (rounding multiple 1).
    for total in amortizing[:-1]:
        assert abs(total - emi) <= 1
    # The last one absorbs the rounding of the k-1 rows before it: each row is off by at
    # most one unit (1/2 from the EMI, 1/2 from its interest), growing by (1+r) a period.
    growth = sum(CTX.power(1 + case.rate, j) for j in range(k))
    assert abs(amortizing[-1] - emi) <= growth + 1


@settings(max_examples=200, deadline=None)
@given(
    cases(
        methods=(InterestMethod.DECLINING_BALANCE,),
        amortizations=(Amortization.EQUAL_INSTALLMENTS,),
        multiples=(100,),
        min_principal=10**7,
    )
)
def test_emi_rounded_to_a_multiple(case: Case) -> None:
    rows = case.schedule().rows
    amortizing = [row.total for row in rows[case.grace :]]
    assert len(set(amortizing[:-1])) <= 1
    assert all(total % 100 == 0 for total in amortizing[:-1])
    k = case.n - case.grace
    emi = closed_form_emi(case.principal, case.rate, k)
    for total in amortizing[:-1]:
        # Half-even to 100, or the neighbouring multiple when that one over-amortizes.
        assert abs(total - emi) <= 100


@settings(max_examples=300, deadline=None)
@given(cases(multiples=(1, 5, 100), min_principal=10**7))
def test_every_installment_but_the_last_is_a_multiple(case: Case) -> None:
    multiple = case.terms.rounding_multiple_minor
    rows = case.schedule().rows
    assert all(row.total % multiple == 0 for row in rows[:-1])


@settings(max_examples=300, deadline=None)
@given(cases(methods=(InterestMethod.FLAT,)))
def test_flat_rows_are_even(case: Case) -> None:
    rows = case.schedule().rows
    assert len({row.interest for row in rows[:-1]}) <= 1
    assert len({row.principal for row in rows[case.grace : -1]}) <= 1
    # Installments are equal (apart from grace rows and the last) in both amortizations.
    assert len({row.total for row in rows[case.grace : -1]}) <= 1


@settings(max_examples=200, deadline=None)
@given(
    cases(
        methods=(InterestMethod.DECLINING_BALANCE,),
        amortizations=(Amortization.EQUAL_PRINCIPAL,),
    )
)
def test_declining_equal_principal_rows(case: Case) -> None:
    rows = case.schedule().rows
    k = case.n - case.grace
    share = half_even(Fraction(case.principal, k))
    assert all(row.principal == share for row in rows[case.grace : -1])


@settings(max_examples=300, deadline=None)
@given(cases())
def test_due_dates_count_from_the_anchor(case: Case) -> None:
    rows = case.schedule().rows
    dates = [row.due_date for row in rows]
    assert all(a < b for a, b in itertools.pairwise(dates))
    assert dates[0] > case.start
    frequency = case.terms.frequency
    anchor, offset = (case.start, 1) if case.first is None else (case.first, 0)
    for k, due in enumerate(dates):
        if frequency is RepaymentFrequency.MONTHLY:
            assert due == add_months(anchor, k + offset)
        else:
            step = 7 if frequency is RepaymentFrequency.WEEKLY else 14
            assert due == anchor + timedelta(days=step * (k + offset))


@settings(max_examples=200, deadline=None)
@given(cases(max_rate=200))
def test_apr_is_the_rounded_root_of_the_cash_flows(case: Case) -> None:
    schedule = case.schedule()
    apr = Decimal(schedule.effective_apr)
    assert apr >= 0
    flows = [((row.due_date - case.start).days / 365, row.total) for row in schedule.rows]

    def npv(percent: Decimal) -> float:
        rate = float(percent) / 100
        return schedule.net_disbursed - math.fsum(
            amount * (1 + rate) ** -years for years, amount in flows
        )

    if schedule.total_repayable > schedule.net_disbursed:
        # The reported figure is within half a hundredth of a percent of the root.
        assert npv(apr - Decimal("0.006")) <= 1e-6 * case.principal
        assert npv(apr + Decimal("0.006")) >= -1e-6 * case.principal


@settings(max_examples=500, deadline=None)
@given(st.integers(-(10**30), 10**30), st.integers(1, 10**20))
def test_integer_half_even_matches_decimal_quantize(num: int, den: int) -> None:
    expected = quantize_minor(CTX.divide(Decimal(num), Decimal(den)), ROUND_HALF_EVEN)
    assert div_half_even(num, den) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**15), 10**15), st.sampled_from([1, 5, 10, 100, 1000]))
def test_integer_multiple_rounding_matches_shared_helper(amount: int, multiple: int) -> None:
    assert round_multiple(amount, multiple) == round_to_multiple(amount, multiple)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_schedules_are_deterministic_and_serialisable(case: Case) -> None:
    first = case.schedule()
    assert case.schedule() == first
    assert schedule_from_doc(schedule_to_doc(first)) == first
