"""Reports end to end: events through the real broker, reports through the gateway and gRPC.

The hand-made portfolio is published as loan_service and end of day publish
it (``loan.disbursed``, ``loan.repayment_applied``, ``loan.snapshots``,
``eod.date_closed``, ... with the payloads of the end-of-day contract), on
dates of its own in 2025, for agents created here, so other tests' loans
never share a figure with it. Every expected number is worked out by hand
below. Real loans and payments go through the running loan service too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import aio_pika
import grpc
import pytest

from microfinance.reporting.v1 import reporting_pb2 as pb
from microfinance.reporting.v1 import reporting_pb2_grpc
from reporting_service.adapters.read_models import READ_MODELS
from reporting_service.rebuild import rebuild
from shared.events import Event
from shared.runtime import database_name
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import active_loan, clients, make_borrower, make_product, md, pay

pytestmark = pytest.mark.e2e

D = date(2025, 3, 31)  # the reported date
D0 = date(2025, 3, 30)  # the date before, for the trend
MARCH = ("2025-03-01", "2025-03-31")


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the reports never showed the published events")
        await asyncio.sleep(0.05)


class Broker:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sent: list[Event] = []

    async def publish(self, *events: Event) -> None:
        connection = await aio_pika.connect(self.stack.settings.amqp_url, timeout=5)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.stack.settings.amqp_exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            for event in events:
                await exchange.publish(event.to_message(), routing_key=event.type)
        finally:
            await connection.close()
        self.sent.extend(events)

    async def settle(self, admin: Login) -> None:
        """Publish a marker date and wait for it: the one consumer takes events in order,
        so everything published before is projected once it is visible."""
        day = date(2001, 1, 1) + timedelta(days=len(self.sent))
        await self.publish(closed(day, 0))
        client = self.stack.client

        async def seen() -> bool:
            r = await client.get(
                "/api/v1/reports/par", params={"as_of": day.isoformat()}, headers=admin.headers
            )
            return r.status_code == 200

        await eventually(seen)


def event(kind: str, aggregate: str, payload: dict[str, Any]) -> Event:
    return Event(type=kind, aggregate_id=aggregate, payload=payload, producer="loan_service")


def closed(day: date, rows: int) -> Event:
    return Event(
        type="eod.date_closed", aggregate_id=day.isoformat(), producer="loan_service",
        payload={"business_date": day.isoformat(), "snapshot_rows": rows,
                 "loans_processed": rows, "penalties_charged": 0,
                 "closed_at": f"{day.isoformat()}T21:00:00+00:00"},
    )


def row(day: date, loan: str, agent: str, principal: int, dpd: int, *, currency: str = "USD",
        status: str = "ACTIVE", interest: int = 0, arrears: int = 0, version: int = 5
        ) -> dict[str, Any]:
    bucket = ("current" if dpd == 0 else "1-30" if dpd <= 30 else "31-60" if dpd <= 60
              else "61-90" if dpd <= 90 else "91-180" if dpd <= 180 else ">180")
    return {
        "business_date": day.isoformat(), "loan_id": loan, "borrower_id": f"B-{loan}",
        "agent_id": agent, "branch_id": "BR-01", "product_id": "PR-1", "currency": currency,
        "status": status, "outstanding_principal": principal, "outstanding_interest": interest,
        "outstanding_fees": 0, "outstanding_penalties": 0, "arrears_amount": arrears,
        "days_past_due": dpd, "bucket": bucket, "installments_overdue": 1 if dpd else 0,
        "loan_number": f"LN-{loan}", "loan_version": version,
    }


def snapshots(day: date, rows: list[dict[str, Any]]) -> Event:
    return Event(type="loan.snapshots", aggregate_id=day.isoformat(), producer="loan_service",
                 payload={"business_date": day.isoformat(), "rows": rows})


def disbursed(loan: str, agent: str, principal: int, on: str,
              schedule: list[tuple[int, str, int]], currency: str = "USD") -> Event:
    return event("loan.disbursed", loan, {
        "loan_id": loan, "borrower_id": f"B-{loan}", "agent_id": agent, "branch_id": "BR-01",
        "product_id": "PR-1", "currency": currency, "principal": principal,
        "disbursement_date": on, "upfront_fee": 0, "status": "ACTIVE",
        "schedule": [{"number": n, "due_date": due, "principal": amount, "interest": 0,
                      "fee": 0} for n, due, amount in schedule],
    })


def repaid(loan: str, agent: str, txn: str, on: str, parts: list[tuple[int, str, int, int]],
           channel: str = "CASH") -> Event:
    amount = sum(p + pen for _, _, p, pen in parts)
    penalty = sum(pen for *_, pen in parts)
    return event("loan.repayment_applied", loan, {
        "loan_id": loan, "agent_id": agent, "branch_id": "BR-01", "product_id": "PR-1",
        "currency": "USD", "transaction_id": txn, "payment_id": f"P-{txn}", "amount": amount,
        "value_date": on, "channel": channel, "recovery": 0, "backdated": False,
        "allocation": {"principal": amount - penalty, "interest": 0, "fee": 0,
                       "penalty": penalty, "recovery": 0, "interest_waived": 0},
        "installment_split": [{"number": n, "due_date": due, "principal": p, "interest": 0,
                          "fee": 0, "penalty": pen} for n, due, p, pen in parts],
    })


class Portfolio:
    """Agent A: L1 on time, L2 5 days late, L3 35, L4 95, L5 written off. Agent B: L7 on
    time (USD) and L8 (KES)."""

    def __init__(self, a: str, b: str) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ids = {name: f"{name}-{tag}" for name in ("L1", "L2", "L3", "L4", "L5", "L7", "L8")}
        self.a, self.b = a, b

    def rows(self, day: date, l2_dpd: int = 5, l3_dpd: int = 35, l2_version: int = 5
             ) -> list[dict[str, Any]]:
        i, a, b = self.ids, self.a, self.b
        return [
            row(day, i["L1"], a, 100_000, 0),
            row(day, i["L2"], a, 80_000, l2_dpd, interest=1_200, arrears=2_000,
                version=l2_version),
            row(day, i["L3"], a, 60_000, l3_dpd, interest=3_000, arrears=15_000),
            row(day, i["L4"], a, 40_000, 95, interest=5_000, arrears=35_000),
            row(day, i["L5"], a, 0, 0, status="WRITTEN_OFF"),
            row(day, i["L7"], b, 20_000, 0),
            row(day, i["L8"], b, 50_000, 0, currency="KES"),
        ]

    def flows(self) -> list[Event]:
        i, a, b = self.ids, self.a, self.b
        l1 = [(1, "2025-02-20", 30_000), (2, "2025-03-10", 30_000), (3, "2025-03-20", 30_000),
              (4, "2025-04-10", 30_000)]
        return [
            disbursed(i["L1"], a, 120_000, "2025-01-20", l1),
            disbursed(i["L2"], a, 80_000, "2025-01-21", []),
            disbursed(i["L3"], a, 60_000, "2025-01-22", []),
            disbursed(i["L4"], a, 60_000, "2024-11-26",
                      [(1, "2024-12-26", 30_000), (2, "2025-03-05", 30_000)]),
            disbursed(i["L5"], a, 20_000, "2025-01-12", [(1, "2025-03-12", 20_000)]),
            disbursed(i["L7"], b, 20_000, "2025-02-15", [(1, "2025-03-15", 10_000)]),
            disbursed(i["L8"], b, 50_000, "2025-02-16", [], currency="KES"),
            event("loan.written_off", i["L5"], {"loan_id": i["L5"], "agent_id": a,
                                                "write_off_date": "2025-03-05",
                                                "written_off_amount": 20_000}),
            # Before March: all of #1 and 10,000 of #2 (due in March).
            repaid(i["L1"], a, f"T0-{i['L1']}", "2025-02-20",
                   [(1, "2025-02-20", 30_000, 0), (2, "2025-03-10", 10_000, 0)]),
            repaid(i["L1"], a, f"T1-{i['L1']}", "2025-03-10", [(2, "2025-03-10", 20_000, 0)]),
            repaid(i["L1"], a, f"T2-{i['L1']}", "2025-03-25", [(3, "2025-03-20", 15_000, 500)],
                   channel="MOBILE_MONEY"),
            repaid(i["L1"], a, f"T3-{i['L1']}", "2025-03-28", [(4, "2025-04-10", 30_000, 0)]),
            repaid(i["L4"], a, f"T4-{i['L4']}", "2025-03-15", [(1, "2024-12-26", 5_000, 0)]),
            repaid(i["L1"], a, f"T5-{i['L1']}", "2025-03-29", [(3, "2025-03-20", 10_000, 0)]),
            event("loan.repayment_reversed", i["L1"], {
                "loan_id": i["L1"], "reversed_transaction_id": f"T5-{i['L1']}",
                "transaction_id": f"R5-{i['L1']}", "amount": 10_000, "value_date": "2025-03-29",
            }),
            repaid(i["L7"], b, f"T6-{i['L7']}", "2025-03-15", [(1, "2025-03-15", 10_000, 0)]),
        ]


@pytest.fixture(scope="module")
async def world(stack: Stack) -> dict[str, Any]:
    admin = await stack.admin_login()
    agent_a = await stack.ready_staff(admin)
    agent_b = await stack.ready_staff(admin)
    book = Portfolio(agent_a.staff_id, agent_b.staff_id)
    broker = Broker(stack)
    rows = book.rows(D)
    # Out of order: the date's close first, and only part of its rows.
    await broker.publish(*book.flows(), snapshots(D0, book.rows(D0, l2_dpd=4, l3_dpd=25)),
                         closed(D0, 7), closed(D, 7), snapshots(D, rows[:3]))
    await broker.settle(admin)
    r = await stack.client.get("/api/v1/reports/par", params={"as_of": D.isoformat()},
                               headers=admin.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == "as_of"
    await broker.publish(snapshots(D, rows[3:]))
    await broker.settle(admin)
    return {"admin": admin, "a": agent_a, "b": agent_b, "book": book, "broker": broker}


async def get(stack: Stack, who: Login, path: str, **params: Any) -> dict[str, Any]:
    r = await stack.client.get(f"/api/v1/reports/{path}", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def usd(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in figures if f.get("currency", f.get("at_risk_principal", {}).get(
        "currency")) == "USD"]


async def test_par_and_aging_match_the_hand_computed_figures(
    stack: Stack, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    body = await get(stack, admin, "par", as_of=D.isoformat())
    # Active USD principal: 100,000 + 80,000 + 60,000 + 40,000 + 20,000 = 300,000.
    # PAR1: 180,000 / 300,000; PAR30: 100,000 / 300,000; PAR90: 40,000 / 300,000.
    figures = {(m["threshold_days"], m["at_risk_principal"]["currency"]):
               (m["at_risk_principal"]["amount_minor"], m["loan_count"], m["percent"],
                m["outstanding_principal"]["amount_minor"]) for m in body["par"]}
    assert figures[(1, "USD")] == (180_000, 3, "60.00", 300_000)
    assert figures[(30, "USD")] == (100_000, 2, "33.33", 300_000)
    assert figures[(90, "USD")] == (40_000, 1, "13.33", 300_000)
    # KES apart, never added to USD.
    assert figures[(1, "KES")] == (0, 0, "0.00", 50_000)

    loans = await get(stack, admin, "par/loans", as_of=D.isoformat(), threshold="1",
                      page_size=2)
    ids = world["book"].ids
    assert [loan["loan_id"] for loan in loans["loans"]] == [ids["L4"], ids["L3"]]
    assert loans["page"]["total_size"] == 3
    rest = await get(stack, admin, "par/loans", as_of=D.isoformat(), threshold="1",
                     page_size=2, page_token=loans["page"]["next_page_token"])
    assert [loan["loan_id"] for loan in rest["loans"]] == [ids["L2"]]
    assert rest["loans"][0]["loan_number"] == f"LN-{ids['L2']}"

    aging = await get(stack, admin, "aging", as_of=D.isoformat(), currency="USD")
    buckets = {b["label"]: (b["loan_count"], b["outstanding_principal"]["amount_minor"],
                            b["percent"]) for b in aging["buckets"]}
    assert buckets == {
        "current": (2, 120_000, "40.00"),
        "1-30": (1, 80_000, "26.67"),
        "31-60": (1, 60_000, "20.00"),
        "61-90": (0, 0, "0.00"),
        "91-180": (1, 40_000, "13.33"),
        ">180": (0, 0, "0.00"),
    }


async def test_portfolio_summary_and_trend(stack: Stack, world: dict[str, Any]) -> None:
    admin, a = world["admin"], world["a"]
    body = await get(stack, admin, "portfolio", as_of=D.isoformat(), agent_id=a.staff_id)
    (summary,) = body["summaries"]
    assert summary["currency"] == "USD"
    assert summary["active_loans"] == 4  # the written-off loan left the book
    assert summary["outstanding_principal"]["amount_minor"] == 280_000
    # Interest receivable (due and unpaid), not the whole schedule's interest.
    assert summary["outstanding_interest"]["amount_minor"] == 9_200
    assert summary["arrears_amount"]["amount_minor"] == 52_000
    assert summary["loans_in_arrears"] == 3
    # Principal disbursed to D: 120,000 + 80,000 + 60,000 + 60,000 + 20,000.
    assert summary["disbursed_amount"]["amount_minor"] == 340_000
    # Received to D, the reversed 10,000 excluded: 40,000 + 20,000 + 15,500 + 30,000 + 5,000.
    assert summary["collected_amount"]["amount_minor"] == 110_500

    trend = await get(stack, admin, "trend", **{"from": D0.isoformat(), "to": D.isoformat(),
                                                "currency": "USD"})
    points = [(p["business_date"], p["par30_percent"],
               p["outstanding_principal"]["amount_minor"]) for p in trend["points"]]
    assert points == [(D0.isoformat(), "13.33", 300_000), (D.isoformat(), "33.33", 300_000)]


async def test_collection_efficiency_and_collections(stack: Stack, world: dict[str, Any]) -> None:
    admin, a = world["admin"], world["a"]
    body = await get(stack, admin, "collection-efficiency",
                     **{"from": MARCH[0], "to": MARCH[1], "agent_id": a.staff_id})
    (row_a,) = body["rows"]
    # Due in March: L1 #2 (30,000 less 10,000 paid in February), L1 #3 30,000, L4 #2
    # 30,000; L5's installment went with its write-off.
    assert row_a["due"]["amount_minor"] == 80_000
    # Paid to those in March: 20,000 to L1 #2, 15,000 to L1 #3 (the reversed 10,000 not).
    assert row_a["collected_due"]["amount_minor"] == 35_000
    assert row_a["arrears_collected"]["amount_minor"] == 5_000
    assert row_a["prepaid"]["amount_minor"] == 30_000
    assert row_a["penalties_collected"]["amount_minor"] == 500
    assert row_a["rate"] == "43.75"

    both = await get(stack, admin, "collection-efficiency",
                     **{"from": MARCH[0], "to": MARCH[1], "currency": "USD"})
    mine = {r["agent_id"]: r["rate"] for r in both["rows"]
            if r["agent_id"] in (a.staff_id, world["b"].staff_id)}
    assert mine == {a.staff_id: "43.75", world["b"].staff_id: "100.00"}

    paid = await get(stack, admin, "collections", **{"from": MARCH[0], "to": MARCH[1],
                                                      "agent_id": a.staff_id, "by": "month"})
    (total,) = paid["totals"]
    assert total["collected_amount"]["amount_minor"] == 70_500
    assert total["payment_count"] == 4
    assert (total["reversed_count"], total["reversed_amount"]["amount_minor"]) == (1, 10_000)
    assert [r["period"] for r in paid["rows"]] == ["2025-03"]
    by_channel = await get(stack, admin, "collections", **{
        "from": MARCH[0], "to": MARCH[1], "agent_id": a.staff_id, "dimension": "channel",
        "by": "month"})
    channels = {r["key"]: r["collected_amount"]["amount_minor"] for r in by_channel["rows"]}
    assert channels == {"CASH": 20_000 + 30_000 + 5_000, "MOBILE_MONEY": 15_500}

    out = await get(stack, admin, "disbursements", **{
        "from": "2025-01-01", "to": "2025-01-31", "agent_id": a.staff_id, "by": "week"})
    assert sum(r["loan_count"] for r in out["rows"]) == 4
    assert out["totals"][0]["principal_amount"]["amount_minor"] == 280_000
    assert {r["period"] for r in out["rows"]} == {"2025-W02", "2025-W04"}

    agents = await get(stack, admin, "agents", as_of=D.isoformat(), agent_id=a.staff_id,
                       **{"from": MARCH[0], "to": MARCH[1]})
    (perf,) = agents["rows"]
    assert (perf["active_loans"], perf["par30_percent"], perf["collection_rate"]) == (
        4, "35.71", "43.75")


async def test_an_agent_gets_nothing_of_another_agents_reports(
    stack: Stack, world: dict[str, Any]
) -> None:
    a, b = world["a"], world["b"]
    ids = world["book"].ids
    theirs = {ids[n] for n in ("L1", "L2", "L3", "L4", "L5")}
    # Over REST, naming agent A: B's own portfolio only.
    par = await get(stack, b, "par", as_of=D.isoformat(), agent_id=a.staff_id)
    usd_par = [m for m in par["par"] if m["outstanding_principal"]["currency"] == "USD"]
    assert {m["outstanding_principal"]["amount_minor"] for m in usd_par} == {20_000}
    assert {m["loan_count"] for m in usd_par} == {0}
    loans = await get(stack, b, "par/loans", as_of=D.isoformat(), threshold="1",
                      agent_id=a.staff_id)
    assert loans["loans"] == []
    portfolio = await get(stack, b, "portfolio", as_of=D.isoformat(), agent_id=a.staff_id)
    assert {g["key"] for g in portfolio["groups"] if g["dimension"] == "agent"} == {b.staff_id}
    eff = await get(stack, b, "collection-efficiency",
                    **{"from": MARCH[0], "to": MARCH[1], "agent_id": a.staff_id})
    assert [r["agent_id"] for r in eff["rows"]] == [b.staff_id]
    csv = await stack.client.get("/api/v1/reports/par", headers=b.headers, params={
        "as_of": D.isoformat(), "agent_id": a.staff_id, "format": "csv"})
    assert csv.status_code == 200
    assert not any(loan in csv.text for loan in theirs)

    # Directly over gRPC, with B's token.
    async with grpc.aio.insecure_channel(stack.hosts["reporting"].address) as channel:
        stub = reporting_pb2_grpc.ReportingServiceStub(channel)
        scoped = pb.ReportFilter(as_of_date=D.isoformat(), agent_id=a.staff_id)
        reply = await stub.GetParLoans(pb.GetParLoansRequest(filter=scoped, threshold_days=1),
                                       metadata=md(b))
        assert list(reply.loans) == []
        summary = await stub.GetPortfolioSummary(
            pb.GetPortfolioSummaryRequest(filter=scoped), metadata=md(b))
        assert {g.key for g in summary.groups if g.dimension == "agent"} == {b.staff_id}
        exported = await stub.ExportReport(
            pb.ExportReportRequest(par=pb.GetParRequest(filter=scoped)), metadata=md(b))
        assert not any(loan in exported.csv for loan in theirs)
        agents = await stub.GetAgentPerformance(
            pb.GetAgentPerformanceRequest(filter=scoped), metadata=md(b))
        assert {r.agent_id for r in agents.rows} <= {b.staff_id}
        # The whole date's snapshot is for admins only.
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.GetSnapshot(pb.GetSnapshotRequest(business_date=D.isoformat()),
                                   metadata=md(b))
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
        admin = world["admin"]
        snap = await stub.GetSnapshot(pb.GetSnapshotRequest(
            business_date=D.isoformat(), filter=pb.ReportFilter(currency="USD")),
            metadata=md(admin))
        assert snap.snapshot.summary.outstanding_principal.amount_minor == 300_000
        assert [b.loan_count for b in snap.snapshot.aging] == [2, 1, 1, 0, 1, 0]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetSnapshot(pb.GetSnapshotRequest(business_date="2025-03-15"),
                                   metadata=md(admin))
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("par", {"as_of": "2025-13-01"}, "as_of"),
        ("par", {"as_of": "31-03-2025"}, "as_of"),
        ("aging", {"as_of": "2999-01-01"}, "as_of"),
        ("portfolio", {"as_of": "2025-03-15"}, "as_of"),
        ("collections", {"from": "2025-03-10", "to": "2025-03-01"}, "from"),
        ("trend", {"from": "2025-03-31", "to": "2025-03-30"}, "from"),
        ("disbursements", {"from": "2025-02-30"}, "from"),
        ("collection-efficiency", {"to": "2999-01-01"}, "to"),
        ("par", {"as_of": "2025-03-31", "currency": "XYZ"}, "currency"),
        ("aging", {"as_of": "2025-03-31", "currency": "usd"}, "currency"),
        ("agents", {"currency": "ZZZ"}, "currency"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    stack: Stack, world: dict[str, Any], path: str, params: dict[str, str], field: str
) -> None:
    r = await stack.client.get(f"/api/v1/reports/{path}", params=params,
                               headers=world["admin"].headers)
    assert r.status_code == 422, r.text
    assert field in [f["field"] for f in r.json()["error"]["fields"]], r.text


REPORTS: list[tuple[str, dict[str, str], str]] = [
    ("portfolio", {"as_of": D.isoformat()}, "as_of,dimension,key,currency"),
    ("par", {"as_of": D.isoformat()}, "as_of,threshold_days,currency"),
    ("aging", {"as_of": D.isoformat()}, "as_of,currency,bucket"),
    ("disbursements", {"from": "2025-01-01", "to": "2025-03-31"}, "period,key,currency"),
    ("collections", {"from": MARCH[0], "to": MARCH[1]}, "period,key,currency"),
    ("collection-efficiency", {"from": MARCH[0], "to": MARCH[1]}, "from,to,agent_id"),
    ("agents", {"as_of": D.isoformat()}, "agent_id,currency,borrowers"),
    ("trend", {"from": D0.isoformat(), "to": D.isoformat()}, "business_date,currency"),
]


@pytest.mark.parametrize(("path", "params", "header"), REPORTS)
async def test_every_report_as_csv(
    stack: Stack, world: dict[str, Any], path: str, params: dict[str, str], header: str
) -> None:
    r = await stack.client.get(f"/api/v1/reports/{path}", params={**params, "format": "csv"},
                               headers=world["admin"].headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith("\ufeff".encode())
    assert r.text.lstrip("\ufeff").startswith(header)
    assert r.text.endswith("\r\n")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{path}-')
    assert disposition.endswith('.csv"')
    if path == "par":
        assert world["book"].ids["L4"] in r.text


async def all_reports(stack: Stack, world: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for who in (world["admin"], world["a"], world["b"]):
        for path, params, _ in REPORTS:
            out.append(await get(stack, who, path, **params))
        out.append(await get(stack, who, "par/loans", as_of=D.isoformat(), threshold="1"))
    return out


async def dump(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.settings.mongo_url_or_default())
    try:
        db = client[database_name(stack.settings, "reporting")]
        return {name: [doc async for doc in db[name].find({}).sort("_id", 1)]
                for name in READ_MODELS}
    finally:
        await client.close()


E = date(2024, 7, 31)  # the pipeline's and write-offs' own closed date


def lifecycle(kind: str, loan: str, agent: str, on: str, currency: str = "USD",
              **extra: Any) -> Event:
    """A lifecycle event as loan_service publishes it, at noon UTC of ``on``."""
    return Event(
        type=kind, aggregate_id=loan, producer="loan_service",
        occurred_at=datetime.fromisoformat(f"{on}T12:00:00+00:00"),
        payload={"loan_id": loan, "agent_id": agent, "branch_id": "BR-01",
                 "product_id": "PR-1", "currency": currency, "version": 2, **extra},
    )


def recovered(loan: str, agent: str, txn: str, on: str, amount: int) -> Event:
    return event("loan.repayment_applied", loan, {
        "loan_id": loan, "agent_id": agent, "branch_id": "BR-01", "product_id": "PR-1",
        "currency": "USD", "transaction_id": txn, "payment_id": f"P-{txn}", "amount": amount,
        "value_date": on, "channel": "CASH", "recovery": True, "backdated": False,
        "allocation": {"principal": 0, "interest": 0, "fee": 0, "penalty": 0,
                       "recovery": amount, "interest_waived": 0},
        "installment_split": [],
    })


async def test_written_off_recovered_and_the_approval_pipeline(
    stack: Stack, world: dict[str, Any]
) -> None:
    admin, broker = world["admin"], world["broker"]
    tag = uuid.uuid4().hex[:6]
    c = f"AG-C-{tag}"
    m1, m2, m3 = (f"M{n}-{tag}" for n in (1, 2, 3))
    p = {n: f"P{n}-{tag}" for n in range(1, 9)}
    await broker.publish(
        lifecycle("loan.submitted", p[1], c, "2024-07-10"),  # pending
        lifecycle("loan.submitted", p[2], c, "2024-07-10"),
        lifecycle("loan.approved", p[2], c, "2024-07-20"),  # approved, not disbursed
        lifecycle("loan.submitted", m1, c, "2024-07-10"),
        lifecycle("loan.approved", m1, c, "2024-07-15"),
        disbursed(m1, c, 10_000, "2024-07-16", []),  # left the pipeline
        lifecycle("loan.submitted", p[4], c, "2024-07-10"),
        lifecycle("loan.rejected", p[4], c, "2024-07-12"),
        lifecycle("loan.submitted", p[5], c, "2024-07-10"),
        lifecycle("loan.withdrawn", p[5], c, "2024-07-30"),
        lifecycle("loan.submitted", p[6], c, "2024-08-02"),  # after E
        # Approved after E, seen first: still pending on E.
        lifecycle("loan.approved", p[7], c, "2024-08-03"),
        lifecycle("loan.submitted", p[7], c, "2024-07-25"),
        lifecycle("loan.submitted", p[8], c, "2024-07-10", currency="KES"),
        # M2 written off (30,000) before E, 4,000 recovered by E and 1,000 after; M3's
        # write-off after E.
        disbursed(m2, c, 50_000, "2024-05-01", []),
        disbursed(m3, c, 20_000, "2024-06-01", []),
        lifecycle("loan.written_off", m2, c, "2024-07-20", write_off_date="2024-07-20",
                  written_off_amount=30_000),
        recovered(m2, c, f"R1-{m2}", "2024-07-28", 4_000),
        recovered(m2, c, f"R2-{m2}", "2024-08-05", 1_000),
        lifecycle("loan.written_off", m3, c, "2024-08-10", write_off_date="2024-08-10",
                  written_off_amount=7_000),
        snapshots(E, [row(E, m1, c, 10_000, 0), row(E, m2, c, 0, 0, status="WRITTEN_OFF"),
                      row(E, m3, c, 20_000, 0)]),
        closed(E, 3),
    )
    await broker.settle(admin)
    body = await get(stack, admin, "portfolio", as_of=E.isoformat(), agent_id=c)
    got = {s["currency"]: (s["active_loans"], s["disbursed_amount"]["amount_minor"],
                           s["collected_amount"]["amount_minor"],
                           s["written_off_amount"]["amount_minor"],
                           s["recovered_amount"]["amount_minor"],
                           s["loans_pending_approval"],
                           s["loans_approved_not_disbursed"])
           for s in body["summaries"]}
    # USD: disbursed 10,000 + 50,000 + 20,000; pending P1 and P7, approved P2.
    assert got == {"KES": (0, 0, 0, 0, 0, 1, 0), "USD": (2, 80_000, 4_000, 30_000, 4_000, 2, 1)}
    assert {s["written_off_amount"]["currency"] for s in body["summaries"]} == {"KES", "USD"}
    # Scoped like the rest: another agent's portfolio has none of it.
    other = await get(stack, admin, "portfolio", as_of=E.isoformat(), agent_id=world["a"].staff_id)
    assert other["summaries"] == []


async def test_redelivered_and_duplicated_events_change_no_report_and_a_rebuild_is_identical(
    stack: Stack, world: dict[str, Any]
) -> None:
    broker: Broker = world["broker"]
    before = await all_reports(stack, world)
    # The same events again (a redelivery: same ids), and copies under new ids (a publisher
    # that sent one twice): a repayment, a disbursement, an older snapshot row, a close.
    book = world["book"]
    flows = book.flows()
    copies = [
        Event(type=e.type, aggregate_id=e.aggregate_id, payload=e.payload)
        for e in (flows[0], flows[9], flows[14])
    ]
    old_row = {**book.rows(D)[1], "days_past_due": 0, "loan_version": 1}
    await broker.publish(*list(broker.sent), *copies, snapshots(D, [old_row]), closed(D, 7))
    await broker.settle(world["admin"])
    assert await all_reports(stack, world) == before

    models = await dump(stack)
    assert models["snapshots"], "the read models are empty"
    replayed = await rebuild(stack.settings)
    assert replayed >= len({e.id for e in broker.sent})
    rebuilt = await dump(stack)
    for name in READ_MODELS:
        diff = [(a, b) for a, b in zip(rebuilt[name], models[name], strict=False) if a != b]
        assert (len(rebuilt[name]), diff[:1]) == (len(models[name]), []), name
    assert await all_reports(stack, world) == before


async def test_a_revised_snapshot_changes_the_closed_dates_report(
    stack: Stack, world: dict[str, Any]
) -> None:
    """A backdated repayment re-derives a loan's rows with a higher loan version: the
    cached report of that closed date must not outlive it."""
    admin = world["admin"]
    first = await get(stack, admin, "par", as_of=D0.isoformat(), currency="USD")
    assert first["par"][0]["percent"] == "60.00"
    revised = world["book"].rows(D0, l2_dpd=0, l3_dpd=25, l2_version=9)[1]
    await world["broker"].publish(snapshots(D0, [revised]))

    async def changed() -> bool:
        body = await get(stack, admin, "par", as_of=D0.isoformat(), currency="USD")
        # PAR1 without L2: (60,000 + 40,000) / 300,000.
        return bool(body["par"][0]["percent"] == "33.33")

    await eventually(changed)


async def test_real_loans_and_payments_reach_the_reports(stack: Stack) -> None:
    admin = await stack.admin_login()
    agent = await stack.ready_staff(admin)
    today = date.today()
    async with clients(stack) as c:
        product = await make_product(c, admin)
        borrower = await make_borrower(c, agent, admin)
        loan = await active_loan(c, agent, admin, borrower, product.id, principal=100_000,
                                 installments=4)
        await pay(c, agent, loan.id, 5_000, today)
    window = {"from": today.isoformat(), "to": today.isoformat(), "agent_id": agent.staff_id}

    async def arrived() -> bool:
        out = await get(stack, admin, "disbursements", **window)
        paid = await get(stack, admin, "collections", **window)
        eff = await get(stack, admin, "collection-efficiency", **window)
        return bool(
            out["totals"] and out["totals"][0]["principal_amount"]["amount_minor"] == 100_000
            and paid["totals"]
            and paid["totals"][0]["collected_amount"]["amount_minor"] == 5_000
            and eff["rows"] and eff["rows"][0]["prepaid"]["amount_minor"] == 5_000
        )

    # The first installment falls due next week: today's payment is a prepayment.
    await eventually(arrived)
