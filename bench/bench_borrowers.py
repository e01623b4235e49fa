"""Borrower throughput and latency through gRPC, with the whole write path running.

Starts auth_service and user_service in this process on ephemeral ports,
against MF_MONGO_URL / MF_ES_URL (or in-memory substitutes it starts), the
local Redis and RabbitMQ. An agent logs in; then:

1. ``--count`` borrowers are created through CreateBorrower (token check,
   validation, one transaction holding borrower, identity key, history entry
   and outbox event), ``--concurrency`` in flight;
2. the relay and the search consumer index them (the lag is reported);
3. GetBorrower on a sample, first uncached (MongoDB), then cached (Redis);
4. ``--searches`` searches: misspelled names, phones in local format, ID numbers.

It prints p50/p99 of each and asserts nothing. As the design asks
(docs/design.md: Testing and measuring), it also measures the database's own
ceiling in the same run (plain inserts, and a bare transaction with the same
four writes as a create), so the service's overhead reads as a ratio. The
default count is the issue's 100,000; on the substitutes that takes long, so
pass e.g. ``--count 2000`` and read the extrapolation.

    python bench/bench_borrowers.py [--count 100000] [--searches 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from microfinance_cli import backends
from microfinance_cli.migrate import create_admin
from shared.config import Settings
from shared.grpc.server import GrpcServiceHost
from shared.mongo import create_mongo_client, run_in_transaction
from shared.runtime import open_infrastructure
from shared.search import create_es_client

FIRST = ["Amina", "Muhammad", "José", "Grace", "Wanjiru", "Ibrahim", "Fatuma", "Peter",
         "Aisha", "Joseph", "Zawadi", "Kofi", "Ngozi", "Chinedu", "Mercy", "Otieno",
         "Catherine", "Emmanuel", "Halima", "Baraka"]
LAST = ["Okafor", "Mwangi", "Hassan", "Kamau", "Njoroge", "Achieng", "Mensah", "Adeyemi",
        "Ochieng", "Wambui", "Mutua", "Abdullahi", "Nakato", "Ssempala", "Owusu", "Banda",
        "Phiri", "Moyo", "Kiprono", "Chebet"]
# What people type: misspellings and missing accents of the names above.
MISSPELT = ["Mohamed", "Muhamad", "Jose", "Wanjiro", "Ebrahim", "Fatma", "Aysha", "Josef",
            "Katherine", "Emanuel", "Okafo", "Mwangy", "Hasan", "Kamua", "Ochiengg"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def report(
    label: str, latencies: list[float], elapsed: float | None = None, failed: int = 0
) -> float:
    """One line of figures; calls that failed are counted, not timed."""
    rate = len(latencies) / elapsed if elapsed else 0.0
    shown = f"{rate:>8,.0f}/s" if elapsed else " " * 10
    errors = f", {failed} failed" if failed else ""
    if not latencies:
        print(f"  {label:<40}{shown}   no call succeeded{errors}")
        return rate
    print(
        f"  {label:<40}{shown}   p50 {statistics.median(latencies) * 1e3:7.1f} ms"
        f"   p99 {percentile(latencies, 99) * 1e3:7.1f} ms   (n={len(latencies)}{errors})"
    )
    return rate


@contextlib.contextmanager
def backend(kind: str, data: Path) -> Any:
    env = {"mongo": "MF_MONGO_URL", "es": "MF_ES_URL"}[kind]
    url = os.environ.get(env)
    if url:
        yield url, env
        return
    if kind == "mongo":
        with backends.start_mongo_substitute(None) as running:
            yield running.url, "embedded substitute (in memory)"
    else:
        with backends.start_es_substitute(data / "es") as running:
            yield running.url, "embedded substitute"


async def raw_ceiling(settings: Settings, samples: int) -> tuple[float, float]:
    """The database alone: inserts/s, and transactions/s of the four writes of a create."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-raw")
    db = client[f"{settings.mongo_db}_raw"]
    doc = {"first_name": "Amina", "last_name": "Okafor", "phone": "+254712345678",
           "identity_documents": [{"type": "NATIONAL_ID", "number": "12345678"}],
           "address": {"line1": "12 Moi Avenue", "city": "Nairobi"}, "version": 1}
    try:
        for name in ("plain", "b", "ids", "history", "outbox"):
            await db.create_collection(name)
        started = time.perf_counter()
        for i in range(samples):
            await db.plain.insert_one({"_id": i, **doc})
        inserts = samples / (time.perf_counter() - started)

        async def body(session: Any, *, i: int) -> None:
            await db.ids.insert_one({"_id": f"NATIONAL_ID:{i}", "b": i}, session=session)
            await db.b.insert_one({"_id": i, **doc}, session=session)
            await db.history.insert_one({"_id": i, "changes": list(doc)}, session=session)
            await db.outbox.insert_one({"_id": i, "status": "pending"}, session=session)

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
        for name in ("auth", "user"):
            module = __import__(f"{name}_service.main", fromlist=["build"])
            infra = await open_infrastructure(settings, name)
            exits.push_async_callback(infra.close)
            host = GrpcServiceHost(await module.build(infra), host="127.0.0.1", port=0)
            await host.start()
            exits.push_async_callback(host.stop)
            settings = settings.model_copy(update={f"{name}_addr": host.address})
        yield settings


