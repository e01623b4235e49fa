"""reporting's projection against a real MongoDB: order and repetition change nothing.

Events arrive out of order (two publishers' relays, retries) and more than once
(a relay that crashed before marking an event sent). Whatever the order and
however many copies, the read models must come out the same, or a rebuild
(which replays in arrival order) would not reproduce them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from reporting_service.adapters.read_models import READ_MODELS, ReadModels
from reporting_service.consumers import Project
from reporting_service.service import NoCache, ReportingService
from shared.events import Event


def _row(loan: str, version: int, dpd: int, principal: int, agent: str = "a1",
         branch: str = "BR") -> dict[str, Any]:
    return {
        "loan_id": loan, "borrower_id": "b", "agent_id": agent, "branch_id": branch,
        "product_id": "p", "currency": "USD", "status": "ACTIVE",
        "outstanding_principal": principal, "outstanding_interest": 0, "outstanding_fees": 0,
        "outstanding_penalties": 0,
        "arrears_amount": 0, "days_past_due": dpd, "bucket": "current" if not dpd else "1-30",
        "installments_overdue": 0, "loan_number": f"LN-{loan}", "loan_version": version,
    }


def _events() -> list[Event]:
    day = "2025-03-31"
    base = {"agent_id": "a1", "branch_id": "BR", "product_id": "p", "currency": "USD"}
    return [
        Event("loan.disbursed", "L1", {
            **base, "loan_id": "L1", "borrower_id": "b", "principal": 90_000, "upfront_fee": 0,
            "disbursement_date": "2025-01-01",
            "schedule": [{"number": n, "due_date": f"2025-0{n + 1}-01", "principal": 30_000,
                          "interest": 0, "fee": 0} for n in (1, 2, 3)]}),
        Event("loan.repayment_applied", "L1", {
            **base, "loan_id": "L1", "transaction_id": "T1", "amount": 30_000,
            "value_date": "2025-02-01", "channel": "CASH",
            "allocation": {"principal": 30_000},
            "installment_split": [{"number": 1, "due_date": "2025-02-01", "principal": 30_000,
                                   "interest": 0, "fee": 0, "penalty": 0}]}),
        Event("loan.repayment_applied", "L1", {
            **base, "loan_id": "L1", "transaction_id": "T2", "amount": 10_000,
            "value_date": "2025-03-02", "channel": "CASH", "allocation": {"principal": 10_000},
            "installment_split": [{"number": 2, "due_date": "2025-03-01", "principal": 10_000,
                                   "interest": 0, "fee": 0, "penalty": 0}]}),
        Event("loan.repayment_reversed", "L1", {
            "loan_id": "L1", "reversed_transaction_id": "T2", "transaction_id": "R2"}),
        Event("loan.written_off", "L1", {"loan_id": "L1", "write_off_date": "2025-03-15"}),
        Event("loan.snapshots", day, {"business_date": day, "rows": [
            _row("L1", 3, 30, 60_000), _row("L3", 1, 95, 8_000, branch="BR2")]}),
        # L3 revised under another agent (reassigned): its totals move with it.
        Event("loan.snapshots", day, {"business_date": day, "rows": [
            _row("L3", 2, 40, 7_000, agent="a2")]}),
        Event("loan.snapshots", day, {"business_date": day, "rows": [_row("L1", 7, 0, 50_000),
                                                                      _row("L2", 1, 0, 5_000)]}),
        Event("eod.date_closed", day, {"business_date": day, "snapshot_rows": 3,
                                       "loans_processed": 3, "penalties_charged": 0,
                                       "closed_at": "2025-03-31T21:00:00+00:00"}),
        Event("borrower.updated", "b", {"borrower_id": "b", "version": 2,
                                        "assigned_agent_id": "a2", "branch_id": "BR"}),
        Event("borrower.updated", "b", {"borrower_id": "b", "version": 1,
                                        "assigned_agent_id": "a1", "branch_id": "BR"}),
    ]


EVENTS = _events()


async def _project(client: AsyncMongoClient[dict[str, Any]], order: list[int]
                   ) -> dict[str, list[dict[str, Any]]]:
    db = client[f"test_rp_{uuid.uuid4().hex[:10]}"]
    try:
        models = ReadModels(db)
        project = Project(ReportingService(models, NoCache(), ZoneInfo("UTC")))
        for i in order:
            await project.apply(EVENTS[i], None)
        dumped = {name: await models.dump(name) for name in READ_MODELS}
        # The money-event counter counts deliveries; it only names cache entries.
        dumped.pop("meta")
        return dumped
    finally:
        await client.drop_database(db.name)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(EVENTS))),
       repeats=st.lists(st.integers(0, len(EVENTS) - 1), max_size=4))
async def test_any_order_and_any_repetition_give_the_same_read_models(
    mongo_client: AsyncMongoClient[dict[str, Any]], order: list[int], repeats: list[int]
) -> None:
    expected = await _project(mongo_client, list(range(len(EVENTS))))
    assert await _project(mongo_client, [*order, *repeats]) == expected
    # And what they hold: the newest row, the reversal, the write-off, the newest borrower.
    assert [r["loan_version"] for r in expected["snapshots"]] == [7, 1, 2]
    assert expected["business_dates"][0]["rows_held"] == 3
    assert expected["business_dates"][0]["revision"] == 10
    # The closed date's totals: L1 and L2 under a1, L3 (DPD 40) under a2.
    totals = {t["agent_id"]: (t["loans"], t["principal"], t["par30_loans"],
                              t["par90_principal"], t["dpd_31_60_principal"])
              for t in expected["day_totals"]}
    assert totals == {"a1": (2, 55_000, 0, 0, 0), "a2": (1, 7_000, 1, 0, 7_000)}
    assert [c["reversed"] for c in expected["collections"]] == [False, True]
    assert [i["cancelled"] for i in expected["installments"]] == [False, False, True]
    assert expected["borrowers"][0]["assigned_agent_id"] == "a2"
    assert date.fromisoformat(expected["disbursements"][0]["written_off_from"]) == date(
        2025, 3, 15)
