"""charge_late_penalties against its plain definition, over generated histories.

The ledger charges penalties with one book run forward through the grace
periods (it is on the end-of-day hot path). ``reference`` below is the
definition written the plain way, one full replay per question; both must
charge the same penalties and give the same state, whatever the payments,
reversals (also ones dated after the business date, as when catching up on a
past date), write-offs and evaluation dates.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from loan_service.domain.ledger import (
    SYSTEM_ACTOR,
    PenaltyResult,
    Transaction,
    TransactionType,
    apply_repayment,
    charge_late_penalties,
    disburse,
    effective_transactions,
    next_sequence,
    quote_payoff,
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
from shared.errors import FailedPrecondition, InvalidArgument

D0 = date(2026, 1, 15)


def reference(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: tuple[Transaction, ...],
    business_date: date,
    created_at: datetime | None = None,
) -> PenaltyResult:
    rules = terms.late_penalty
    current = replay(terms, schedule, transactions, business_date)
    if rules is None or current.closed or current.written_off:
        return PenaltyResult((), transactions, current)
    penalised = {t.installment_number for t in effective_transactions(transactions)
                 if t.type is TransactionType.PENALTY}
    grace = timedelta(days=rules.grace_days)
    updated = list(transactions)
    charged: list[Transaction] = []
    for row in schedule.rows:
        last_free_day = row.due_date + grace
        if last_free_day >= business_date:
            break
        if row.number in penalised:
            continue
        now = current.installments[row.number - 1]
        if now.unpaid == 0 and now.paid_date is not None and now.paid_date <= last_free_day:
            continue
        then = replay(terms, schedule, effective_transactions(updated), last_free_day)
        if then.written_off or then.closed:
            continue
        inst = then.installments[row.number - 1]
        amount = rules.amount_for(inst.principal_unpaid + inst.interest_unpaid + inst.fee_unpaid)
        if amount <= 0:
            continue
        sequence = next_sequence(updated)
        txn = Transaction(
            id=f"T{sequence:06d}", type=TransactionType.PENALTY,
            value_date=last_free_day + timedelta(days=1), amount=amount, sequence=sequence,
            installment_number=row.number,
            reason=f"late penalty: installment {row.number} unpaid after "
            f"{rules.grace_days} grace day(s)",
            actor=SYSTEM_ACTOR, created_at=created_at,
        )
        updated.append(txn)
        charged.append(txn)
        current = replay(terms, schedule, updated, business_date)
    return PenaltyResult(tuple(charged), tuple(updated), current)


@st.composite
def cases(draw: st.DrawFn) -> tuple[ProductTerms, Schedule, tuple[Transaction, ...], list[date]]:
    frequency = draw(st.sampled_from(RepaymentFrequency))
    penalty = draw(st.one_of(
        st.builds(lambda amount, grace: PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=amount,
                                                     grace_days=grace),
                  st.integers(1, 3_000), st.integers(0, 12)),
        st.builds(lambda pct, grace: PenaltyTerms(ChargeType.PERCENT, percent=Decimal(pct),
                                                  grace_days=grace),
                  st.integers(1, 30), st.integers(0, 12)),
    ))
    terms = ProductTerms(
        currency="USD", principal_min=1_000, principal_max=10**9, installments_min=1,
        installments_max=24, frequency=frequency,
        interest_method=draw(st.sampled_from(InterestMethod)),
        amortization=draw(st.sampled_from(Amortization)),
        annual_rate=Decimal(draw(st.integers(0, 50))), late_penalty=penalty,
    ).validate()
    n = draw(st.integers(1, 8))
    made = disburse(terms, draw(st.integers(50_000, 5_000_000)), n, disbursement_date=D0,
                    business_date=D0, actor="a")
    schedule = made.schedule
    txns: tuple[Transaction, ...] = (made.transaction,)
    horizon = (schedule.maturity_date - D0).days + 90
    steps = draw(st.lists(st.tuples(st.sampled_from(["pay"] * 4 + ["reverse"] * 2 + ["charge"]),
                                    st.integers(0, horizon), st.integers(1, 150)),
                          max_size=14))
    typical = schedule.rows[0].total
    paid: list[str] = []
    for index, (kind, offset, share) in enumerate(sorted(steps, key=lambda s: s[1])):
        on = D0 + timedelta(days=offset)
        try:
            if kind == "pay":
                quote = quote_payoff(terms, schedule, txns, on)
                if quote.total == 0:
                    continue
                # Mostly part of an installment or about one: rows stay half paid.
                amount = max(1, min(quote.total, typical * share // 100))
                txns = apply_repayment(terms, schedule, txns, payment_id=f"p{index}",
                                       amount=amount, value_date=on, business_date=on
                                       ).transactions
                paid.append(f"p{index}")
            elif kind == "reverse" and paid:
                target = paid.pop(share % len(paid))
                txns = reverse_repayment(terms, schedule, txns, payment_id=target,
                                         reason="bounced", actor="a", business_date=on
                                         ).transactions
            else:
                # An end of day on that date: its penalties become part of the history.
                txns = charge_late_penalties(terms, schedule, txns, on).transactions
        except (FailedPrecondition, InvalidArgument):
            continue
    if draw(st.booleans()):
        on = max(t.value_date for t in txns) + timedelta(days=draw(st.integers(0, 60)))
        with contextlib.suppress(FailedPrecondition):
            txns = write_off(terms, schedule, txns, reason="gone", actor="a",
                             business_date=on).transactions
    days = draw(st.lists(st.integers(0, horizon + 60), min_size=1, max_size=4))
    return terms, schedule, txns, [D0 + timedelta(days=d) for d in days]


@settings(max_examples=600, deadline=None)
@given(cases())
def test_charging_matches_the_plain_definition(
    case: tuple[ProductTerms, Schedule, tuple[Transaction, ...], list[date]],
) -> None:
    terms, schedule, txns, days = case
    for on in days:
        fast = charge_late_penalties(terms, schedule, txns, on)
        slow = reference(terms, schedule, txns, on)
        assert fast.charged == slow.charged
        assert fast.transactions == slow.transactions
        assert fast.state == slow.state
        event(f"penalties charged: {min(len(fast.charged), 2)}")
        if any(t.type is TransactionType.REVERSAL and t.value_date > on for t in txns):
            event("a reversal dated after the business date")


def test_a_row_settled_the_day_after_its_grace_is_charged_in_the_same_run() -> None:
    # 3 monthly rows of 10,000, fixed penalty 500 after 3 days. Row 1 is paid 5 days
    # after its grace (its penalty, charged in the same run, then leaves it 500 short);
    # row 2 and that 500 are paid the day after row 2's grace. One late run must
    # charge both.
    terms = ProductTerms(
        currency="USD", principal_min=1_000, principal_max=10**9, installments_min=1,
        installments_max=24, frequency=RepaymentFrequency.MONTHLY,
        interest_method=InterestMethod.FLAT, amortization=Amortization.EQUAL_PRINCIPAL,
        annual_rate=Decimal(0),
        late_penalty=PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=500, grace_days=3),
    ).validate()
    made = disburse(terms, 30_000, 3, disbursement_date=D0, business_date=D0, actor="a")
    schedule = made.schedule
    due1, due2, _ = (row.due_date for row in schedule.rows)
    # Built directly: the 10,500 is the payoff only once row 1's penalty is recorded.
    txns = (
        made.transaction,
        Transaction("p1", TransactionType.REPAYMENT, due1 + timedelta(days=8), 10_000, 2,
                    payment_id="p1"),
        Transaction("p2", TransactionType.REPAYMENT, due2 + timedelta(days=4), 10_500, 3,
                    payment_id="p2"),
    )
    on = due2 + timedelta(days=20)
    fast = charge_late_penalties(terms, schedule, txns, on)
    assert [(t.installment_number, t.value_date) for t in fast.charged] == [
        (1, due1 + timedelta(days=4)), (2, due2 + timedelta(days=4))]
    assert fast == reference(terms, schedule, txns, on)
