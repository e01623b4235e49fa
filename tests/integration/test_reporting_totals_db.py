"""Portfolio and agents answered from the stored totals equal the ones computed over the rows
and facts, against a real MongoDB, whatever the order the events came in.

Two closed dates; then a backdated repayment pays off L2 (borrower b's second loan, the only
one of product p2) into the first of them, and loan_service re-runs L2's rows of both dates
(higher loan version, CLOSED). The totals of both dates must be recomputed: the active
loans, the principal, the distinct borrowers (b stays a borrower through L1, but product
p2 has none left) and the money collected to date. A reversed repayment counts nowhere;
a loan submitted and one approved count in the pipeline until disbursed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from reporting_service.adapters.read_models import (
    BUSINESS_DATES,
    DAY_BORROWERS,
    DAY_FLOWS,
    DAY_TOTALS,
    READ_MODELS,
    ReadModels,
)
from reporting_service.consumers import Project
from reporting_service.domain.flows import agent_performance
from reporting_service.domain.portfolio import Dimension, portfolio_summary
from reporting_service.service import (
    AgentsView,
    Kind,
    NoCache,
    PortfolioView,
    ReportingService,
    ReportQuery,
)
from shared.events import Event
from shared.identity import Caller, Role

D1, D2 = "2025-03-30", "2025-03-31"
ADMIN = Caller(subject="admin", role=Role.ADMIN)


def _labels(agent: str, branch: str, product: str) -> dict[str, str]:
    return {"agent_id": agent, "branch_id": branch, "product_id": product, "currency": "USD"}


LOANS = {"L1": ("b", _labels("a1", "BR", "p")), "L2": ("b", _labels("a1", "BR", "p2")),
         "L3": ("c", _labels("a2", "BR2", "p")), "L4": ("d", _labels("a2", "BR2", "p")),
         "L5": ("e", _labels("a1", "BR", "p"))}


def _row(loan: str, version: int, dpd: int, principal: int, status: str = "ACTIVE"
         ) -> dict[str, Any]:
    borrower, labels = LOANS[loan]
    return {
        "loan_id": loan, "borrower_id": borrower, **labels, "status": status,
        "outstanding_principal": principal, "outstanding_interest": 100,
        "outstanding_fees": 10, "outstanding_penalties": 5 if dpd else 0,
        "arrears_amount": 1000 if dpd else 0, "days_past_due": dpd,
        "bucket": "current" if not dpd else "1-30" if dpd <= 30 else "31-60",
        "installments_overdue": 1 if dpd else 0, "loan_number": f"LN-{loan}",
        "loan_version": version,
    }


def _disbursed(loan: str, on: str, principal: int, dues: list[tuple[str, int]]) -> Event:
    borrower, labels = LOANS[loan]
    return Event("loan.disbursed", loan, {
        **labels, "loan_id": loan, "borrower_id": borrower, "principal": principal,
        "upfront_fee": 0, "disbursement_date": on, "version": 3,
        "schedule": [{"number": n, "due_date": due, "principal": amount, "interest": 0,
                      "fee": 0} for n, (due, amount) in enumerate(dues, 1)]})


def _repaid(loan: str, tx: str, on: str, amount: int, number: int, due: str) -> Event:
    return Event("loan.repayment_applied", loan, {
        **LOANS[loan][1], "loan_id": loan, "transaction_id": tx, "amount": amount,
        "value_date": on, "channel": "CASH", "allocation": {"principal": amount},
        "installment_split": [{"number": number, "due_date": due, "principal": amount,
                               "interest": 0, "fee": 0, "penalty": 0}]})


def _closed(day: str, rows: int) -> Event:
    return Event("eod.date_closed", day, {"business_date": day, "snapshot_rows": rows,
                                          "loans_processed": rows, "penalties_charged": 0,
                                          "closed_at": f"{day}T21:00:00+00:00"})


def _step(kind: str, loan: str, at: str) -> Event:
    return Event(kind, loan, {**LOANS[loan][1], "loan_id": loan, "version": 1},
                 occurred_at=datetime.fromisoformat(at))


EVENTS = [
    _disbursed("L1", "2025-01-01", 90_000,
               [("2025-02-01", 30_000), ("2025-03-01", 30_000), ("2025-04-01", 30_000)]),
    _disbursed("L2", "2025-03-01", 50_000, [("2025-03-31", 50_000)]),
    _disbursed("L3", "2025-02-01", 60_000, [("2025-03-01", 30_000), ("2025-04-01", 30_000)]),
    _repaid("L1", "T1", "2025-02-01", 30_000, 1, "2025-02-01"),
    _repaid("L3", "T3", "2025-03-15", 5_000, 1, "2025-03-01"),
    Event("loan.repayment_reversed", "L3", {"loan_id": "L3", "reversed_transaction_id": "T3",
                                            "transaction_id": "R3"}),
    _step("loan.submitted", "L4", "2025-03-10T09:00:00+00:00"),
    _step("loan.submitted", "L5", "2025-03-05T09:00:00+00:00"),
    _step("loan.approved", "L5", "2025-03-29T09:00:00+00:00"),
    Event("loan.snapshots", D1, {"business_date": D1, "rows": [
        _row("L1", 2, 29, 60_000), _row("L2", 1, 0, 50_000), _row("L3", 1, 29, 60_000)]}),
    _closed(D1, 3),
    Event("loan.snapshots", D2, {"business_date": D2, "rows": [
        _row("L1", 2, 30, 60_000), _row("L2", 1, 0, 50_000), _row("L3", 1, 31, 60_000)]}),
    _closed(D2, 3),
    # Backdated into D1: L2 paid off; its rows of D1 and D2 re-run.
    _repaid("L2", "T2", D1, 50_000, 1, "2025-03-31"),
    Event("loan.snapshots", D1, {"business_date": D1, "rows": [
        _row("L2", 2, 0, 0, "CLOSED")]}),
    Event("loan.snapshots", D2, {"business_date": D2, "rows": [
        _row("L2", 2, 0, 0, "CLOSED")]}),
]


async def _reports(client: AsyncMongoClient[dict[str, Any]], order: list[int]) -> tuple[
    dict[str, Any], dict[str, list[dict[str, Any]]]
]:
    db = client[f"test_rt_{uuid.uuid4().hex[:10]}"]
    try:
        models = ReadModels(db)
        service = ReportingService(models, NoCache(), ZoneInfo("UTC"),
                                   clock=lambda: datetime(2025, 4, 2, tzinfo=UTC))
        project = Project(service)
        for i in order:
            await project.apply(EVENTS[i], None)
        got: dict[str, Any] = {}

        def keep(report: object) -> str:
            got["last"] = report
            return ""

        out: dict[str, Any] = {}
        for day in (D1, D2):
            for scope in ({}, {"agent_id": "a1"}, {"product_id": "p2"}, {"branch_id": "BR2"}):
                await service.report(ADMIN, _query(Kind.PORTFOLIO, day, scope), keep)
                view = got["last"]
                assert isinstance(view, PortfolioView)
                await _check_portfolio(models, view, date.fromisoformat(day), scope)
                await service.report(ADMIN, _query(Kind.AGENTS, day, scope), keep)
                agents = got["last"]
                assert isinstance(agents, AgentsView)
                await _check_agents(models, agents, scope)
                out[f"{day}{scope}"] = (view, agents)
        dumped = {name: await models.dump(name) for name in READ_MODELS}
        dumped.pop("meta")
        # A database whose totals are from an older version gets them built again at start,
        # from the facts and rows held: the same documents.
        await db["meta"].delete_one({"_id": "totals"})
        assert await models.upgrade_totals()
        assert not await models.upgrade_totals()
        for name in (DAY_TOTALS, DAY_FLOWS, DAY_BORROWERS, BUSINESS_DATES):
            assert await models.dump(name) == dumped[name], name
        return out, dumped
    finally:
        await client.drop_database(db.name)


def _query(kind: str, day: str, scope: dict[str, str]) -> ReportQuery:
    return ReportQuery(kind, as_of=day, agent_id=scope.get("agent_id", ""),
                       branch_id=scope.get("branch_id", ""),
                       product_id=scope.get("product_id", ""))


async def _check_portfolio(models: ReadModels, view: PortfolioView, as_of: date,
                           scope: dict[str, str]) -> None:
    """The reference: ``portfolio_summary`` over the date's rows and every fact."""
    rows = (await models.snapshot_rows([as_of], scope)).get(as_of, [])
    expected = portfolio_summary(
        rows, await models.disbursements(date.min, as_of, scope),
        await models.collections(date.min, as_of, scope), as_of,
        await models.applications(as_of, scope))
    assert view.summary == expected