async def agent_token(settings: Settings, admin_email: str, admin_password: str) -> str:
    """An agent created by the admin, logged in, first password changed."""
    async with (
        grpc.aio.insecure_channel(settings.auth_addr) as auth_channel,
        grpc.aio.insecure_channel(settings.user_addr) as user_channel,
    ):
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        users = user_pb2_grpc.UserServiceStub(user_channel)
        admin = await auth.Login(auth_pb2.LoginRequest(username=admin_email,
                                                        password=admin_password))
        email, initial = f"agent-{uuid.uuid4().hex[:8]}@bench.org", "bench-Initial-1x"
        await users.CreateStaff(
            user_pb2.CreateStaffRequest(
                role=common_pb2.AGENT, full_name="Bench Agent", email=email, branch_id="BR-01",
                initial_password=initial,
            ),
            metadata=(("authorization", f"Bearer {admin.access_token}"),),
        )
        first = await auth.Login(auth_pb2.LoginRequest(username=email, password=initial))
        changed = await auth.ChangePassword(
            auth_pb2.ChangePasswordRequest(old_password=initial, new_password="bench-Changed-2y"),
            metadata=(("authorization", f"Bearer {first.access_token}"),),
        )
        token: str = changed.access_token
        return token


def borrower_message(i: int, rng: random.Random) -> user_pb2.Borrower:
    return user_pb2.Borrower(
        first_name=rng.choice(FIRST),
        last_name=rng.choice(LAST),
        date_of_birth=f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-"
        f"{rng.randint(1, 28):02d}",
        gender=rng.choice([user_pb2.FEMALE, user_pb2.MALE]),
        nationality="KE",
        phone=f"+2547{10_000_000 + i:08d}",
        current_address=user_pb2.Address(line1=f"{i} Moi Avenue", city="Nairobi", country="KE"),
        identity_documents=[
            user_pb2.IdentityDocument(type=user_pb2.IdentityDocument.NATIONAL_ID,
                                      number=f"{30_000_000 + i}")
        ],
        employment=user_pb2.Employment(
            status=user_pb2.SELF_EMPLOYED,
            monthly_income=common_pb2.Money(amount_minor=rng.randint(1, 90) * 100_000,
                                            currency="KES"),
        ),
    )


@dataclass
class Outcome:
    elapsed: float
    latencies: list[float]
    results: list[Any]
    # gRPC status name -> count; a failed call is reported, it does not stop the run.
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def explain(self) -> None:
        for code, n in sorted(self.failures.items()):
            print(f"    {n} x {code}")


