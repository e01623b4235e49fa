"""The demo-data plan and the loans built from it, without a database.

The same seed gives the same plan (ids included); every borrower passes user_service's
own validation; every loan is what the domain computes: its stored figures are a replay
of its transactions, its repayments never exceed what was owed, and the end of day of any
past date would charge no penalty it does not already hold.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import facts_of
from loan_service.seeding import Conduct, LoanPlan, build_loan
from microfinance_cli.demo_plan import (
    BorrowerRef,
    DemoSizes,
    borrower_input,
    loan_plans,
    products,
    staff_seeds,
)
from user_service.domain.borrower import validate_input

TODAY = date(2026, 12, 6)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def _plans(seed: int, loans: int = 60, days: int = 120) -> list[LoanPlan]:
    sizes = DemoSizes(borrowers=40, loans=loans, days=days, seed=seed,
                      currencies=("KES", "USD"), agents=3)
    catalogue = products(sizes.currencies, random.Random(seed))
    refs = [BorrowerRef(f"b{i}", f"Borrower {i}", f"a{i % 3}", "NAIROBI") for i in range(40)]
    plans = loan_plans(refs, catalogue, sizes, "admin", TODAY)
    return [replace(p, sequence=k + 1) for k, p in enumerate(plans)]


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert _plans(3) == _plans(3)
    assert [p.id for p in _plans(3)] != [p.id for p in _plans(4)]


def test_products_cover_every_frequency_both_methods_and_each_currency() -> None:
    catalogue = products(("KES", "USD"), random.Random(1))
    assert {p.terms.frequency.value for p in catalogue} == {"WEEKLY", "BIWEEKLY", "MONTHLY"}
    assert {p.terms.interest_method.value for p in catalogue} == {"FLAT", "DECLINING_BALANCE"}
    assert {p.currency for p in catalogue} == {"KES", "USD"}
    assert all(p.terms.fee is not None and p.terms.late_penalty is not None for p in catalogue)
    assert not any(v for p in catalogue for v in p.terms.violations())


def test_staff_and_borrowers_pass_the_services_own_rules() -> None:
    seeds = staff_seeds(5)
    assert [s.role.value for s in seeds] == ["ADMIN"] + ["AGENT"] * 5
    assert len({s.email for s in seeds}) == len(seeds)
    rng = random.Random(9)
    profiles = [validate_input(borrower_input(i, rng, TODAY), today=TODAY, phone_region=None)
                for i in range(200)]
    assert len({p.phone for p in profiles}) == 200
    assert len({k for p in profiles for k in p.identity_keys}) == 200
    assert all(p.phone.startswith("+2547") for p in profiles)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000), days=st.integers(min_value=10, max_value=400)
)
def test_every_built_loan_is_a_replay_of_its_transactions(seed: int, days: int) -> None:
    for plan in _plans(seed, loans=25, days=days):
        loan = build_loan(plan, TODAY, _at).loan
        assert loan.schedule is not None
        state = ledger.replay(loan.terms, loan.schedule, loan.transactions, TODAY)
        assert facts_of(state) == loan.facts
        assert (loan.status is LoanStatus.CLOSED) == state.closed
        assert (loan.status is LoanStatus.WRITTEN_OFF) == state.written_off
        yesterday = date.fromordinal(TODAY.toordinal() - 1)
        if loan.status is LoanStatus.ACTIVE:
            again = ledger.charge_late_penalties(
                loan.terms, loan.schedule, loan.transactions, yesterday
            )
            assert again.charged == ()


def test_the_first_loan_is_written_off_and_conducts_vary() -> None:
    plans = _plans(11, loans=60)
    built = [build_loan(p, TODAY, _at).loan for p in plans]
    assert plans[0].conduct is Conduct.WRITTEN_OFF
    assert built[0].status is LoanStatus.WRITTEN_OFF
    assert {p.conduct for p in plans} == set(Conduct)
    assert any(b.facts.days_past_due_on(TODAY) > 0 for b in built
               if b.status is LoanStatus.ACTIVE)
