"""ApplyRepayment throughput through gRPC, against a running loan_service.

Starts auth_service and loan_service in this process on ephemeral ports,
against MF_MONGO_URL (or an in-memory MongoDB substitute it starts), the local
Redis and RabbitMQ, and MF_ES_URL if set (search indexing then runs as in
production; without it the indexer parks loans in its backlog). Loans are
created disbursed, straight through the repository, so the measurement is the
repayment path only: token check, load, allocation and replay, one Mongo
transaction (payment id, loan compare-and-set, outbox event) and the reply.

It prints figures and asserts nothing. As the design asks (docs/design.md:
Testing and measuring), it also measures the database's own ceiling in the same
run (plain inserts, and a bare transaction doing the same three writes), so the
service's overhead can be read as a ratio.

    python bench/bench_loans.py [--loans 40] [--payments 400] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from loan_service.adapters.loan_repository import LoanRepository
from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import Loan, LoanProduct, facts_of
from loan_service.domain.products import (
    Amortization,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance_cli import backends
from microfinance_cli.migrate import create_admin
from shared.config import Settings
from shared.grpc.server import GrpcServiceHost
from shared.mongo import create_mongo_client, run_in_transaction
from shared.runtime import open_infrastructure

TODAY = datetime.now(UTC).date()
TERMS = ProductTerms(
    currency="USD",
    principal_min=10_000,
    principal_max=10_000_000,
    installments_min=1,
    installments_max=104,
    frequency=RepaymentFrequency.WEEKLY,
    interest_method=InterestMethod.DECLINING_BALANCE,
    amortization=Amortization.EQUAL_INSTALLMENTS,
    annual_rate=Decimal("24.5"),
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@contextlib.contextmanager
def mongo_url() -> Any:
    url = os.environ.get("MF_MONGO_URL")
    if url:
        yield url, "MF_MONGO_URL"
        return
    with backends.start_mongo_substitute(None) as running:
        yield running.url, "embedded substitute (in memory)"


async def seeded_loans(settings: Settings, count: int, installments: int) -> list[str]:
    """Disbursed loans written straight to the repository (setup, not measured)."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-seed")
    repo = LoanRepository(client[f"{settings.mongo_db}_loan"])
    product = LoanProduct(id="bench", code="BENCH", name="Bench", description="", terms=TERMS)
    on = TODAY - timedelta(days=60)
    ids: list[str] = []
    try:
        for i in range(count):
            done = ledger.disburse(
                TERMS, 1_000_000, installments, disbursement_date=on, business_date=TODAY,
                actor="bench",
            )
            loan = Loan(
                id=uuid.uuid4().hex,
                loan_number=f"LN-{TODAY.year}-{900000 + i:06d}",
                borrower_id=f"borrower-{i}",
                borrower_name=f"Borrower {i}",
                agent_id="bench-agent",
                branch_id="BR-01",
                product_id=product.id,
                product=product,
                status=LoanStatus.ACTIVE,
                principal=1_000_000,
                installments=installments,
                purpose="",
                note="",
                submitted_date=on,
                submitted_by="bench",
                submitted_at=datetime.now(UTC),
                disbursement_date=on,
                schedule=done.schedule,
                transactions=(done.transaction,),
            )
            state = ledger.replay(TERMS, done.schedule, loan.transactions, TODAY)
            await repo.insert(replace(loan, facts=facts_of(state)))
            ids.append(loan.id)
    finally:
        await client.close()
    return ids


async def raw_ceiling(settings: Settings, samples: int) -> tuple[float, float]:
    """The database alone: inserts/s, and transactions/s of three writes like a repayment."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-raw")
    db = client[f"{settings.mongo_db}_raw"]
    try:
        started = time.perf_counter()
        for i in range(samples):
            await db.plain.insert_one({"_id": i, "amount": i})
        inserts = samples / (time.perf_counter() - started)
        doc = {"_id": "loan", "version": 0, "transactions": [{"n": k} for k in range(20)]}
        await db.loans.insert_one(doc)

        async def body(session: Any, *, i: int) -> None:
            await db.payments.insert_one({"_id": f"p{i}"}, session=session)
            await db.loans.replace_one(
                {"_id": "loan", "version": i}, {**doc, "version": i + 1}, session=session
            )
            await db.outbox.insert_one({"_id": f"e{i}", "status": "pending"}, session=session)

        started = time.perf_counter()
        for i in range(samples):
            await run_in_transaction(client, functools.partial(body, i=i))
        transactions = samples / (time.perf_counter() - started)
        return inserts, transactions
    finally:
        await client.drop_database(db.name)
        await client.close()


@contextlib.asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Settings]:
    async with contextlib.AsyncExitStack() as exits:
        for name in ("auth", "loan"):
            module = __import__(f"{name}_service.main", fromlist=["build"])
            infra = await open_infrastructure(settings, name)
            exits.push_async_callback(infra.close)
            host = GrpcServiceHost(await module.build(infra), host="127.0.0.1", port=0)
            await host.start()
            exits.push_async_callback(host.stop)
            settings = settings.model_copy(update={f"{name}_addr": host.address})
        yield settings


async def run_payments(
    stub: loan_pb2_grpc.LoanServiceStub,
    metadata: tuple[tuple[str, str], ...],
    targets: list[str],
    concurrency: int,
    on_behalf_of: str,
) -> tuple[float, list[float]]:
    """Pay ``len(targets)`` repayments (one per entry) with ``concurrency`` in flight."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for loan_id in targets:
        queue.put_nowait(loan_id)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            loan_id = queue.get_nowait()
            began = time.perf_counter()
            await stub.ApplyRepayment(
                loan_pb2.ApplyRepaymentRequest(
                    loan_id=loan_id,
                    payment_id=uuid.uuid4().hex,
                    amount=common_pb2.Money(amount_minor=1_000, currency="USD"),
                    value_date=TODAY.isoformat(),
                    channel=common_pb2.CASH,
                    on_behalf_of=on_behalf_of,
                ),
                metadata=metadata,
            )
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def report(label: str, count: int, elapsed: float, latencies: list[float]) -> float:
    rate = count / elapsed
    print(
        f"  {label:<44}{rate:>8,.0f}/s   p50 {statistics.median(latencies) * 1e3:6.1f} ms"
        f"   p99 {percentile(latencies, 99) * 1e3:6.1f} ms"
    )
    return rate