async def run(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> Outcome:
    """Run the calls ``concurrency`` at a time; a long run survives a few failed calls."""
    queue: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    outcome = Outcome(0.0, [], [])

    async def worker() -> None:
        while not queue.empty():
            call = queue.get_nowait()
            began = time.perf_counter()
            try:
                result = await call()
            except grpc.aio.AioRpcError as exc:
                name = exc.code().name
                outcome.failures[name] = outcome.failures.get(name, 0) + 1
                continue
            outcome.latencies.append(time.perf_counter() - began)
            outcome.results.append(result)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.elapsed = time.perf_counter() - started
    return outcome


async def indexed_count(es_url: str, index: str) -> int:
    es = create_es_client(es_url)
    try:
        with contextlib.suppress(Exception):
            await es.indices.refresh(index=index)
            return int((await es.count(index=index))["count"])
        return 0
    finally:
        await es.close()


async def es_ceiling(settings: Settings, index: str, queries: list[str]) -> float:
    """Elasticsearch alone, sequential, on the same index: the bound search works under."""
    from user_service.adapters.borrower_search import build_query

    # A long timeout: on a big index the substitute is slow, and this measures it.
    es = create_es_client(settings.es_url_or_default(), request_timeout=120.0)
    try:
        timings: dict[str, list[float]] = {"term (cheapest)": [], "the service's queries": []}
        failed: dict[str, int] = {"term (cheapest)": 0, "the service's queries": 0}
        for q in queries:
            for label, query in (
                ("term (cheapest)", {"term": {"phones": "710000001"}}),
                ("the service's queries",
                 build_query(q, agent_id=None, account_status=None, phone_region=None)),
            ):
                began = time.perf_counter()
                try:
                    await es.search(index=index, query=query, size=20, source=False,
                                    track_total_hits=True,
                                    sort=[{"_score": "desc"}, {"borrower_id": "asc"}])
                except Exception:  # a figure, not a test: count it and go on
                    failed[label] += 1
                    continue
                timings[label].append(time.perf_counter() - began)
        print("Elasticsearch ceiling (same index, one client, sequential):")
        rate = 0.0
        for label, values in timings.items():
            rate = report(label, values, sum(values), failed[label])
        return rate
    finally:
        await es.close()


async def bench(args: argparse.Namespace, mongo: tuple[str, str], es: tuple[str, str],
                data: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        env="test",
        mongo_url=mongo[0],
        mongo_db=f"bench_{tag}",
        es_url=es[0],
        es_index_prefix=f"bench{tag}",
        redis_key_prefix=f"bench:{tag}:",
        amqp_exchange=f"bench.{tag}",
        data_dir=data,
        log_level="WARNING",
        auth_port=0,
        user_port=0,
        # A 100,000-borrower run outlasts the default 15-minute access token.
        access_token_ttl_seconds=12 * 3600,
        es_request_timeout_seconds=args.es_timeout,
    )
    email, password = "bench-admin@example.org", "bench-Passw0rd!x"
    await create_admin(settings, email=email, password=password)
    print(f"MongoDB: {mongo[1]}; Elasticsearch: {es[1]}; Redis: {settings.redis_url}; "
          f"RabbitMQ: {settings.amqp_url}")
    inserts, txns = await raw_ceiling(settings, args.raw)
    print("database ceiling (same run, one client, sequential):")
    print(f"  plain inserts                           {inserts:>8,.0f}/s")
    print(f"  transactions of 4 writes (like a create){txns:>8,.0f}/s")
    try:
        await measure(args, settings, email, password, txns)
    finally:
        await cleanup(settings)


async def measure(
    args: argparse.Namespace, settings: Settings, email: str, password: str, txns: float
) -> None:
    rng = random.Random(7)
    async with services(settings) as live:
        token = await agent_token(live, email, password)
        metadata = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(live.user_addr) as channel:
            stub = user_pb2_grpc.BorrowerServiceStub(channel)
            messages = [borrower_message(i, rng) for i in range(args.count)]

            def create(message: user_pb2.Borrower) -> Callable[[], Awaitable[Any]]:
                return lambda: stub.CreateBorrower(
                    user_pb2.CreateBorrowerRequest(borrower=message), metadata=metadata
                )

            print(f"CreateBorrower through gRPC ({args.count:,} borrowers, "
                  f"{args.concurrency} in flight):")
            made = await run([create(m) for m in messages], args.concurrency)
            rate = report("create", made.latencies, made.elapsed, made.failed)
            made.explain()
            ids = [r.borrower.id for r in made.results]
            if not ids:
                print("no borrower was created; nothing more to measure")
                return
            print(f"  service creates / bare 4-write transactions: {rate / txns:.2f}")
            full = 100_000 / rate
            print(f"  extrapolated: 100,000 creates take {full / 60:,.1f} min at this rate "
                  f"(bounded by the database: {100_000 / txns / 60:,.1f} min of bare transactions)")

            index = f"{settings.es_index_prefix}-borrowers"
            began = time.perf_counter()
            while (done := await indexed_count(live.es_url_or_default(), index)) < len(ids):
                if time.perf_counter() - began > args.index_wait:
                    print(f"  indexing: {done:,} of {len(ids):,} after {args.index_wait:.0f}s; "
                          "searching what is there")
                    break
                await asyncio.sleep(0.5)  # polling the index count; bounded above
            lag = time.perf_counter() - began
            print(f"  search index caught up {lag:.1f}s after the last create "
                  f"(outbox -> RabbitMQ -> consumer -> Elasticsearch)")

            sample = rng.sample(ids, min(args.gets, len(ids)))

            def get(borrower_id: str) -> Callable[[], Awaitable[Any]]:
                return lambda: stub.GetBorrower(
                    user_pb2.GetBorrowerRequest(id=borrower_id), metadata=metadata
                )

            print("GetBorrower:")
            for label in ("uncached (MongoDB, then filled)", "cached (Redis)"):
                got = await run([get(i) for i in sample], args.concurrency)
                report(label, got.latencies, got.elapsed, got.failed)
                got.explain()

            queries: list[str] = []
            for k in range(args.searches):
                kind = k % 3
                if kind == 0:
                    queries.append(f"{rng.choice(MISSPELT)} {rng.choice(LAST)}")
                elif kind == 1:
                    queries.append(f"07{10_000_000 + rng.randrange(args.count):08d}")
                else:
                    queries.append(str(30_000_000 + rng.randrange(args.count)))

            def search(q: str) -> Callable[[], Awaitable[Any]]:
                return lambda: stub.SearchBorrowers(
                    user_pb2.SearchBorrowersRequest(
                        q=q, page=common_pb2.PageRequest(page_size=20)
                    ),
                    metadata=metadata,
                )

            es_rate = await es_ceiling(live, index, queries[:150])
            print(f"SearchBorrowers ({args.searches:,}: misspelt names, local phones, ID numbers; "
                  f"over {len(ids):,} borrowers):")
            # Results in completion order, so each call returns its query with its answer.
            def asked(q: str) -> Callable[[], Awaitable[Any]]:
                async def call() -> tuple[str, Any]:
                    return q, await search(q)()

                return call

            found = await run([asked(q) for q in queries], args.concurrency)
            rate = report(f"search, {args.concurrency} in flight", found.latencies,
                          found.elapsed, found.failed)
            found.explain()
            slow = sum(1 for t in found.latencies if t > 5.0)
            if args.es_timeout > 5.0:
                print(f"  answered after more than the default 5 s Elasticsearch timeout "
                      f"(a 503 with the default): {slow} of {len(found.latencies)}")
            floor = await run([search(q) for q in queries[:150]], 1)
            report("search, one at a time (latency floor)", floor.latencies, floor.elapsed,
                   floor.failed)
            floor.explain()
            if es_rate:
                print(f"  service searches / Elasticsearch alone: {rate / es_rate:.2f}")
            exact = [a for q, a in found.results if q.isdigit()]
            hits = sum(1 for a in exact if a.borrowers)
            print(f"  phone/ID queries answered with a hit: {hits} of {len(exact)}")


async def cleanup(settings: Settings) -> None:
    """Drop the run's databases, index and broker objects, whatever happened."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-cleanup")
    for name in ("auth", "user"):
        # Each step on its own: one failing (the substitute has refused to drop a large
        # in-memory database) must not leave the index or the shared broker's objects.
        try:
            await client.drop_database(f"{settings.mongo_db}_{name}")
        except Exception as exc:
            print(f"  cleanup: could not drop {settings.mongo_db}_{name}: {exc}")
    await client.close()
    es_client = create_es_client(settings.es_url_or_default())
    with contextlib.suppress(Exception):
        await es_client.indices.delete(index=f"{settings.es_index_prefix}-borrowers")
    await es_client.close()
    await drop_broker_objects(settings)


async def drop_broker_objects(settings: Settings) -> None:
    """The run's queue and exchanges are its own; leave the shared broker clean."""
    import aio_pika

    from user_service.consumers import search_queue

    connection = await aio_pika.connect(settings.amqp_url, timeout=5)
    try:
        queue = search_queue(settings)
        for kind, name in (("q", queue), ("q", f"{queue}.dead"), ("x", settings.amqp_exchange),
                           ("x", f"{settings.amqp_exchange}.dlx")):
            channel = await connection.channel()  # a failed delete closes its channel
            with contextlib.suppress(Exception):
                if kind == "q":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="borrowers to create")
    parser.add_argument("--searches", type=int, default=1_000)
    parser.add_argument("--gets", type=int, default=1_000, help="GetBorrower sample size")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--raw", type=int, default=300, help="samples for the database ceiling")
    parser.add_argument("--index-wait", type=float, default=600.0,
                        help="seconds to wait for the index to catch up")
    parser.add_argument("--es-timeout", type=float, default=5.0,
                        help="user_service's Elasticsearch request timeout (MF_ES_REQUEST_"
                             "TIMEOUT_SECONDS); raise it to measure searches slower than that")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with backend("mongo", data) as mongo, backend("es", data) as es:
            asyncio.run(bench(args, mongo, es, data))


if __name__ == "__main__":
    main()
