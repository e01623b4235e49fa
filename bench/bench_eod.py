"""End-of-day benchmark over a demo-data portfolio: compute, end to end, the backend's ceiling.

Run: python bench/bench_eod.py [--loans 20000] [--days 90] [--mongo-url URL]

Starts its own MongoDB (the embedded substitute, in memory) unless ``--mongo-url`` names
one (never a shared server: the bench writes a database of its own and drops it). Then,
from one run:

1. builds the portfolio with ``microfinance demo-data`` (with the services' outbox events
   unless ``--no-events``; no search, no end of day), timed;
2. **compute alone**: ``evaluate_loan`` (replay, DPD, penalties) over every stored loan for
   the date to close, no database, in loans per CPU second of this process, with the code
   of bench_eod_compute.py;
3. **EOD end to end**: loan_service's own end-of-day job closes that date over the same
   loans and the same server (reads, compute, bulk writes of loans and snapshot rows, the
   outbox), in loans/s of wall time;
4. **bulk-write ceiling**: ``insert_many`` of documents the size of the snapshot rows the
   run wrote, in batches of the job's size and with its concurrency, to the same server, in
   documents/s; and the ratio EOD / ceiling. Then, to say what bounds the job there, the
   same ``insert_many`` into a collection with ``loan_snapshots``' two secondary indexes
   (the rows the job writes have them), and the **read ceiling**: the job's own query for
   the date's loans (one cursor, sorted on ``_id``, batches of its size) read to the end
   with nothing else done, in loans/s;
5. **reports**: every recorded event (the seeded ones and the end of day's snapshots and
   closed date) goes through reporting_service's own projection in this process, as its
   consumer would take them from the broker; then each report's latency (p50/p99) computed
   from those read models, with no cache and no rendering.

The goals (issue 13): compute >= 20,000 loans/s per core; EOD >= 0.5 of the ceiling; each
report < 200 ms at 1M loans. It prints figures and never fails on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

from bench_eod_compute import GeneratedLoan  # bench/ is the script's own directory
from bench_eod_compute import run as evaluate_all

from loan_service.adapters.eod_repository import EOD_INDEXES, SNAPSHOTS, candidates_query
from loan_service.adapters.loan_repository import loan_from_doc
from loan_service.domain.eod import LoanRefs
from loan_service.seeding import close_dates
from microfinance_cli import backends
from microfinance_cli.demo_data import DemoOptions, LogReporter, build
from microfinance_cli.demo_plan import DemoSizes
from reporting_service.adapters.read_models import ReadModels
from reporting_service.consumers import Project
from reporting_service.migrations import REGISTRY
from reporting_service.service import Kind, NoCache, ReportingService, ReportQuery
from shared.clock import business_date, utcnow
from shared.config import Settings
from shared.events.outbox import event_from_doc
from shared.identity import Caller, Role
from shared.mongo import create_mongo_client
from shared.runtime import database_name

BATCH = 500
CONCURRENCY = 4
# The bench's own reads wait this long for a busy server: the embedded substitute can
# answer nothing for several seconds while it gathers a query over tens of thousands of
# loans, and the client's monitor would otherwise give the server up mid-read.
STALL_MS = 120_000


@contextlib.asynccontextmanager
async def own_mongo(url: str | None) -> AsyncIterator[tuple[str, str]]:
    """(url, what it is): the given server, or an embedded substitute started here."""
    if url:
        yield url, "the MongoDB at --mongo-url"
        return
    running = backends.start_mongo_substitute(None)
    try:
        yield running.url, "embedded MongoDB substitute (secantusd-py, in memory)"
    finally:
        running.stop()


async def stored_loans(settings: Settings) -> list[GeneratedLoan]:
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        db = client[database_name(settings, "loan")]
        out = []
        async for doc in db["loans"].find({"status": "ACTIVE"}).batch_size(BATCH):
            loan = loan_from_doc(doc)
            assert loan.schedule is not None
            refs = LoanRefs(loan.id, loan.borrower_id, loan.agent_id, loan.branch_id,
                            loan.product_id)
            out.append(GeneratedLoan(loan.terms, loan.schedule, loan.transactions, refs))
        return out
    finally:
        await client.close()


async def end_to_end(settings: Settings, day: date) -> tuple[float, int]:
    """Wall seconds for the job to close ``day``, and the snapshot rows it wrote."""
    began = time.perf_counter()
    await close_dates(settings, day, day, lambda *_: None)
    took = time.perf_counter() - began
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        rows = await client[database_name(settings, "loan")]["loan_snapshots"].count_documents(
            {}
        )
    finally:
        await client.close()
    return took, rows


async def ceiling(settings: Settings, count: int, indexed: bool = False) -> tuple[float, int]:
    """Documents/s of insert_many, batches of BATCH, CONCURRENCY at once, documents the
    size of a snapshot row the job wrote (or of a small loan document without one).
    ``indexed``: into a collection with loan_snapshots' two secondary indexes, as the job's
    rows are (their loan_id made distinct, as the rows' are)."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        db = client[database_name(settings, "loan")]
        sample = await db["loan_snapshots"].find_one({}) or await db["loans"].find_one({})
        assert sample is not None
        scratch = db[f"bench_ceiling_{uuid.uuid4().hex[:6]}"]
        if indexed:
            await scratch.create_indexes(EOD_INDEXES[SNAPSHOTS])
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int) -> None:
            docs = []
            for _ in range(n):
                doc = copy.copy(sample)
                doc["_id"] = uuid.uuid4().hex
                doc["loan_id"] = doc["_id"]
                docs.append(doc)
            async with gate:
                await scratch.insert_many(docs, ordered=False)

        began = time.perf_counter()
        await asyncio.gather(*(one(min(BATCH, count - k)) for k in range(0, count, BATCH)))
        took = time.perf_counter() - began
        size = len(str(sample))
        await scratch.drop()
        return count / took, size
    finally:
        await client.close()


