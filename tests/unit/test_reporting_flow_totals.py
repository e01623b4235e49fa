"""Portfolio and agents from the totals and day flows equal the ones computed over rows and facts.

``portfolio_summary`` and ``agent_performance`` (with collection efficiency's due and
collected) are the reference; ``portfolio_from`` and ``agents_from`` are what
reporting_service answers from its stored sums. Generated portfolios (borrowers with
several loans under different labels, reversed payments, write-offs, loans in the
approval pipeline), every filter, and rows revised after the distinct borrowers were
counted.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting_service.domain import flows_totals as flow
from reporting_service.domain.facts import (
    ApplicationFact,
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.domain.flows import agent_performance, collection_efficiency
from reporting_service.domain.portfolio import (
    Dimension,
    par_report,
    portfolio_summary,
)
from reporting_service.domain.totals import (
    FIELDS,
    BorrowerKey,
    borrower_change,
    borrower_counts,
    by_currency,
    day_totals,
    mask_of,
    par_from,
)
from shared.portfolio import LoanSnapshot, bucket_for

AS_OF = date(2026, 6, 30)
START = date(2026, 6, 1)
LABELS = ("agent_id", "branch_id", "product_id")
FILTERS = [{}, {"agent_id": "a1"}, {"branch_id": "b2"}, {"product_id": "p1"},
           {"currency": "KES"}, {"agent_id": "a2", "branch_id": "b1", "product_id": "p2"},
           {"agent_id": "a1", "currency": "USD"}]
_days = st.integers(-60, 20).map(lambda n: AS_OF + timedelta(days=n))
_maybe_day = st.none() | _days


@dataclasses.dataclass
class Book:
    rows: list[LoanSnapshot]
    disbursed: list[DisbursementFact]
    collected: list[CollectionFact]
    applications: list[ApplicationFact]
    dues: list[tuple[InstallmentDue, str, str, bool]]
    # part, branch, product, reversed, its installment cancelled
    parts: list[tuple[InstallmentPayment, str, str, bool, bool]]


@st.composite
def books(draw: st.DrawFn) -> Book:
    book = Book([], [], [], [], [], [])
    for n in range(draw(st.integers(0, 14))):
        agent, branch, product = (draw(st.sampled_from([f"{c}1", f"{c}2"])) for c in "abp")
        currency = draw(st.sampled_from(["USD", "KES"]))
        loan = f"L{n}"
        dpd = draw(st.sampled_from([0, 0, 3, 31, 95]))
        book.rows.append(LoanSnapshot(
            AS_OF, loan, f"B{draw(st.integers(0, 4))}", agent, branch, product, currency,
            draw(st.sampled_from(["ACTIVE", "ACTIVE", "CLOSED", "WRITTEN_OFF"])),
            draw(st.integers(0, 10**6)), draw(st.integers(0, 10**4)),
            draw(st.integers(0, 500)), draw(st.integers(0, 500)),
            draw(st.integers(0, 10**5)), dpd, bucket_for(dpd), 0,
        ))
        disbursed_on = draw(_days)
        book.disbursed.append(DisbursementFact(
            loan, "B", agent, branch, product, currency, disbursed_on,
            draw(st.integers(1, 10**6)), 0, draw(_maybe_day), draw(st.integers(0, 10**5))))
        for t in range(draw(st.integers(0, 3))):
            book.collected.append(CollectionFact(
                f"{loan}T{t}", loan, agent, branch, product, currency, draw(_days),
                draw(st.integers(1, 10**5)), recovery=draw(st.integers(0, 100)),
                reversed=draw(st.booleans())))
        book.applications.append(ApplicationFact(
            loan, agent, branch, product, currency, draw(_maybe_day), draw(_maybe_day),
            draw(_maybe_day)))
        for i in range(draw(st.integers(0, 3))):
            amount = draw(st.integers(1, 10**4))
            due = InstallmentDue(loan, agent, currency, i, draw(_days), amount)
            cancelled = draw(st.booleans()) and draw(st.booleans())
            book.dues.append((due, branch, product, cancelled))
            left = amount
            for _ in range(draw(st.integers(0, 2))):
                # What a ledger allocates: never more than the installment's amount.
                paid = draw(st.integers(0, left))
                left -= paid
                part = InstallmentPayment(loan, agent, currency, i, due.due_date, draw(_days),
                                          paid, draw(st.integers(0, 50)))
                book.parts.append((part, branch, product,
                                   draw(st.booleans()) and draw(st.booleans()), cancelled))
    return book


def _in(scope: dict[str, str], fact: object) -> bool:
    return all(getattr(fact, k) == v for k, v in scope.items())


def _stored(book: Book) -> tuple[list[tuple[tuple[str, str, str, str], dict[str, int]]],
                                 flow.Flows]:
    """What the read models hold: the as-of date's totals (rows and money to date), the
    day flows."""
    days: flow.Flows = {}
    for d in book.disbursed:
        flow.add(days, flow.disbursement_flows(d))
    for c in book.collected:
        flow.add(days, flow.collection_flows(c))
    for a in book.applications:
        flow.add(days, flow.application_flows(a))
    for due, branch, product, cancelled in book.dues:
        flow.add(days, flow.due_flows(due, branch, product, cancelled))
    for part, branch, product, reversed_, cancelled in book.parts:
        flow.add(days, flow.payment_flows(part, branch, product, reversed_, cancelled))
    totals: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for key, sums in day_totals(book.rows).items():
        totals[(key.currency, key.agent_id, key.branch_id, key.product_id)] = dict(sums)
    for on, sums in days.items():
        if on.day <= AS_OF:
            into = totals.setdefault((on.currency, on.agent_id, on.branch_id,
                                      on.product_id), {})
            for name in flow.CUMULATIVE:
                into[f"cum_{name}"] = into.get(f"cum_{name}", 0) + sums.get(name, 0)
    return ([(labels, {n: s.get(n, 0) for n in (*FIELDS, *flow.CUM_FIELDS)})
             for labels, s in totals.items()], days)


def _scoped(totals: list[tuple[tuple[str, str, str, str], dict[str, int]]],
            scope: dict[str, str]) -> list[tuple[tuple[str, str, str, str], dict[str, int]]]:
    names = ("currency", "agent_id", "branch_id", "product_id")
    return [(labels, s) for labels, s in totals
            if all(dict(zip(names, labels, strict=True))[k] == v for k, v in scope.items())]


def _borrowers(counts: dict[BorrowerKey, int], scope: dict[str, str], label: str | None
               ) -> dict[tuple[str, str], int]:
    """(label's value, currency) -> borrowers, as reporting_service reads them."""
    wanted = mask_of([*(k for k in LABELS if k in scope), *([label] if label else [])])
    return {(getattr(k, label) if label else "", k.currency): n for k, n in counts.items()
            if k.mask == wanted and all(getattr(k, f) == v for f, v in scope.items())}


_DIMS = {"agent_id": Dimension.AGENT, "branch_id": Dimension.BRANCH,
         "product_id": Dimension.PRODUCT}


@settings(max_examples=60, deadline=None)
@given(books())
def test_the_portfolio_from_the_totals_equals_the_computed_one(book: Book) -> None:
    totals, _ = _stored(book)
    counts = borrower_counts(book.rows)
    for scope in FILTERS:
        rows = [r for r in book.rows if _in(scope, r)]
        expected = portfolio_summary(
            rows, [d for d in book.disbursed if _in(scope, d)],
            [c for c in book.collected if _in(scope, c)], AS_OF,
            [a for a in book.applications if _in(scope, a)])
        borrowers = {(_DIMS.get(label or ""), key, cur): n
                     for label in (None, *LABELS)
                     for (key, cur), n in _borrowers(counts, scope, label).items()}
        mine = _scoped(totals, scope)
        summary, balances = flow.portfolio_from(mine, borrowers, AS_OF)
        assert summary == expected
        par = par_report(rows, AS_OF)
        assert par_from(by_currency((lab[0], s) for lab, s in mine), AS_OF) == (
            dataclasses.replace(par, figures=tuple(
                dataclasses.replace(f, loans=()) for f in par.figures)))
        for r in rows:
            if r.active:
                fees, penalties, arrears, late = balances[("agent", r.agent_id, r.currency)]
                assert late == sum(1 for o in rows if o.active and o.agent_id == r.agent_id
                                   and o.currency == r.currency and o.days_past_due > 0)
                assert arrears == sum(o.arrears_amount for o in rows if o.active
                                      and o.agent_id == r.agent_id
                                      and o.currency == r.currency)
                assert (fees, penalties) == (
                    sum(o.outstanding_fees for o in rows if o.active
                        and o.agent_id == r.agent_id and o.currency == r.currency),
                    sum(o.outstanding_penalties for o in rows if o.active
                        and o.agent_id == r.agent_id and o.currency == r.currency))


@settings(max_examples=60, deadline=None)
@given(books())
def test_agents_from_the_totals_equal_the_computed_ones(book: Book) -> None:
    totals, days = _stored(book)
    counts = borrower_counts(book.rows)
    for scope in FILTERS:
        rows = [r for r in book.rows if _in(scope, r)]
        labels = {"branch_id": 1, "product_id": 2}
        dues = [d for d, b, p, cancelled in book.dues if not cancelled
                and _in({k: v for k, v in scope.items() if k not in labels}, d)
                and all((b, p)[labels[k] - 1] == v for k, v in scope.items() if k in labels)]
        parts = [p for p, b, pr, reversed_, _ in book.parts if not reversed_
                 and _in({k: v for k, v in scope.items() if k not in labels}, p)
                 and all((b, pr)[labels[k] - 1] == v for k, v in scope.items()
                         if k in labels)]
        expected = agent_performance(rows, dues, parts, START, AS_OF)
        in_range = [(k, s) for k, s in days.items()
                    if START <= k.day <= AS_OF and _in(scope, k)]
        found = flow.agents_from(_scoped(totals, scope), _borrowers(counts, scope, "agent_id"),
                                 in_range, START, AS_OF)
        assert found.rows == expected
        efficiency = {(e.agent_id, e.currency): e
                      for e in collection_efficiency(dues, parts, START, AS_OF).rows}
        for key, e in efficiency.items():
            _, _, due, collected = found.flows[key]
            assert (due, collected) == (e.due.amount_minor, e.collected_due.amount_minor)
        disbursed: dict[tuple[str, str], list[int]] = {}
        for d in book.disbursed:
            if START <= d.disbursement_date <= AS_OF and _in(scope, d):
                f = disbursed.setdefault((d.agent_id, d.currency), [0, 0])
                f[0] += 1
                f[1] += d.principal
        assert {k: list(v[:2]) for k, v in found.flows.items() if v[0]} == disbursed


@settings(max_examples=60, deadline=None)
@given(books(), st.data())
def test_a_revised_row_changes_the_borrowers_as_a_recount_would(
    book: Book, data: st.DataObject
) -> None:
    counts = borrower_counts(book.rows)
    revised = list(book.rows)
    for i in data.draw(st.lists(st.integers(0, max(len(revised) - 1, 0)), max_size=5)):
        if not revised:
            break
        old = revised[i]
        new = dataclasses.replace(
            old, status=data.draw(st.sampled_from(["ACTIVE", "CLOSED"])),
            agent_id=data.draw(st.sampled_from(["a1", "a2"])),
            borrower_id=data.draw(st.sampled_from([old.borrower_id, "B9"])))
        others = [r for j, r in enumerate(revised) if j != i]
        if new.borrower_id == old.borrower_id:
            changes = [borrower_change([r for r in others if r.borrower_id == new.borrower_id],
                                       old, new)]
        else:
            changes = [
                borrower_change([r for r in others if r.borrower_id == old.borrower_id],
                                old, None),
                borrower_change([r for r in others if r.borrower_id == new.borrower_id],
                                None, new),
            ]
        for change in changes:
            for key, delta in change.items():
                counts[key] = counts.get(key, 0) + delta
        revised[i] = new
    assert {k: n for k, n in counts.items() if n} == borrower_counts(revised)


def test_a_fact_changed_moves_its_flows() -> None:
    """A reversal takes the repayment's money off its day; a write-off dated before the
    disbursement counts from the disbursement."""
    paid = CollectionFact("T", "L", "a", "b", "p", "USD", AS_OF, 500, recovery=20)
    key = flow.FlowKey(AS_OF, "USD", "a", "b", "p")
    assert flow.collection_flows(paid) == {key: {"collected": 500, "recovered": 20}}
    undone = flow.diff(flow.collection_flows(paid),
                       flow.collection_flows(dataclasses.replace(paid, reversed=True)))
    assert undone == {key: {"collected": -500, "recovered": -20}}
    odd = DisbursementFact("L", "B", "a", "b", "p", "USD", AS_OF, 1000,
                           written_off_on=AS_OF - timedelta(days=3), written_off_amount=900)
    assert flow.disbursement_flows(odd) == {
        key: {"disbursed_loans": 1, "disbursed": 1000, "written_off": 900}}
