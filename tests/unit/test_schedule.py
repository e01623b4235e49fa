"""Golden schedules, checked by hand: every expected row is a literal with its arithmetic.

Conventions: amounts are minor units; r is the periodic rate; "HE" is
half-to-even rounding to the minor unit. Rates are chosen so r = 1% in each
frequency (12% monthly, 26% bi-weekly, 52% weekly) to keep the arithmetic
checkable by hand; the dates are what differ.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from loan_service.adapters.loan_repository import schedule_from_doc, schedule_to_doc
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import (
    Schedule,
    add_months,
    due_dates,
    effective_apr,
    generate_schedule,
)
from shared.errors import InvalidArgument

FLAT = InterestMethod.FLAT
DECLINING = InterestMethod.DECLINING_BALANCE
EI = Amortization.EQUAL_INSTALLMENTS
EP = Amortization.EQUAL_PRINCIPAL
WEEKLY = RepaymentFrequency.WEEKLY
BIWEEKLY = RepaymentFrequency.BIWEEKLY
MONTHLY = RepaymentFrequency.MONTHLY


def terms(
    method: InterestMethod,
    amortization: Amortization,
    frequency: RepaymentFrequency,
    rate: str,
    *,
    grace: int = 0,
    multiple: int = 1,
    currency: str = "USD",
    fee: FeeTerms | None = None,
    principal_min: int = 100,
) -> ProductTerms:
    return ProductTerms(
        currency=currency,
        principal_min=principal_min,
        principal_max=10**12,
        installments_min=grace + 1,
        installments_max=520,
        frequency=frequency,
        interest_method=method,
        amortization=amortization,
        annual_rate=Decimal(rate),
        principal_grace_installments=grace,
        rounding_multiple_minor=multiple,
        fee=fee,
    ).validate()


def rows_of(schedule: Schedule) -> list[tuple[str, int, int, int]]:
    return [
        (row.due_date.isoformat(), row.principal, row.interest, row.outstanding_principal_after)
        for row in schedule.rows
    ]


# (id, method, amortization, frequency, rate, principal, n, start, expected rows, total interest)
GOLDEN = [
    # ---------------------------------------------------------------- monthly, r = 12%/12 = 1%
    (
        # T = 100030 * 12/100 * 3/12 = 3000.9 -> 3001; interest/row = HE(3001/3 = 1000.33) = 1000,
        # last 3001 - 2000 = 1001. Installment = HE(100030/3 + 3001/3 = 34343.67) = 34344,
        # principal 34344 - 1000 = 33344 (x2), last 100030 - 66688 = 33342.
        "flat-ei-monthly", FLAT, EI, MONTHLY, "12", 100030, 3, date(2026, 1, 15),
        [("2026-02-15", 33344, 1000, 66686), ("2026-03-15", 33344, 1000, 33342),
         ("2026-04-15", 33342, 1001, 0)],
        3001,
    ),
    (
        # Same loan, equal principal: principal/row = HE(100030/3 = 33343.33) = 33343 (x2),
        # last 100030 - 66686 = 33344; interest as above. Installments 34343, 34343, 34345:
        # the two flat amortizations differ by one minor unit here, from rounding alone.
        "flat-ep-monthly", FLAT, EP, MONTHLY, "12", 100030, 3, date(2026, 1, 15),
        [("2026-02-15", 33343, 1000, 66687), ("2026-03-15", 33343, 1000, 33344),
         ("2026-04-15", 33344, 1001, 0)],
        3001,
    ),
    (
        # EMI = 100000 * 0.01 / (1 - 1.01^-3) = 34002.2111 -> 34002.
        # 1: I = 100000 * 0.01 = 1000, P = 33002, left 66998
        # 2: I = 669.98 -> 670, P = 33332, left 33666
        # 3: I = 336.66 -> 337, P = 33666 (all that is left), installment 34003
        "declining-ei-monthly", DECLINING, EI, MONTHLY, "12", 100000, 3, date(2026, 1, 15),
        [("2026-02-15", 33002, 1000, 66998), ("2026-03-15", 33332, 670, 33666),
         ("2026-04-15", 33666, 337, 0)],
        2007,
    ),
    (
        # principal/row = HE(100000/3 = 33333.33) = 33333, last 33334.
        # I: 1000; 66667 * 0.01 = 666.67 -> 667; 33334 * 0.01 = 333.34 -> 333.
        "declining-ep-monthly", DECLINING, EP, MONTHLY, "12", 100000, 3, date(2026, 1, 15),
        [("2026-02-15", 33333, 1000, 66667), ("2026-03-15", 33333, 667, 33334),
         ("2026-04-15", 33334, 333, 0)],
        2000,
    ),
    # ---------------------------------------------------------------- bi-weekly, r = 26%/26 = 1%
    (
        # T = 100010 * 26/100 * 4/26 = 4000.4 -> 4000, interest/row 1000.
        # Installment = HE(100010/4 + 4000/4 = 26002.5) = 26002 (a tie: to even),
        # principal 25002 (x3), last 100010 - 75006 = 25004. Every 14 days from Jan 5.
        "flat-ei-biweekly", FLAT, EI, BIWEEKLY, "26", 100010, 4, date(2026, 1, 5),
        [("2026-01-19", 25002, 1000, 75008), ("2026-02-02", 25002, 1000, 50006),
         ("2026-02-16", 25002, 1000, 25004), ("2026-03-02", 25004, 1000, 0)],
        4000,
    ),
    (
        # Equal principal: HE(100010/4 = 25002.5) = 25002 (tie to even); interest 1000.
        # Coincides with flat x equal installments: no rounding crosses here.
        "flat-ep-biweekly", FLAT, EP, BIWEEKLY, "26", 100010, 4, date(2026, 1, 5),
        [("2026-01-19", 25002, 1000, 75008), ("2026-02-02", 25002, 1000, 50006),
         ("2026-02-16", 25002, 1000, 25004), ("2026-03-02", 25004, 1000, 0)],
        4000,
    ),
    (
        # EMI = 100000 * 0.01 / (1 - 1.01^-4) = 25628.1094 -> 25628.
        # 1: I 1000, P 24628, left 75372
        # 2: I 753.72 -> 754, P 24874, left 50498
        # 3: I 504.98 -> 505, P 25123, left 25375
        # 4: I 253.75 -> 254, P 25375
        "declining-ei-biweekly", DECLINING, EI, BIWEEKLY, "26", 100000, 4, date(2026, 1, 5),
        [("2026-01-19", 24628, 1000, 75372), ("2026-02-02", 24874, 754, 50498),
         ("2026-02-16", 25123, 505, 25375), ("2026-03-02", 25375, 254, 0)],
        2513,
    ),
    (
        # 25000 per row; I = 1% of 100000, 75000, 50000, 25000.
        "declining-ep-biweekly", DECLINING, EP, BIWEEKLY, "26", 100000, 4, date(2026, 1, 5),
        [("2026-01-19", 25000, 1000, 75000), ("2026-02-02", 25000, 750, 50000),
         ("2026-02-16", 25000, 500, 25000), ("2026-03-02", 25000, 250, 0)],
        2500,
    ),
    # ---------------------------------------------------------------- weekly, r = 52%/52 = 1%
    (
        # T = 50001 * 52/100 * 4/52 = 2000.04 -> 2000, interest/row 500.
        # Installment = HE(50001/4 + 500 = 13000.25) = 13000, principal 12500 (x3),
        # last 50001 - 37500 = 12501.
        "flat-ei-weekly", FLAT, EI, WEEKLY, "52", 50001, 4, date(2026, 1, 5),
        [("2026-01-12", 12500, 500, 37501), ("2026-01-19", 12500, 500, 25001),
         ("2026-01-26", 12500, 500, 12501), ("2026-02-02", 12501, 500, 0)],
        2000,
    ),
    (
        # HE(50001/4 = 12500.25) = 12500 per row, last 12501: same as above.
        "flat-ep-weekly", FLAT, EP, WEEKLY, "52", 50001, 4, date(2026, 1, 5),
        [("2026-01-12", 12500, 500, 37501), ("2026-01-19", 12500, 500, 25001),
         ("2026-01-26", 12500, 500, 12501), ("2026-02-02", 12501, 500, 0)],
        2000,
    ),
    (
        # EMI = 50000 * 0.01 / (1 - 1.01^-4) = 12814.0547 -> 12814.
        # 1: I 500, P 12314, left 37686
        # 2: I 376.86 -> 377, P 12437, left 25249
        # 3: I 252.49 -> 252, P 12562, left 12687
        # 4: I 126.87 -> 127, P 12687
        "declining-ei-weekly", DECLINING, EI, WEEKLY, "52", 50000, 4, date(2026, 1, 5),
        [("2026-01-12", 12314, 500, 37686), ("2026-01-19", 12437, 377, 25249),
         ("2026-01-26", 12562, 252, 12687), ("2026-02-02", 12687, 127, 0)],
        1256,
    ),
    (
        # 12500 per row; I = 1% of 50000, 37500, 25000, 12500.
        "declining-ep-weekly", DECLINING, EP, WEEKLY, "52", 50000, 4, date(2026, 1, 5),
        [("2026-01-12", 12500, 500, 37500), ("2026-01-19", 12500, 375, 25000),
         ("2026-01-26", 12500, 250, 12500), ("2026-02-02", 12500, 125, 0)],
        1250,
    ),
]


@pytest.mark.parametrize(
    ("method", "amortization", "frequency", "rate", "principal", "n", "start", "rows", "interest"),
    [pytest.param(*case[1:], id=case[0]) for case in GOLDEN],
)
def test_golden_schedules(
    method: InterestMethod,
    amortization: Amortization,
    frequency: RepaymentFrequency,
    rate: str,
    principal: int,
    n: int,
    start: date,
    rows: list[tuple[str, int, int, int]],
    interest: int,
) -> None:
    schedule = generate_schedule(terms(method, amortization, frequency, rate), principal, n, start)
    assert rows_of(schedule) == rows
    assert schedule.total_interest == interest
    assert schedule.total_repayable == principal + interest
    assert schedule.upfront_fee == 0
    assert schedule.net_disbursed == principal
    assert [row.number for row in schedule.rows] == list(range(1, n + 1))
    assert all(row.fee == 0 and row.penalty == 0 for row in schedule.rows)


def test_golden_declining_grace_period() -> None:
    # Grace 2 of 5: rows 1-2 interest only, 1% of 100000 = 1000 each; the EMI is then
    # computed over the 3 remaining rows, exactly as the 3-month golden above.
    schedule = generate_schedule(
        terms(DECLINING, EI, MONTHLY, "12", grace=2), 100000, 5, date(2026, 1, 15)
    )
    assert rows_of(schedule) == [
        ("2026-02-15", 0, 1000, 100000),
        ("2026-03-15", 0, 1000, 100000),
        ("2026-04-15", 33002, 1000, 66998),
        ("2026-05-15", 33332, 670, 33666),
        ("2026-06-15", 33666, 337, 0),
    ]
    assert schedule.total_interest == 4007


def test_golden_flat_grace_period() -> None:
    # T = 100000 * 12/100 * 4/12 = 4000 over all 4 rows (1000 each, grace row included);
    # principal over the 3 amortizing rows: HE(33333.33) = 33333, 33333, last 33334.
    schedule = generate_schedule(
        terms(FLAT, EP, MONTHLY, "12", grace=1), 100000, 4, date(2026, 1, 15)
    )
    assert rows_of(schedule) == [
        ("2026-02-15", 0, 1000, 100000),
        ("2026-03-15", 33333, 1000, 66667),
        ("2026-04-15", 33333, 1000, 33334),
        ("2026-05-15", 33334, 1000, 0),
    ]
    assert schedule.total_interest == 4000


def test_golden_rounding_multiple_100_declining_equal_installments() -> None:
    # UGX has no minor digits. EMI = 500000 * 0.01 / (1 - 1.01^-4) = 128140.547 -> 128141,
    # then to the multiple: HE(1281.41) * 100 = 128100.
    # 1: I 5000, P 123100, left 376900
    # 2: I 3769, P 124331, left 252569
    # 3: I 2525.69 -> 2526, P 125574, left 126995
    # 4: I 1269.95 -> 1270, P 126995: installment 128265 absorbs the rounding
    schedule = generate_schedule(
        terms(DECLINING, EI, WEEKLY, "52", multiple=100, currency="UGX"),
        500000,
        4,
        date(2026, 1, 5),
    )
    assert rows_of(schedule) == [
        ("2026-01-12", 123100, 5000, 376900),
        ("2026-01-19", 124331, 3769, 252569),
        ("2026-01-26", 125574, 2526, 126995),
        ("2026-02-02", 126995, 1270, 0),
    ]
    assert [row.total for row in schedule.rows] == [128100, 128100, 128100, 128265]
    assert schedule.total_interest == 12565


def test_golden_rounding_multiple_100_flat_equal_installments() -> None:
    # T = 500050 * 52/100 * 4/52 = 20002; interest/row HE(5000.5) = 5000 (tie to even),
    # already a multiple of 100; last 20002 - 15000 = 5002.
    # Installment HE(500050/4 + 20002/4 = 130013) = 130013 -> HE(1300.13) * 100 = 130000,
    # principal 125000 (x3), last 500050 - 375000 = 125050.
    schedule = generate_schedule(
        terms(FLAT, EI, WEEKLY, "52", multiple=100, currency="UGX"),
        500050,
        4,
        date(2026, 1, 5),
    )
    assert rows_of(schedule) == [
        ("2026-01-12", 125000, 5000, 375050),
        ("2026-01-19", 125000, 5000, 250050),
        ("2026-01-26", 125000, 5000, 125050),
        ("2026-02-02", 125050, 5002, 0),
    ]
    assert [row.total for row in schedule.rows] == [130000, 130000, 130000, 130052]


def test_golden_rounding_multiple_100_declining_equal_principal() -> None:
    # Share 125000/row; the installment is rounded and principal absorbs it, steering the
    # cumulative principal back to j * 125000 each row.
    # 1: I 5000; 125000 + 5000 = 130000 -> P 125000, left 375000
    # 2: I 3750; 125000 + 3750 = 128750 -> HE(1287.5) = 1288 -> 128800, P 125050, left 249950
    # 3: I 2499.5 -> 2500 (tie to even); due 375000 - 250050 = 124950; 124950 + 2500 = 127450
    #    -> HE(1274.5) = 1274 -> 127400, P 124900, left 125050
    # 4: I 1250.5 -> 1250 (tie to even); P 125050: installment 126300
    schedule = generate_schedule(
        terms(DECLINING, EP, WEEKLY, "52", multiple=100, currency="UGX"),
        500000,
        4,
        date(2026, 1, 5),
    )
    assert rows_of(schedule) == [
        ("2026-01-12", 125000, 5000, 375000),
        ("2026-01-19", 125050, 3750, 249950),
        ("2026-01-26", 124900, 2500, 125050),
        ("2026-02-02", 125050, 1250, 0),
    ]
    assert [row.total for row in schedule.rows] == [130000, 128800, 127400, 126300]


@pytest.mark.parametrize(
    ("method", "amortization"), [(FLAT, EI), (FLAT, EP), (DECLINING, EI), (DECLINING, EP)]
)
def test_golden_zero_interest(method: InterestMethod, amortization: Amortization) -> None:
    # No interest: principal HE(100000/3 = 33333.33) = 33333 per row, last 33334.
    schedule = generate_schedule(
        terms(method, amortization, MONTHLY, "0"), 100000, 3, date(2026, 1, 15)
    )
    assert rows_of(schedule) == [
        ("2026-02-15", 33333, 0, 66667),
        ("2026-03-15", 33333, 0, 33334),
        ("2026-04-15", 33334, 0, 0),
    ]
    assert schedule.total_interest == 0
    assert schedule.effective_apr == "0.00"


@pytest.mark.parametrize(
    ("method", "amortization"), [(FLAT, EI), (FLAT, EP), (DECLINING, EI), (DECLINING, EP)]
)
def test_golden_one_installment(method: InterestMethod, amortization: Amortization) -> None:
    # One month at 1%: 100000 + 1000 on Feb 15, whatever the method.
    # APR = 1.01^(365/31) - 1 = e^(11.7742 * 0.0099503) - 1 = 12.4296% -> "12.43".
    schedule = generate_schedule(
        terms(method, amortization, MONTHLY, "12"), 100000, 1, date(2026, 1, 15)
    )
    assert rows_of(schedule) == [("2026-02-15", 100000, 1000, 0)]
    assert schedule.effective_apr == "12.43"


def test_golden_31st_of_month_start() -> None:
    # Anchored on Jan 31 2024 (leap year): Feb 29, Mar 31, Apr 30 - each counted from the
    # anchor, so March is back on the 31st. EMI as the 3-month golden above.
    schedule = generate_schedule(
        terms(DECLINING, EI, MONTHLY, "12"), 100000, 3, date(2024, 1, 31)
    )
    assert rows_of(schedule) == [
        ("2024-02-29", 33002, 1000, 66998),
        ("2024-03-31", 33332, 670, 33666),
        ("2024-04-30", 33666, 337, 0),
    ]


@pytest.mark.parametrize(
    ("disbursed", "first", "field"),
    [
        (date(9999, 6, 1), None, "disbursement_date"),
        (date(2026, 1, 10), date(9999, 12, 31), "first_repayment_date"),
    ],
)
def test_dates_near_the_end_of_the_calendar_are_invalid_argument(
    disbursed: date, first: date | None, field: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        generate_schedule(terms(DECLINING, EI, MONTHLY, "12"), 100000, 520, disbursed, first)
    assert err.value.violations[0].field == field


def test_first_repayment_date_anchors_later_installments() -> None:
    # Installment 1 on the given date, the rest counted from it (not from disbursement).
    schedule = generate_schedule(
        terms(DECLINING, EI, MONTHLY, "12"), 100000, 3, date(2026, 1, 10), date(2026, 1, 31)
    )
    assert [row.due_date for row in schedule.rows] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]
    weekly = generate_schedule(
        terms(FLAT, EI, WEEKLY, "52"), 50000, 3, date(2026, 1, 5), date(2026, 1, 9)
    )
    assert [row.due_date for row in weekly.rows] == [
        date(2026, 1, 9),
        date(2026, 1, 16),
        date(2026, 1, 23),
    ]


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 3, 31), 11, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 5, 30), 9, date(2027, 2, 28)),
        (date(2026, 1, 1), 24, date(2028, 1, 1)),
    ],
)
def test_add_months_clamps_to_month_end(anchor: date, months: int, expected: date) -> None:
    assert add_months(anchor, months) == expected


def test_due_dates_by_frequency() -> None:
    start = date(2026, 1, 31)
    assert due_dates(WEEKLY, start, 3) == [date(2026, 2, 7), date(2026, 2, 14), date(2026, 2, 21)]
    assert due_dates(BIWEEKLY, start, 2) == [date(2026, 2, 14), date(2026, 2, 28)]
    assert due_dates(MONTHLY, start, 4) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]


def test_upfront_fee_and_apr() -> None:
    # Fee 2% of 100000 = 2000 deducted: the borrower gets 98000 and repays the EMI schedule.
    fee = FeeTerms(ChargeType.PERCENT, percent=Decimal(2))
    schedule = generate_schedule(
        terms(DECLINING, EI, MONTHLY, "12", fee=fee), 100000, 3, date(2026, 1, 15)
    )
    assert schedule.upfront_fee == 2000
    assert schedule.net_disbursed == 98000
    assert schedule.total_repayable == 102007
    # The APR is the root of NPV: NPV at APR - 0.005% is > 0 and at APR + 0.005% is < 0.
    apr = Decimal(schedule.effective_apr)
    flows = [((row.due_date - schedule.disbursement_date).days, row.total) for row in schedule.rows]

    def npv(percent: Decimal) -> float:
        rate = float(percent) / 100
        return 98000 - math.fsum(amount / (1 + rate) ** (days / 365) for days, amount in flows)

    assert npv(apr - Decimal("0.005")) < 0 < npv(apr + Decimal("0.005"))
    # Flows +98000 on Jan 15, -34002 after 31 and 59 days, -34003 after 90 days: bisection
    # on NPV at 50 digits puts the root at 27.70782%: the fee lifts the cost from 12.87%
    # (the same loan without it) to 27.71%.
    assert schedule.effective_apr == "27.71"
    no_fee = generate_schedule(terms(DECLINING, EI, MONTHLY, "12"), 100000, 3, date(2026, 1, 15))
    assert no_fee.effective_apr == "12.87"


def test_fixed_fee() -> None:
    fee = FeeTerms(ChargeType.FIXED, fixed_amount_minor=1500)
    schedule = generate_schedule(
        terms(FLAT, EI, WEEKLY, "0", fee=fee, principal_min=2000), 50000, 4, date(2026, 1, 5)
    )
    assert (schedule.upfront_fee, schedule.net_disbursed) == (1500, 48500)
    assert Decimal(schedule.effective_apr) > 0


def test_apr_of_plain_cash_flows() -> None:
    # Borrow 1000, repay 1100 exactly one year (365 days) later: 10.00%.
    assert effective_apr(1000, date(2025, 1, 1), [(date(2026, 1, 1), 1100)]) == "10.00"
    # Repaying exactly the amount received costs nothing.
    assert effective_apr(1000, date(2025, 1, 1), [(date(2025, 7, 1), 1000)]) == "0.00"
    # Two payments of 600 at 6 and 12 months for 1000: (1+i)^-0.4959 * 600 + ... = 1000.
    apr = effective_apr(1000, date(2025, 1, 1), [(date(2025, 7, 1), 600), (date(2026, 1, 1), 600)])
    i = float(apr) / 100
    assert math.isclose(600 / (1 + i) ** (181 / 365) + 600 / (1 + i), 1000, rel_tol=1e-4)


def test_extreme_apr_is_still_a_decimal_string() -> None:
    # 999% a year, weekly, a 99% fee: an absurd but valid product must not crash.
    fee = FeeTerms(ChargeType.PERCENT, percent=Decimal("99"))
    schedule = generate_schedule(
        terms(FLAT, EI, WEEKLY, "999", fee=fee), 1000000, 1, date(2026, 1, 5)
    )
    Decimal(schedule.effective_apr)  # parses
    assert schedule.effective_apr.endswith(tuple("0123456789"))
    assert "E" not in schedule.effective_apr


def test_schedule_round_trips_through_dict() -> None:
    schedule = generate_schedule(
        terms(DECLINING, EI, MONTHLY, "24.5"), 123456, 12, date(2026, 1, 31)
    )
    assert schedule_from_doc(schedule_to_doc(schedule)) == schedule


@pytest.mark.parametrize(
    ("principal", "n", "first", "field"),
    [
        (99, 3, None, "principal"),
        (10**13, 3, None, "principal"),
        (100000, 0, None, "installments"),
        (100000, 521, None, "installments"),
        (100000, 3, date(2026, 1, 15), "first_repayment_date"),
        (100000, 3, date(2026, 1, 1), "first_repayment_date"),
        (100000, 3, date(2026, 3, 16), "first_repayment_date"),
    ],
)
def test_schedule_input_errors_name_the_field(
    principal: int, n: int, first: date | None, field: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        generate_schedule(
            terms(DECLINING, EI, MONTHLY, "12"), principal, n, date(2026, 1, 15), first
        )
    assert [v.field for v in info.value.violations] == [field]


def test_installments_must_exceed_grace() -> None:
    product = terms(DECLINING, EI, MONTHLY, "12", grace=2)
    with pytest.raises(InvalidArgument) as info:
        generate_schedule(product, 100000, 2, date(2026, 1, 15))
    assert info.value.violations[0].field == "installments"


def test_without_range_checks_only_sanity_is_checked() -> None:
    product = terms(DECLINING, EI, MONTHLY, "12", grace=1)
    # Outside the product's principal range, but a valid loan: allowed for previews.
    schedule = generate_schedule(product, 50, 2, date(2026, 1, 15), check_ranges=False)
    assert sum(row.principal for row in schedule.rows) == 50
    for principal, n, field in [(0, 3, "principal"), (100, 1, "installments"),
                                (100, 521, "installments")]:
        with pytest.raises(InvalidArgument) as info:
            generate_schedule(product, principal, n, date(2026, 1, 15), check_ranges=False)
        assert info.value.violations[0].field == field