async def read_ceiling(settings: Settings, day: date) -> tuple[float, int]:
    """Loans/s of the end of day's own read of ``day``'s loans, with nothing else done."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        loans = client[database_name(settings, "loan")]["loans"]
        began = time.perf_counter()
        count = 0
        async for _ in loans.find(candidates_query(day)).sort("_id", 1).batch_size(BATCH):
            count += 1
        return count / (time.perf_counter() - began), count
    finally:
        await client.close()


# Reports computed with NoCache: a cache hit would time Redis, not the read models.
async def project_events(settings: Settings) -> tuple[int, float]:
    """Every event the services recorded, through reporting_service's own projection, as
    its consumer would take them from the broker (in outbox order per service)."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        models = ReadModels(client[database_name(settings, "reporting")])
        await REGISTRY.apply(client[database_name(settings, "reporting")])
        project = Project(ReportingService(models, NoCache(), settings.business_tz()))
        count = 0
        began = time.perf_counter()
        for service in ("user", "loan"):
            outbox = client[database_name(settings, service)]["outbox"]
            async for doc in outbox.find({}).sort("order", 1):
                await project.apply(event_from_doc(doc), None)
                count += 1
        return count, time.perf_counter() - began
    finally:
        await client.close()


def _render(report: object) -> str:
    return ""


