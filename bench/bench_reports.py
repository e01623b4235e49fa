"""As-of report latency over N synthetic snapshot rows and their facts: from the rows and
facts (before) and from a closed date's totals (now).

Run: python bench/bench_reports.py [--rows 20000] [--days 3] [--runs 5] [--mongo-url URL]

Starts its own MongoDB (the embedded substitute, in memory) unless ``--mongo-url`` names
one (never a shared server: the bench writes a database of its own and drops it). Writes
``--days`` closed dates of ``--rows`` ACTIVE/CLOSED rows each (20 agents, 4 branches,
3 products, KES and USD, DPD spread over every bucket) and per loan its facts (a
disbursement over the past year, two installments due this month and next, one repayment
this month paying the first), times building every date's totals and the day flows
(``ReadModels.upgrade_totals``: what closing the dates costs reporting_service), then each
report, uncached and not rendered: PAR, aging, trend, portfolio and agents computed from
the rows and facts with the reference functions (``domain/portfolio.py``,
``domain/flows.py``: what the service did before), the same through the service (from the
totals), and the par/loans page. Admin (every agent) and one agent. It prints figures,
never fails on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bench_eod import _render, own_mongo  # bench/ is the script's own directory

from reporting_service.adapters.read_models import (
    BUSINESS_DATES,
    COLLECTIONS,
    DISBURSEMENTS,
    INSTALLMENT_PAYMENTS,
    INSTALLMENTS,
    SNAPSHOTS,
    ReadModels,
)
from reporting_service.domain.flows import agent_performance, collection_efficiency
from reporting_service.domain.portfolio import (
    aging_report,
    par_report,
    portfolio_summary,
    trend,
)
from reporting_service.migrations import REGISTRY
from reporting_service.service import Kind, NoCache, ReportingService, ReportQuery
from shared.identity import Caller, Role
from shared.mongo import create_mongo_client
from shared.portfolio import bucket_for

DPD = (0, 0, 0, 0, 0, 0, 3, 12, 25, 40, 75, 120, 200)


def rows_of(day: date, count: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        dpd = rng.choice(DPD)
        out.append({
            "_id": f"{day.isoformat()}|L{n:07d}", "business_date": day.isoformat(),
            "loan_id": f"L{n:07d}", "borrower_id": f"B{n // 2:07d}",
            "agent_id": f"AG{n % 20:02d}", "branch_id": f"BR{n % 4}",
            "product_id": f"PR{n % 3}", "currency": "KES" if n % 5 else "USD",
            "status": "ACTIVE" if n % 17 else "CLOSED",
            "outstanding_principal": rng.randint(5_000, 500_000),
            "outstanding_interest": rng.randint(0, 20_000), "outstanding_fees": 0,
            "outstanding_penalties": 0, "arrears_amount": rng.randint(0, 50_000) if dpd else 0,
            "days_past_due": dpd, "bucket": bucket_for(dpd).value,
            "installments_overdue": 1 if dpd else 0, "loan_number": f"LN{n:07d}",
            "loan_version": 3,
        })
    return out


def facts_of(count: int, last: date, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Per loan: its disbursement, two installments (this month, next), one repayment
    this month paying the first, as the projection stores them."""
    out: dict[str, list[dict[str, Any]]] = {DISBURSEMENTS: [], INSTALLMENTS: [], COLLECTIONS: [],
                                            INSTALLMENT_PAYMENTS: []}
    for n in range(count):
        labels = {"agent_id": f"AG{n % 20:02d}", "branch_id": f"BR{n % 4}",
                  "product_id": f"PR{n % 3}", "currency": "KES" if n % 5 else "USD"}
        loan = f"L{n:07d}"
        due = last.replace(day=1 + n % 28)
        paid = due + timedelta(days=rng.choice((0, 0, 0, 1, 3)))
        paid = min(paid, last)
        out[DISBURSEMENTS].append({
            "_id": loan, "loan_id": loan, "borrower_id": f"B{n // 2:07d}", **labels,
            "disbursement_date": (last - timedelta(days=rng.randint(0, 365))).isoformat(),
            "principal": rng.randint(50_000, 500_000), "upfront_fee": 0})
        for number, when in ((1, due), (2, due + timedelta(days=30))):
            out[INSTALLMENTS].append({
                "_id": f"{loan}|{number}", "loan_id": loan, "installment_number": number,
                "due_date": when.isoformat(), "amount": 20_000, "cancelled": False, **labels})
        out[COLLECTIONS].append({
            "_id": f"T{n:07d}", "transaction_id": f"T{n:07d}", "loan_id": loan, **labels,
            "value_date": paid.isoformat(), "amount": 20_000, "channel": "CASH",
            "principal": 18_000, "interest": 2_000, "fee": 0, "penalty": 0, "recovery": 0,
            "reversed": False})
        out[INSTALLMENT_PAYMENTS].append({
            "_id": f"T{n:07d}|1", "transaction_id": f"T{n:07d}", "loan_id": loan,
            "agent_id": labels["agent_id"], "currency": labels["currency"],
            "branch_id": labels["branch_id"], "product_id": labels["product_id"],
            "installment_number": 1, "due_date": due.isoformat(),
            "value_date": paid.isoformat(), "amount": 20_000, "penalty": 0, "reversed": False})
    return out


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> str:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return f"{statistics.median(times):9.1f} ms"


