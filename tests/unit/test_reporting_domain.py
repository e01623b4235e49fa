"""Portfolio reports over a hand-made portfolio, run through a daily end of day.

Product: 1200.00 USD, FLAT 12% a year, monthly, 12 installments, so each
installment is 10,000 principal + 1,200 interest = 11,200 (minor units);
late penalty 500 fixed after 3 grace days. Report date 2026-06-30.

    loan  agent  borrower  disbursed    history                                   DPD
    A     ag-1   bor-1     2026-01-15   pays #1-#5 on their due dates (15th);       0
                                        5,000 more on 06-20 (#6 is due 07-15)
    B     ag-1   bor-2     2026-03-25   pays #1 on 04-25; #2 (05-25) late, on      5
                                        06-03 with its penalty (11,700); #3 due
                                        06-25 unpaid
    C     ag-2   bor-3     2026-02-26   pays #1, #2 on time; #3 (05-26) and #4    35
                                        (06-26) unpaid; a 1,000 payment on 06-05
                                        bounced (reversed 06-07)
    D     ag-2   bor-3     2026-02-27   never pays; #1 due 03-27                   95
    E     ag-2   bor-4     2025-12-01   never pays; written off 06-01;
                                        2,000 recovered on 06-20

By hand, on 2026-06-30 (only A-D are active; E left the book):

    outstanding principal  A 120,000 - 5 x 10,000 - 3,800 = 66,200 (the 5,000 on
                           06-20 pays #6's interest 1,200 first: #6's period has begun)
                           B 100,000   C 100,000   D 120,000   total 386,200
    PAR1   B+C+D 320,000 / 386,200 = 82.8586% -> "82.86"
    PAR30  C+D   220,000 / 386,200 = 56.9653% -> "56.97"
    PAR90  D     120,000 / 386,200 = 31.0720% -> "31.07"
    aging  current A; 1-30 B; 31-60 C; 91-180 D
    arrears  B: #3 11,200 + its penalty 500 = 11,700
             C: #3, #4 22,400 + 2 penalties 1,000 = 23,400
             D: #1-#4 44,800 + 3 penalties 1,500 (#4's grace ends 06-30) = 46,300

Collection efficiency, June (06-01 to 06-30):

    ag-1  due: A #5 11,200 + B #3 11,200 = 22,400; collected against it: A #5 11,200
          arrears repaid: B #2 11,200 (penalty 500 apart); prepaid: A #6 5,000
          rate 11,200 / 22,400 = "50.00"
    ag-2  due: C #4 + D #4 = 22,400; collected 0; rate "0.00"
          (E's installments after its write-off are not due; its recovery is not
          a collection against anything due)
    all   22,400 + 22,400 = 44,800 due, 11,200 collected: "25.00"
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.domain.eod import ArrearsEvent, LoanRefs, evaluate_loan
from loan_service.domain.ledger import (
    LoanState,
    Transaction,
    TransactionType,
    apply_repayment,
    disburse,
    replay,
    reverse_repayment,
    write_off,
)
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule
from reporting_service.domain import export
from reporting_service.domain.facts import (
    ApplicationFact,
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.domain.flows import (
    Granularity,
    agent_performance,
    collection_efficiency,
    collection_report,
    disbursement_report,
    period_of,
)
from reporting_service.domain.portfolio import (
    Dimension,
    aging_report,
    par_report,
    portfolio_summary,
    trend,
)
from shared.errors import InvalidArgument
from shared.money import Money
from shared.portfolio import BUCKETS, ArrearsBucket, LoanSnapshot, bucket_for

AS_OF = date(2026, 6, 30)
JUNE = (date(2026, 6, 1), AS_OF)
TERMS = ProductTerms(
    currency="USD",
    principal_min=10_000,
    principal_max=10_000_000,
    installments_min=1,
    installments_max=24,
    frequency=RepaymentFrequency.MONTHLY,
    interest_method=InterestMethod.FLAT,
    amortization=Amortization.EQUAL_PRINCIPAL,
    annual_rate=Decimal(12),
    late_penalty=PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=500, grace_days=3),
).validate()


def usd(amount: int) -> Money:
    return Money(amount, "USD")


@dataclass
class Book:
    """One loan run through the daily end of day, with the facts reporting would hold."""

    refs: LoanRefs
    schedule: Schedule
    txns: tuple[Transaction, ...]
    channels: dict[str, str] = field(default_factory=dict)
    bucket: ArrearsBucket | None = None
    events: list[tuple[date, ArrearsEvent, ArrearsBucket]] = field(default_factory=list)
    snapshots: dict[date, LoanSnapshot] = field(default_factory=dict)
    reversed_ids: set[str] = field(default_factory=set)

    def pay(self, amount: int, on: date, channel: str) -> None:
        result = apply_repayment(TERMS, self.schedule, self.txns,
                                 payment_id=f"{self.refs.loan_id}-{on}", amount=amount,
                                 value_date=on, business_date=on)
        self.txns = result.transactions
        self.channels[result.transaction.id] = channel

    def reverse(self, on: date, paid_on: date) -> None:
        result = reverse_repayment(TERMS, self.schedule, self.txns,
                                   payment_id=f"{self.refs.loan_id}-{paid_on}",
                                   reason="bounced", actor="admin-1", business_date=on)
        self.txns = result.transactions
        self.reversed_ids.add(result.reversed_transaction.id)

    def write_off(self, on: date) -> None:
        self.txns = write_off(TERMS, self.schedule, self.txns, reason="gone", actor="admin-1",
                              business_date=on).transactions

    def close_day(self, on: date) -> None:
        e = evaluate_loan(TERMS, self.schedule, self.txns, on, self.refs,
                          previous_bucket=self.bucket)
        self.txns = e.transactions
        if e.change is not None:
            self.events.append((on, e.change.event, e.bucket))
        self.bucket = e.bucket
        self.snapshots[on] = e.snapshot

    # -- the facts the read models would hold -----------------------------------------
    def state(self) -> LoanState:
        return replay(TERMS, self.schedule, self.txns, AS_OF)

    def disbursement(self) -> DisbursementFact:
        r = self.refs
        return DisbursementFact(r.loan_id, r.borrower_id, r.agent_id, r.branch_id,
                                r.product_id, "USD", self.schedule.disbursement_date,
                                self.schedule.principal, self.schedule.upfront_fee)

    def collections(self) -> list[CollectionFact]:
        allocations = self.state().allocations
        out = []
        for t in self.txns:
            if t.type not in (TransactionType.REPAYMENT, TransactionType.RECOVERY):
                continue
            a = allocations.get(t.id)
            r = self.refs
            out.append(CollectionFact(
                t.id, r.loan_id, r.agent_id, r.branch_id, r.product_id, "USD", t.value_date,
                t.amount, self.channels[t.id],
                principal=a.principal if a else 0, interest=a.interest if a else 0,
                fee=a.fee if a else 0, penalty=a.penalty if a else 0,
                recovery=a.recovery if a else 0, reversed=t.id in self.reversed_ids))
        return out

    def dues(self) -> list[InstallmentDue]:
        state = self.state()
        ended = state.written_off_date
        return [InstallmentDue(self.refs.loan_id, self.refs.agent_id, "USD", row.number,
                               row.due_date, row.principal + row.interest + row.fee)
                for row in self.schedule.rows
                # Due on or after the write-off date: written off, not to collect.
                if row.due_date <= AS_OF and (ended is None or row.due_date < ended)]

    def payments(self) -> list[InstallmentPayment]:
        state = self.state()
        dues = {row.number: row.due_date for row in self.schedule.rows}
        by_id = {t.id: t for t in self.txns}
        return [
            InstallmentPayment(self.refs.loan_id, self.refs.agent_id, "USD",
                               part.installment_number, dues[part.installment_number],
                               by_id[txn_id].value_date,
                               part.principal + part.interest + part.fee, part.penalty)
            for txn_id, allocation in state.allocations.items()
            if by_id[txn_id].type is not TransactionType.WAIVER
            for part in allocation.installments
        ]


def _book(name: str, agent: str, borrower: str, disbursed: date) -> Book:
    made = disburse(TERMS, 120_000, 12, disbursement_date=disbursed, business_date=disbursed,
                    actor="admin-1", txn_id=f"{name}-D")
    refs = LoanRefs(name, borrower, agent, f"br-{agent[-1]}", "prod-1")
    return Book(refs, made.schedule, (made.transaction,))


@pytest.fixture(scope="module")
def books() -> dict[str, Book]:
    a = _book("A", "ag-1", "bor-1", date(2026, 1, 15))
    b = _book("B", "ag-1", "bor-2", date(2026, 3, 25))
    c = _book("C", "ag-2", "bor-3", date(2026, 2, 26))
    d = _book("D", "ag-2", "bor-3", date(2026, 2, 27))
    e = _book("E", "ag-2", "bor-4", date(2025, 12, 1))
    actions: dict[date, list[Callable[[], None]]] = {}

    def on(day: date, action: Callable[[], None]) -> None:
        actions.setdefault(day, []).append(action)

    def a_pays(day: date) -> Callable[[], None]:
        return lambda: a.pay(11_200, day, "mobile")

    for row in a.schedule.rows[:5]:
        on(row.due_date, a_pays(row.due_date))
    on(date(2026, 6, 20), lambda: a.pay(5_000, date(2026, 6, 20), "mobile"))
    on(date(2026, 4, 25), lambda: b.pay(11_200, date(2026, 4, 25), "cash"))
    on(date(2026, 6, 3), lambda: b.pay(11_700, date(2026, 6, 3), "cash"))
    on(date(2026, 3, 26), lambda: c.pay(11_200, date(2026, 3, 26), "cash"))
    on(date(2026, 4, 26), lambda: c.pay(11_200, date(2026, 4, 26), "cash"))
    on(date(2026, 6, 5), lambda: c.pay(1_000, date(2026, 6, 5), "mobile"))
    on(date(2026, 6, 7), lambda: c.reverse(date(2026, 6, 7), date(2026, 6, 5)))
    on(date(2026, 6, 1), lambda: e.write_off(date(2026, 6, 1)))
    on(date(2026, 6, 20), lambda: e.pay(2_000, date(2026, 6, 20), "bank"))
    everyone = (a, b, c, d, e)
    day = date(2025, 12, 1)
    while day <= AS_OF:
        for action in actions.get(day, []):
            action()
        for book in everyone:
            if book.schedule.disbursement_date <= day:
                book.close_day(day)
        day += timedelta(days=1)
    return {book.refs.loan_id: book for book in everyone}


def rows_on(books: dict[str, Book], day: date = AS_OF) -> list[LoanSnapshot]:
    return [book.snapshots[day] for book in books.values() if day in book.snapshots]


# ------------------------------------------------------------------ the end of day itself


def test_the_portfolio_is_as_designed(books: dict[str, Book]) -> None:
    got = {k: (b.snapshots[AS_OF].status, b.snapshots[AS_OF].days_past_due,
               b.snapshots[AS_OF].outstanding_principal, b.snapshots[AS_OF].arrears_amount)
           for k, b in books.items()}
    assert got == {
        "A": ("ACTIVE", 0, 66_200, 0),
        "B": ("ACTIVE", 5, 100_000, 11_700),
        "C": ("ACTIVE", 35, 100_000, 23_400),
        "D": ("ACTIVE", 95, 120_000, 46_300),
        "E": ("WRITTEN_OFF", 0, 0, 0),
    }
    penalties = {k: [t.installment_number for t in b.txns if t.type is TransactionType.PENALTY]
                 for k, b in books.items()}
    assert penalties == {"A": [], "B": [2, 3], "C": [3, 4], "D": [1, 2, 3], "E": [1, 2, 3, 4, 5]}


def test_bucket_events_over_the_days(books: dict[str, Book]) -> None:
    overdue, cleared = ArrearsEvent.OVERDUE, ArrearsEvent.ARREARS_CLEARED
    b = ArrearsBucket
    assert books["B"].events == [
        (date(2026, 5, 26), overdue, b.DPD_1_30),
        (date(2026, 6, 3), cleared, b.CURRENT),
        (date(2026, 6, 26), overdue, b.DPD_1_30),
    ]
    assert books["D"].events == [
        (date(2026, 3, 28), overdue, b.DPD_1_30),
        (date(2026, 4, 27), overdue, b.DPD_31_60),
        (date(2026, 5, 27), overdue, b.DPD_61_90),
        (date(2026, 6, 26), overdue, b.DPD_91_180),
    ]
    assert books["A"].events == []
    # E went into arrears (first due 01-01; DPD 151 on 06-01), then was written off:
    # no event for leaving the book that way.
    assert [(event, bucket) for _, event, bucket in books["E"].events] == [
        (overdue, b.DPD_1_30), (overdue, b.DPD_31_60), (overdue, b.DPD_61_90),
        (overdue, b.DPD_91_180)]


# ------------------------------------------------------------------ as-of reports


def test_par_by_hand(books: dict[str, Book]) -> None:
    report = par_report(rows_on(books), AS_OF)
    got = [(f.threshold_days, f.at_risk_principal, f.outstanding_principal, f.percent,
            [loan.loan_id for loan in f.loans]) for f in report.figures]
    assert got == [
        (1, usd(320_000), usd(386_200), "82.86", ["D", "C", "B"]),
        (30, usd(220_000), usd(386_200), "56.97", ["D", "C"]),
        (90, usd(120_000), usd(386_200), "31.07", ["D"]),
    ]
    assert report.figure("USD", 30).loan_count == 2
    assert report.figure("USD", 90).loans[0].days_past_due == 95


def test_aging_by_hand(books: dict[str, Book]) -> None:
    report = aging_report(rows_on(books), AS_OF)
    got = [(r.bucket.value, r.loan_count, r.outstanding_principal.amount_minor,
            r.arrears_amount.amount_minor, r.percent) for r in report.rows]
    assert got == [
        ("current", 1, 66_200, 0, "17.14"),
        ("1-30", 1, 100_000, 11_700, "25.89"),
        ("31-60", 1, 100_000, 23_400, "25.89"),
        ("61-90", 0, 0, 0, "0.00"),
        ("91-180", 1, 120_000, 46_300, "31.07"),
        (">180", 0, 0, 0, "0.00"),
    ]
    (total,) = report.totals
    assert (total.loan_count, total.outstanding_principal, total.arrears_amount) == (
        4, usd(386_200), usd(81_400))


def test_portfolio_summary_by_hand(books: dict[str, Book]) -> None:
    summary = portfolio_summary(
        rows_on(books),
        [b.disbursement() for b in books.values()],
        [c for b in books.values() for c in b.collections()],
        AS_OF,
    )
    (total,) = summary.totals
    # Interest receivable: B #3 1,200 + C #3,#4 2,400 + D #1-#4 4,800.
    # Collected: A 5 x 11,200 + 5,000; B 11,200 + 11,700; C 2 x 11,200 (the bounced
    # 1,000 not); E's recovery 2,000.
    assert (total.currency, total.active_loans, total.borrowers) == ("USD", 4, 3)
    assert (total.outstanding_principal, total.interest_receivable) == (usd(386_200),
                                                                        usd(8_400))
    assert (total.disbursed, total.collected) == (usd(600_000), usd(108_300))
    agents = {g.key: g.figures for g in summary.by(Dimension.AGENT)}
    assert (agents["ag-1"].active_loans, agents["ag-1"].borrowers,
            agents["ag-1"].outstanding_principal, agents["ag-1"].interest_receivable,
            agents["ag-1"].disbursed, agents["ag-1"].collected) == (
        2, 2, usd(166_200), usd(1_200), usd(240_000), usd(83_900))
    assert (agents["ag-2"].active_loans, agents["ag-2"].borrowers,
            agents["ag-2"].outstanding_principal, agents["ag-2"].disbursed,
            agents["ag-2"].collected) == (2, 1, usd(220_000), usd(360_000), usd(24_400))
    assert [g.key for g in summary.by(Dimension.BRANCH)] == ["br-1", "br-2"]
    (product,) = summary.by(Dimension.PRODUCT)
    assert product.figures == total


def test_collection_efficiency_by_hand(books: dict[str, Book]) -> None:
    report = collection_efficiency(
        [d for b in books.values() for d in b.dues()],
        [p for b in books.values() for p in b.payments()],
        *JUNE,
    )
    got = [(r.agent_id, r.due.amount_minor, r.collected_due.amount_minor,
            r.arrears_collected.amount_minor, r.prepaid.amount_minor,
            r.penalties_collected.amount_minor, r.rate) for r in report.rows]
    assert got == [
        ("ag-1", 22_400, 11_200, 11_200, 5_000, 500, "50.00"),
        ("ag-2", 22_400, 0, 0, 0, 0, "0.00"),
    ]
    (total,) = report.totals
    assert (total.due, total.collected_due, total.rate) == (usd(44_800), usd(11_200), "25.00")
    assert report.rows[0].collected == usd(27_900)


def test_efficiency_counts_a_prepaid_installment_as_less_due() -> None:
    on = date(2026, 6, 15)
    dues = [InstallmentDue("L", "ag", "USD", 1, on, 10_000)]
    payments = [
        InstallmentPayment("L", "ag", "USD", 1, on, date(2026, 5, 20), 4_000),
        InstallmentPayment("L", "ag", "USD", 1, on, date(2026, 6, 15), 6_000),
    ]
    (row,) = collection_efficiency(dues, payments, *JUNE).rows
    assert (row.due, row.collected_due, row.prepaid, row.rate) == (usd(6_000), usd(6_000),
                                                                   usd(0), "100.00")
    # Nothing due in the period: no rate at all.
    ahead = [InstallmentPayment("L", "ag", "USD", 2, date(2026, 8, 15), date(2026, 7, 3), 900)]
    (row,) = collection_efficiency(dues, ahead, date(2026, 7, 1), date(2026, 7, 31)).rows
    assert (row.due, row.prepaid, row.rate) == (usd(0), usd(900), None)
    assert collection_efficiency(dues, payments, date(2026, 7, 1), date(2026, 7, 31)).rows == ()


def test_agent_performance_by_hand(books: dict[str, Book]) -> None:
    rows = agent_performance(
        rows_on(books),
        [d for b in books.values() for d in b.dues()],
        [p for b in books.values() for p in b.payments()],
        *JUNE,
    )
    got = [(r.agent_id, r.borrowers, r.active_loans, r.outstanding_principal.amount_minor,
            r.at_risk_30.amount_minor, r.par30, r.collection_rate) for r in rows]
    # ag-2: C and D (DPD 35 and 95) are both at risk: 220,000 / 220,000.
    assert got == [
        ("ag-1", 2, 2, 166_200, 0, "0.00", "50.00"),
        ("ag-2", 1, 2, 220_000, 220_000, "100.00", "0.00"),
    ]


def test_trend_from_the_daily_snapshots(books: dict[str, Book]) -> None:
    by_date = {day: rows_on(books, day) for day in
               (date(2026, 5, 24), date(2026, 5, 26), date(2026, 6, 30))}
    points = trend(by_date, date(2026, 5, 25), AS_OF)
    # 05-24 is outside the range. On 05-26: A 120,000 - 4 x 10,000 = 80,000, B 110,000,
    # C 100,000 (DPD 0: #3 due that day), D 120,000 (DPD 60), E 120,000 (not yet
    # written off, DPD 145): PAR30 (D + E) 240,000 / 530,000.
    assert [(p.business_date, p.active_loans, p.outstanding_principal.amount_minor, p.par30)
            for p in points] == [
        (date(2026, 5, 26), 5, 530_000, "45.28"),
        (AS_OF, 4, 386_200, "56.97"),
    ]


# ------------------------------------------------------------------ range reports


def test_collections_by_agent_and_by_channel(books: dict[str, Book]) -> None:
    facts = [c for b in books.values() for c in b.collections()]
    report = collection_report(facts, *JUNE, Granularity.MONTH, Dimension.AGENT)
    got = [(r.period, r.key, r.payment_count, r.collected.amount_minor,
            r.penalties.amount_minor, r.recoveries.amount_minor, r.reversed_count,
            r.reversed.amount_minor) for r in report.rows]
    assert got == [
        ("2026-06", "ag-1", 3, 27_900, 500, 0, 0, 0),
        ("2026-06", "ag-2", 1, 2_000, 0, 2_000, 1, 1_000),
    ]
    (total,) = report.totals
    assert (total.collected, total.principal + total.interest + total.penalties
            + total.recoveries) == (usd(29_900), usd(29_900))
    by_channel = collection_report(facts, *JUNE, Granularity.MONTH, Dimension.CHANNEL)
    assert [(r.key, r.collected.amount_minor, r.reversed_count) for r in by_channel.rows] == [
        ("bank", 2_000, 0), ("cash", 11_700, 0), ("mobile", 16_200, 1)]
    by_day = collection_report(facts, *JUNE)
    assert [r.period for r in by_day.rows] == [
        "2026-06-03", "2026-06-05", "2026-06-15", "2026-06-20"]


def test_disbursements_by_week_and_month(books: dict[str, Book]) -> None:
    facts = [b.disbursement() for b in books.values()]
    report = disbursement_report(facts, date(2026, 1, 1), AS_OF, Granularity.MONTH)
    assert [(r.period, r.loan_count, r.principal.amount_minor) for r in report.rows] == [
        ("2026-01", 1, 120_000), ("2026-02", 2, 240_000), ("2026-03", 1, 120_000)]
    (total,) = report.totals
    assert (total.loan_count, total.net_disbursed) == (4, usd(480_000))
    weekly = disbursement_report(facts, date(2026, 1, 1), AS_OF, Granularity.WEEK,
                                 Dimension.AGENT)
    assert [(r.period, r.key) for r in weekly.rows] == [
        ("2026-W03", "ag-1"), ("2026-W09", "ag-2"), ("2026-W13", "ag-1")]
    with pytest.raises(InvalidArgument) as caught:
        disbursement_report(facts, AS_OF, AS_OF, by=Dimension.CHANNEL)
    assert caught.value.violations[0].field == "group_by"


def test_iso_weeks_span_the_year_end() -> None:
    assert period_of(date(2026, 12, 31), Granularity.WEEK) == "2026-W53"
    assert period_of(date(2027, 1, 1), Granularity.WEEK) == "2026-W53"
    assert period_of(date(2027, 1, 4), Granularity.WEEK) == "2027-W01"
    assert period_of(date(2027, 1, 4), Granularity.MONTH) == "2027-01"


def test_from_after_to_is_refused_naming_the_field() -> None:
    for call in (
        lambda: collection_report([], AS_OF, JUNE[0]),
        lambda: disbursement_report([], AS_OF, JUNE[0]),
        lambda: collection_efficiency([], [], AS_OF, JUNE[0]),
        lambda: trend({}, AS_OF, JUNE[0]),
    ):
        with pytest.raises(InvalidArgument) as caught:
            call()
        assert caught.value.violations[0].field == "from"


# ------------------------------------------------------------------ currencies


def _row(loan: str, currency: str, principal: int, dpd: int, *, agent: str = "ag",
         status: str = "ACTIVE") -> LoanSnapshot:
    return LoanSnapshot(AS_OF, loan, f"b-{loan}", agent, "br", "p", currency, status,
                        principal, 0, 0, 0, 0, dpd, bucket_for(dpd), 0)


def test_write_offs_recoveries_and_the_approval_pipeline_as_of_a_date() -> None:
    day = AS_OF
    before, after = day - timedelta(days=3), day + timedelta(days=1)

    def loan(loan_id: str, agent: str, principal: int, cut: date | None = None,
             amount: int = 0, currency: str = "USD") -> DisbursementFact:
        return DisbursementFact(loan_id, f"b-{loan_id}", agent, "br-1", "pr-1", currency,
                                day - timedelta(days=60), principal, 0, cut, amount)

    def paid(txn: str, agent: str, on: date, amount: int, recovery: int,
             reversed_: bool = False) -> CollectionFact:
        return CollectionFact(txn, "w1", agent, "br-1", "pr-1", "USD", on, amount,
                              recovery=recovery, reversed=reversed_)

    def app(loan_id: str, currency: str = "USD", **dates: date) -> ApplicationFact:
        return ApplicationFact(loan_id, "ag-1", "br-1", "pr-1", currency, **dates)

    disbursements = [
        loan("w1", "ag-1", 50_000, before, 30_000),  # written off before the date
        loan("w2", "ag-2", 40_000, day, 25_000),  # on the date: counts
        loan("w3", "ag-1", 20_000, after, 7_000),  # after: not yet
        loan("k1", "ag-1", 900_000, before, 600_000, currency="KES"),
    ]
    collections = [
        paid("t1", "ag-1", before, 4_000, 4_000),
        paid("t2", "ag-1", day, 2_500, 1_000),  # part repayment, part recovery
        paid("t3", "ag-1", day, 3_000, 3_000, reversed_=True),  # bounced: not recovered
        paid("t4", "ag-1", after, 1_000, 1_000),
    ]
    pipeline = [
        app("p1", submitted_on=before),  # pending
        app("p2", submitted_on=before, approved_on=day),  # approved, not disbursed
        app("p3", submitted_on=before, approved_on=before, left_on=day),  # disbursed
        app("p4", submitted_on=before, left_on=before),  # rejected
        app("p5", submitted_on=before, approved_on=before, left_on=after),  # withdrawn later
        app("p6", submitted_on=after),  # not yet submitted
        app("p7", submitted_on=before, approved_on=after),  # approved only later: pending
        app("p8", "KES", submitted_on=day),
    ]
    summary = portfolio_summary([], disbursements, collections, day, pipeline)
    got = {f.currency: (f.written_off, f.recovered, f.pending_approval,
                        f.approved_not_disbursed) for f in summary.totals}
    assert got == {
        "KES": (Money(600_000, "KES"), Money(0, "KES"), 1, 0),
        # 30,000 + 25,000; 4,000 + 1,000; p1 and p7; p2 and p5.
        "USD": (usd(55_000), usd(5_000), 2, 2),
    }
    agents = {(g.key, g.figures.currency): g.figures for g in summary.by(Dimension.AGENT)}
    assert agents[("ag-2", "USD")].written_off == usd(25_000)
    assert agents[("ag-1", "USD")].written_off == usd(30_000)
    assert agents[("ag-1", "USD")].active_loans == 0
    lines = list(csv.reader(io.StringIO(export.portfolio_csv(summary))))
    assert lines[0][-4:] == ["written_off", "recovered", "pending_approval",
                             "approved_not_disbursed"]
    assert lines[2][3] == "USD"
    assert lines[2][-4:] == ["550.00", "50.00", "2", "2"]


def test_currencies_are_reported_apart() -> None:
    rows = [_row("u1", "USD", 100_000, 0), _row("u2", "USD", 50_000, 45),
            _row("k1", "KES", 9_000_000, 100), _row("x1", "UGX", 5_000_000, 0),
            _row("w", "USD", 0, 0, status="WRITTEN_OFF")]
    par = par_report(rows, AS_OF)
    assert [(f.currency, f.threshold_days, f.percent) for f in par.figures] == [
        ("KES", 1, "100.00"), ("KES", 30, "100.00"), ("KES", 90, "100.00"),
        ("UGX", 1, "0.00"), ("UGX", 30, "0.00"), ("UGX", 90, "0.00"),
        ("USD", 1, "33.33"), ("USD", 30, "33.33"), ("USD", 90, "0.00")]
    summary = portfolio_summary(rows, [], [], AS_OF)
    assert [(f.currency, f.active_loans, f.outstanding_principal) for f in summary.totals] == [
        ("KES", 1, Money(9_000_000, "KES")), ("UGX", 1, Money(5_000_000, "UGX")),
        ("USD", 2, usd(150_000))]
    text = export.portfolio_csv(summary)
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][:4] == ["as_of", "dimension", "key", "currency"]
    # Major units with each currency's digits: KES 2, UGX 0.
    assert lines[1][3:7] == ["KES", "1", "1", "90000.00"]
    assert lines[2][3:7] == ["UGX", "1", "1", "5000000"]
    assert lines[3][6] == "1500.00"
    assert text.endswith("\r\n")


# ------------------------------------------------------------------ CSV


def test_csv_of_each_report(books: dict[str, Book]) -> None:
    rows = rows_on(books)
    dues = [d for b in books.values() for d in b.dues()]
    payments = [p for b in books.values() for p in b.payments()]
    collections = [c for b in books.values() for c in b.collections()]
    disbursements = [b.disbursement() for b in books.values()]
    texts = {
        "par": export.par_csv(par_report(rows, AS_OF)),
        "aging": export.aging_csv(aging_report(rows, AS_OF)),
        "efficiency": export.efficiency_csv(collection_efficiency(dues, payments, *JUNE)),
        "agents": export.agents_csv(agent_performance(rows, dues, payments, *JUNE)),
        "trend": export.trend_csv(trend({AS_OF: rows}, *JUNE)),
        "collections": export.collections_csv(collection_report(collections, *JUNE)),
        "disbursements": export.disbursements_csv(
            disbursement_report(disbursements, date(2026, 1, 1), AS_OF)),
        "portfolio": export.portfolio_csv(
            portfolio_summary(rows, disbursements, collections, AS_OF)),
    }
    parsed = {k: list(csv.reader(io.StringIO(v))) for k, v in texts.items()}
    for name, lines in parsed.items():
        widths = {len(line) for line in lines}
        assert len(widths) == 1, name  # a rectangular table
    assert parsed["par"][1] == ["2026-06-30", "1", "USD", "3200.00", "3862.00", "82.86", "3",
                                "", "", "", ""]
    assert parsed["par"][4][7:] == ["D", "ag-2", "95", "1200.00"]
    assert parsed["aging"][5] == ["2026-06-30", "USD", "91-180", "91", "180", "1", "1200.00",
                                  "463.00", "31.07"]
    assert parsed["aging"][6][3:5] == ["181", ""]
    assert parsed["efficiency"][-1] == ["2026-06-01", "2026-06-30", "total", "USD", "448.00",
                                        "112.00", "112.00", "50.00", "5.00", "25.00"]
    assert parsed["agents"][2] == ["ag-2", "USD", "1", "2", "2200.00", "2200.00", "100.00",
                                   "0.00"]
    assert parsed["trend"][1] == ["2026-06-30", "USD", "4", "3862.00", "56.97"]
    assert parsed["collections"][-1][:5] == ["total", "", "USD", "4", "299.00"]
    assert parsed["disbursements"][-1] == ["total", "", "USD", "4", "4800.00", "0.00",
                                           "4800.00"]


def test_csv_text_cells_cannot_be_formulas() -> None:
    rows = [_row("=HYPERLINK(1)", "USD", 100, 40, agent="@agent")]
    lines = list(csv.reader(io.StringIO(export.par_csv(par_report(rows, AS_OF)))))
    assert lines[-1][7:9] == ["'=HYPERLINK(1)", "'@agent"]
    assert export.major(Money(-5, "USD")) == "-0.05"
    assert export.major(Money(7, "KWD")) == "0.007"


# ------------------------------------------------------------------ properties

CURRENCIES = ("USD", "KES", "UGX")
snapshot_rows = st.lists(
    st.builds(
        lambda i, cur, principal, dpd, agent, status: _row(f"L{i}", cur, principal, dpd,
                                                           agent=agent, status=status),
        st.integers(0, 10**6),
        st.sampled_from(CURRENCIES),
        st.integers(0, 10**12),
        st.integers(0, 400),
        st.sampled_from(("ag-1", "ag-2", "ag-3")),
        st.sampled_from(("ACTIVE", "ACTIVE", "ACTIVE", "CLOSED", "WRITTEN_OFF")),
    ),
    max_size=40,
    unique_by=lambda r: r.loan_id,
)


@settings(max_examples=200, deadline=None)
@given(snapshot_rows)
def test_par_thresholds_are_ordered(rows: list[LoanSnapshot]) -> None:
    report = par_report(rows, AS_OF)
    for currency in {f.currency for f in report.figures}:
        p1, p30, p90 = (report.figure(currency, n) for n in (1, 30, 90))
        assert Decimal(p1.percent) >= Decimal(p30.percent) >= Decimal(p90.percent)
        assert p1.at_risk_principal >= p30.at_risk_principal >= p90.at_risk_principal
        assert {x.loan_id for x in p90.loans} <= {x.loan_id for x in p30.loans} <= {
            x.loan_id for x in p1.loans}
        assert Decimal(0) <= Decimal(p90.percent)
        assert Decimal(p1.percent) <= Decimal(100)


@settings(max_examples=200, deadline=None)
@given(snapshot_rows)
def test_bucket_totals_equal_the_portfolio_total(rows: list[LoanSnapshot]) -> None:
    aging = aging_report(rows, AS_OF)
    summary = portfolio_summary(rows, [], [], AS_OF)
    for total in summary.totals:
        mine = [r for r in aging.rows if r.currency == total.currency]
        assert [r.bucket for r in mine] == list(BUCKETS)
        assert sum(r.loan_count for r in mine) == total.active_loans
        assert sum(r.outstanding_principal.amount_minor for r in mine) == (
            total.outstanding_principal.amount_minor)
    assert {t.currency for t in aging.totals} == {t.currency for t in summary.totals}


@settings(max_examples=200, deadline=None)
@given(snapshot_rows)
def test_per_currency_sums_never_mix(rows: list[LoanSnapshot]) -> None:
    summary = portfolio_summary(rows, [], [], AS_OF)
    for total in summary.totals:
        mine = [r for r in rows if r.currency == total.currency and r.status == "ACTIVE"]
        assert total.outstanding_principal == Money(
            sum(r.outstanding_principal for r in mine), total.currency)
        assert total.active_loans == len(mine)
    for group in summary.by(Dimension.AGENT):
        assert group.figures.outstanding_principal.currency == group.figures.currency
        theirs = [r for r in rows if r.currency == group.figures.currency and r.active
                  and r.agent_id == group.key]
        assert group.figures.outstanding_principal.amount_minor == sum(
            r.outstanding_principal for r in theirs)
    par = par_report(rows, AS_OF)
    for figure in par.figures:
        assert all(loan.outstanding_principal.currency == figure.currency
                   for loan in figure.loans)
    points = trend({AS_OF: rows}, AS_OF, AS_OF)
    assert {p.currency for p in points} == {t.currency for t in summary.totals}