async def bench(args: argparse.Namespace, url: str, source: str, data: Path) -> None:
    settings = Settings(
        env="test",
        mongo_url=url,
        mongo_db=f"bench_{uuid.uuid4().hex[:6]}",
        es_url=os.environ.get("MF_ES_URL") or "http://127.0.0.1:1",
        es_index_prefix=f"bench{uuid.uuid4().hex[:6]}",
        redis_key_prefix=f"bench:{uuid.uuid4().hex[:6]}:",
        amqp_exchange=f"bench.{uuid.uuid4().hex[:6]}",
        # --no-broker: events stay in the outbox; no relay or indexer shares the database.
        amqp_url="amqp://guest:guest@127.0.0.1:1/" if args.no_broker else Settings().amqp_url,
        data_dir=data,
        log_level="WARNING",
        auth_port=0,
        loan_port=0,
        user_addr="127.0.0.1:1",
    )
    email, password = "bench-admin@example.org", "bench-Passw0rd!x"
    await create_admin(settings, email=email, password=password)
    search = "MF_ES_URL" if os.environ.get("MF_ES_URL") else "off (indexer backlogs)"
    broker = "off (events wait in the outbox)" if args.no_broker else settings.amqp_url
    print(f"MongoDB: {source}; search: {search}; RabbitMQ: {broker}")
    inserts, txns = await raw_ceiling(settings, args.raw)
    print("database ceiling (same run, one client, sequential):")
    print(f"  plain inserts                                {inserts:>8,.0f}/s")
    print(f"  transactions of 3 writes (like a repayment)  {txns:>8,.0f}/s")
    ids = await seeded_loans(settings, args.loans, args.installments)
    async with services(settings) as live:
        async with grpc.aio.insecure_channel(live.auth_addr) as auth_channel:
            auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
            login = await auth.Login(auth_pb2.LoginRequest(username=email, password=password))
            # ApplyRepayment takes payment_service's token only: call as it does.
            secret = live.service_token_secret
            issued = await auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(
                    service="payment", secret=secret.get_secret_value() if secret else ""
                )
            )
        metadata = (("authorization", f"Bearer {issued.access_token}"),)
        staff = login.identity.staff_id
        async with grpc.aio.insecure_channel(live.loan_addr) as channel:
            stub = loan_pb2_grpc.LoanServiceStub(channel)
            await run_payments(stub, metadata, ids[:4], 4, staff)  # warm up
            n = args.payments
            print(
                f"ApplyRepayment through gRPC ({args.installments} weekly installments, "
                f"{n} payments of 10.00 USD, {args.concurrency} in flight):"
            )
            spread = [ids[i % len(ids)] for i in range(n)]
            elapsed, lat = await run_payments(stub, metadata, spread, args.concurrency, staff)
            rate = report(f"spread over {len(ids)} loans", n, elapsed, lat)
            hot = [ids[0]] * (n // 2)
            elapsed, lat = await run_payments(stub, metadata, hot, args.concurrency, staff)
            report("all on one loan (queued on its lock)", len(hot), elapsed, lat)
            serial = [ids[(i + 1) % len(ids)] for i in range(n // 4)]
            elapsed, lat = await run_payments(stub, metadata, serial, 1, staff)
            report("one at a time (latency floor)", len(serial), elapsed, lat)
            print(
                f"  service throughput / bare 3-write transactions: {rate / txns:.2f} "
                "(the rest is gRPC, token checks, replay and the reads)"
            )
    client = create_mongo_client(url, app_name="bench-cleanup")
    for name in ("auth", "user", "loan"):
        await client.drop_database(f"{settings.mongo_db}_{name}")
    await client.close()
    if not args.no_broker:
        await drop_broker_objects(settings)


async def drop_broker_objects(settings: Settings) -> None:
    """The run's queues and exchanges are its own; leave the shared broker clean."""
    import aio_pika

    from loan_service.consumers import borrower_queue, search_queue

    connection = await aio_pika.connect(settings.amqp_url, timeout=5)
    try:
        for queue in (search_queue(settings), borrower_queue(settings)):
            for name in (queue, f"{queue}.dead"):
                channel = await connection.channel()  # a failed delete closes its channel
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
        for exchange in (settings.amqp_exchange, f"{settings.amqp_exchange}.dlx"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=40)
    parser.add_argument("--payments", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--installments", type=int, default=52)
    parser.add_argument("--raw", type=int, default=300, help="samples for the database ceiling")
    parser.add_argument(
        "--no-broker",
        action="store_true",
        help="no relay or search indexer: the repayment path alone",
    )
    args = parser.parse_args()
    with mongo_url() as (url, source), tempfile.TemporaryDirectory() as data:
        asyncio.run(bench(args, url, source, Path(data)))


if __name__ == "__main__":
    main()