async def report_latencies(settings: Settings, day: date, runs: int) -> None:
    """p50/p99 of each report computed from the read models (no cache, no rendering)."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-eod",
                                 connect_timeout_ms=STALL_MS)
    try:
        models = ReadModels(client[database_name(settings, "reporting")])
        service = ReportingService(models, NoCache(), settings.business_tz())
        admin = Caller(subject="bench", role=Role.ADMIN)
        start = (day - timedelta(days=29)).isoformat()
        queries = [
            ReportQuery(Kind.PORTFOLIO, as_of=day.isoformat()),
            ReportQuery(Kind.PAR, as_of=day.isoformat()),
            ReportQuery(Kind.PAR_LOANS, as_of=day.isoformat(), page_size=50),
            ReportQuery(Kind.AGING, as_of=day.isoformat()),
            ReportQuery(Kind.AGENTS, as_of=day.isoformat()),
            ReportQuery(Kind.DISBURSEMENTS, start=start, end=day.isoformat()),
            ReportQuery(Kind.COLLECTIONS, start=start, end=day.isoformat()),
            ReportQuery(Kind.EFFICIENCY, start=start, end=day.isoformat()),
            ReportQuery(Kind.TREND, start=start, end=day.isoformat()),
        ]
        for query in queries:
            times = []
            for _ in range(runs):
                began = time.perf_counter()
                await service.report(admin, query, _render)
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
            print(f"  {query.kind:<22} p50 {statistics.median(times):8.1f} ms   "
                  f"p99 {p99:8.1f} ms")
    finally:
        await client.close()


async def projection_and_reports(settings: Settings, day: date, runs: int) -> None:
    events, took = await project_events(settings)
    print(f"reporting read models: {events:,} events projected in {took:.1f} s "
          f"({events / took:,.0f} events/s, in process)")
    print(f"reports from the read models ({runs} runs each, goal < 200 ms "
          "at 1M loans):")
    await report_latencies(settings, day, runs)


async def main_async(args: argparse.Namespace) -> None:
    async with own_mongo(args.mongo_url) as (url, what):
        settings = Settings(
            env="test", mongo_url=url, mongo_db=f"bench_eod_{uuid.uuid4().hex[:6]}",
            es_url="http://127.0.0.1:1",
        )
        print(f"backend: {what}")
        sizes = DemoSizes(
            borrowers=max(args.loans // 2 + 1, args.loans * 3 // 4), loans=args.loans,
            days=args.days, seed=args.seed, currencies=("KES", "USD"),
            agents=max(3, args.loans // 400),
        )
        opts = DemoOptions(sizes, "bench-password", events=args.events, search=False,
                           end_of_day=False)
        began = time.perf_counter()
        await build(settings, opts, LogReporter(lambda _: None))
        made = time.perf_counter() - began
        print(f"demo-data: {args.loans:,} loans, {sizes.borrowers:,} borrowers in {made:.1f} s "
              f"({args.loans / made:,.0f} loans/s, build and write)")
        day = business_date(utcnow(), settings.business_tz()) - timedelta(days=1)
        loans = await stored_loans(settings)
        cpu, _ = evaluate_all(loans, day)
        print(f"compute alone: {len(loans):,} active loans in {cpu:.2f} s CPU = "
              f"{len(loans) / cpu:,.0f} loans/s per core (goal 20,000)")
        took, rows = await end_to_end(settings, day)
        rate = rows / took
        print(f"EOD end to end: {rows:,} loans closed in {took:.1f} s = {rate:,.0f} loans/s")
        best, size = await ceiling(settings, max(args.loans, 20_000))
        print(f"bulk-write ceiling: {best:,.0f} docs/s (insert_many of {BATCH}, "
              f"{CONCURRENCY} at once, ~{size} byte documents)")
        print(f"EOD / ceiling: {rate / best:.2f} (goal >= 0.5)")
        rows_best, _ = await ceiling(settings, max(args.loans, 20_000), indexed=True)
        print(f"the same into a collection with loan_snapshots' two indexes: {rows_best:,.0f} "
              f"docs/s; EOD / that: {rate / rows_best:.2f}")
        read, count = await read_ceiling(settings, day)
        print(f"read ceiling: {read:,.0f} loans/s (the job's query for the date's {count:,} "
              f"loans, read to the end, nothing else); EOD / read ceiling: {rate / read:.2f}")
        if args.reports:
            await projection_and_reports(settings, day, args.report_runs)
        if not args.mongo_url:
            return
        client = create_mongo_client(url, app_name="bench-eod")
        for service in ("user", "auth", "loan", "reporting"):
            await client.drop_database(database_name(settings, service))
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=20_000,
                        help="loans to generate (the issue asks for 1,000,000)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report-runs", type=int, default=20)
    parser.add_argument("--no-reports", dest="reports", action="store_false",
                        help="stop after the three figures (no projection, no report timings)")
    parser.add_argument("--no-events", dest="events", action="store_false",
                        help="no money events: the flows reports then have nothing to show")
    parser.add_argument("--mongo-url", default=None,
                        help="a MongoDB of your own; default: start the embedded substitute")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