async def run(args: argparse.Namespace) -> None:
    async with own_mongo(args.mongo_url) as (url, what):
        client = create_mongo_client(url, app_name="bench-reports")
        db = client[f"bench_reports_{uuid.uuid4().hex[:6]}"]
        try:
            await REGISTRY.apply(db)
            models = ReadModels(db)
            rng = random.Random(args.seed)
            last = date(2026, 6, 30)
            days = [last - timedelta(days=i) for i in reversed(range(args.days))]
            print(f"{args.rows:,} rows x {len(days)} closed dates on the {what}")
            for day in days:
                rows = rows_of(day, args.rows, rng)
                for i in range(0, len(rows), 5000):
                    await db[SNAPSHOTS].insert_many(rows[i:i + 5000])
                await db[BUSINESS_DATES].insert_one({
                    "_id": day.isoformat(), "closed_event": True, "snapshot_rows": args.rows,
                    "rows_held": args.rows, "revision": 3 * args.rows})
            for name, docs in facts_of(args.rows, last, rng).items():
                for i in range(0, len(docs), 5000):
                    await db[name].insert_many(docs[i:i + 5000])
            began = time.perf_counter()
            await models.upgrade_totals()
            took = time.perf_counter() - began
            held = await db["day_totals"].count_documents({"business_date": last.isoformat()})
            flows = await db["day_flows"].count_documents({})
            print(f"  day flows ({flows} documents) and the totals of {len(days)} dates "
                  f"({held} documents a date) built in {took:.2f} s")
            await report(models, days, args.runs)
        finally:
            await client.drop_database(db.name)
            await client.close()


async def report(models: ReadModels, days: list[date], runs: int) -> None:
    service = ReportingService(models, NoCache(), ZoneInfo("UTC"),
                               clock=lambda: datetime(2026, 7, 1, 12, tzinfo=UTC))
    as_of, first = days[-1], days[0]
    for who, scope, caller in (
        ("admin", {}, Caller(subject="bench", role=Role.ADMIN)),
        ("agent AG03", {"agent_id": "AG03"},
         Caller(subject="AG03", role=Role.AGENT, agent_id="AG03")),
    ):
        async def rows(day: date = as_of, scope: dict[str, str] = scope) -> list[Any]:
            return (await models.snapshot_rows([day], scope)).get(day, [])

        async def rows_trend(scope: dict[str, str] = scope) -> object:
            by_date = await models.snapshot_rows(days, scope)
            return trend(by_date, first, as_of)

        def via(kind: str, caller: Caller = caller, **extra: Any) -> Callable[[], Awaitable[str]]:
            query = ReportQuery(kind, **extra)
            return lambda: service.report(caller, query, _render)

        day = as_of.isoformat()
        print(f"{who}:                 from the rows (before)   from the totals (now)")
        print(f"  par               {await timed(runs, lambda: _par(rows))}"
              f"             {await timed(runs, via(Kind.PAR, as_of=day))}")
        print(f"  aging             {await timed(runs, lambda: _aging(rows))}"
              f"             {await timed(runs, via(Kind.AGING, as_of=day))}")
        since = first.isoformat()
        print(f"  trend ({len(days)} dates)  {await timed(runs, rows_trend)}"
              f"             {await timed(runs, via(Kind.TREND, start=since, end=day))}")
        print(f"  par/loans page    {await timed(runs, lambda: _par(rows))}"
              f"             {await timed(runs, via(Kind.PAR_LOANS, as_of=day, page_size=50))}")
        before = await timed(runs, partial(_portfolio, models, rows, scope))
        print(f"  portfolio         {before}"
              f"             {await timed(runs, via(Kind.PORTFOLIO, as_of=day))}")
        before = await timed(runs, partial(_agents, models, rows, scope))
        print(f"  agents            {before}"
              f"             {await timed(runs, via(Kind.AGENTS, as_of=day))}")


async def _par(rows: Callable[[], Awaitable[list[Any]]]) -> object:
    return par_report(await rows(), date(2026, 6, 30))


async def _portfolio(models: ReadModels, rows: Callable[[], Awaitable[list[Any]]],
                     scope: dict[str, str]) -> object:
    """What the service computed before: the rows and every fact up to the date."""
    as_of = date(2026, 6, 30)
    held = await rows()
    return (portfolio_summary(held, await models.disbursements(date.min, as_of, scope),
                              await models.collections(date.min, as_of, scope), as_of,
                              await models.applications(as_of, scope)),
            par_report(held, as_of))


async def _agents(models: ReadModels, rows: Callable[[], Awaitable[list[Any]]],
                  scope: dict[str, str]) -> object:
    """What the service computed before: the rows and the month's facts."""
    start, end = date(2026, 6, 1), date(2026, 6, 30)
    dues = await models.dues(start, end, scope)
    parts = await models.installment_payments(start, end, scope)
    await models.disbursements(start, end, scope)
    collection_efficiency(dues, parts, start, end)
    return agent_performance(await rows(), dues, parts, start, end)


async def _aging(rows: Callable[[], Awaitable[list[Any]]]) -> object:
    return aging_report(await rows(), date(2026, 6, 30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mongo-url", default=None,
                        help="a MongoDB of your own; default: start the embedded substitute")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