async def _check_agents(models: ReadModels, view: AgentsView, scope: dict[str, str]) -> None:
    rows = (await models.snapshot_rows([view.as_of], scope)).get(view.as_of, [])
    dues = await models.dues(view.start, view.end, scope)
    parts = await models.installment_payments(view.start, view.end, scope)
    assert view.rows == agent_performance(rows, dues, parts, view.start, view.end)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(EVENTS))),
       repeats=st.lists(st.integers(0, len(EVENTS) - 1), max_size=3))
async def test_portfolio_and_agents_from_the_totals_in_any_order(
    mongo_client: AsyncMongoClient[dict[str, Any]], order: list[int], repeats: list[int]
) -> None:
    reports, dumped = await _reports(mongo_client, list(range(len(EVENTS))))
    again, dumped_again = await _reports(mongo_client, [*order, *repeats])
    assert again == reports
    assert dumped_again == dumped
    # By hand, as of D1 after the backdated payoff: L1 and L3 active; b and c borrowers.
    view, agents = reports[f"{D1}{{}}"]
    total = view.summary.totals[0]
    assert (total.active_loans, total.borrowers) == (2, 2)
    assert total.outstanding_principal.amount_minor == 120_000
    assert total.disbursed.amount_minor == 200_000
    # T1 and the backdated T2; T3 was reversed.
    assert total.collected.amount_minor == 80_000
    # L4 submitted, L5 approved (on 03-29), neither disbursed.
    assert (total.pending_approval, total.approved_not_disbursed) == (1, 1)
    p2 = [g.figures for g in view.summary.by(Dimension.PRODUCT) if g.key == "p2"]
    assert [(f.active_loans, f.borrowers, f.collected.amount_minor) for f in p2] == [
        (0, 0, 50_000)]
    assert [(r.agent_id, r.borrowers, r.active_loans) for r in agents.rows] == [
        ("a1", 1, 1), ("a2", 1, 1)]
    # March for a1: L1 #2 (30,000) and L2 #1 (due 03-31, after D1: not in the period).
    assert agents.flows[("a1", "USD")][2:] == (30_000, 0)
