"""End-to-end repayment posting: HTTP -> gateway -> payment_service -> loan_service -> Mongo.

Two processes besides the database:

* the system, in a child process: auth, user, loan and payment services (gRPC on
  ephemeral ports) and the FastAPI gateway served by uvicorn, in one event loop,
  against MF_MONGO_URL (else an in-memory MongoDB substitute started here), the
  local Redis and RabbitMQ (the outbox relays publish, as in production);
* the load, in this process: httpx posting repayments with fresh Idempotency-Keys
  as one agent, spread over many disbursed loans, at concurrency 1, 8, 32 and 128.

For each level it prints throughput and p50/p95/p99 latency, then the database's
own ceiling for the same writes at the same concurrency (per repayment: the PENDING
insert, the loan read, the loan service's transaction of the end-of-day guard's read and
the compare-and-set with the payment id under a unique index carrying the loan's event,
the settle's one update carrying its event, and the relays' marks, batched per 20
repayments: the loans' sent events pulled, the payments' marked),
and the ratio. Finally it
profiles the child with pyinstrument during one more run at concurrency 32 and
prints where the time goes: by area (event-loop wait, gRPC, pymongo, HTTP stack, our
code...) and the top functions by self time, and the round trips the serving process
made per repayment in that run (MongoDB commands by collection, Redis commands): a count
that a busy machine does not blur, unlike the rates.

A request that fails in transport (the connection dropped) is sent again with the same
Idempotency-Key, as a phone would; such retries are counted and reported.

``--deployed`` measures the same figures against the six processes as ``microfinance up``
starts them (tests/up_stack.py's isolated environment: ephemeral ports, its own embedded
MongoDB on disk in a temporary directory, its own exchange and Redis prefix, all removed
afterwards); CPU is summed over the six, and the round trips are counted in each of them by
a sitecustomize hook (TRIPS_HOOK) during one more run at 32 in flight. It never uses
MF_MONGO_URL. There is no profile in that shape.

``--tracing`` runs the in-process system with ``MF_TRACING=otlp``, exporting to an OTLP
collector stand-in in the load process that counts the spans and drops them
(``spans_exported`` in the JSON): the cost of tracing on, exporter included.

With ``BENCH_SESSION=path`` in the environment the profile's pyinstrument session is also
saved there, for a closer look (``pyinstrument --load path``).

``--json`` prints, as the last line, one JSON object (``summary``): ``shape``,
``cpu_ms_per_post`` (the service processes together, at 32 in flight),
``mongo_round_trips_per_post``, ``redis_round_trips_per_post``, ``ratio_at_32``, and
``posts_per_s``, ``p50_ms``, ``p99_ms`` by level (docs/performance.md, issue 15), and in process
``gc_cpu_ms_per_post``: the serving process's garbage collection during the levels.

It prints figures and asserts nothing about speed.

    python bench/bench_payments.py [--requests 300] [--loans 200] [--levels 1,8,32,128]
    python bench/bench_payments.py --quick    # about a minute: 1,8,32, fewer requests
    python bench/bench_payments.py --quick --json   # and, as the last line, one JSON object
    python bench/bench_payments.py --quick --json --deployed   # the six processes of `up`
    python bench/bench_payments.py --quick --json --tracing    # with MF_TRACING=otlp
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TODAY = datetime.now(UTC).date()
AGENT_PASSWORD = "bench-Agent-Passw0rd!"
ADMIN = ("bench-admin@example.org", "bench-Passw0rd!x")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def poll(check: Callable[[], bool], *, within: float) -> bool:
    """True once ``check()`` is, False after ``within`` seconds."""
    deadline = time.monotonic() + within
    for _ in itertools.count():
        if check():
            return True
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    return False


# ====================================================================== the system (child)


def terms() -> Any:
    from loan_service.domain.products import (
        Amortization,
        InterestMethod,
        ProductTerms,
        RepaymentFrequency,
    )

    return ProductTerms(
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


async def seed_loans(settings: Any, agent_id: str, count: int) -> list[str]:
    """Disbursed loans written straight to loan_service's repository (setup, not measured)."""
    from loan_service.adapters.loan_repository import LoanRepository
    from loan_service.domain import ledger
    from loan_service.domain.lifecycle import LoanStatus
    from loan_service.domain.loan import Loan, LoanProduct, facts_of
    from shared.mongo import create_mongo_client

    t = terms()
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="bench-seed")
    repo = LoanRepository(client[f"{settings.mongo_db}_loan"])
    product = LoanProduct(id="bench", code="BENCH", name="Bench", description="", terms=t)
    on = TODAY - timedelta(days=30)
    ids: list[str] = []
    try:
        for i in range(count):
            done = ledger.disburse(
                t, 1_000_000, 52, disbursement_date=on, business_date=TODAY, actor="bench"
            )
            loan = Loan(
                id=uuid.uuid4().hex,
                loan_number=f"LN-{TODAY.year}-{800000 + i:06d}",
                borrower_id=f"borrower-{i}",
                borrower_name=f"Borrower {i}",
                agent_id=agent_id,
                branch_id="BR-01",
                product_id=product.id,
                product=product,
                status=LoanStatus.ACTIVE,
                principal=1_000_000,
                installments=52,
                purpose="",
                note="",
                submitted_date=on,
                submitted_by="bench",
                submitted_at=datetime.now(UTC),
                disbursement_date=on,
                schedule=done.schedule,
                transactions=(done.transaction,),
            )
            state = ledger.replay(t, done.schedule, loan.transactions, TODAY)
            await repo.insert(replace(loan, facts=facts_of(state)))
            ids.append(loan.id)
    finally:
        await client.close()
    return ids


async def make_agent(settings: Any) -> tuple[str, str]:
    """An agent who has changed the first password; returns (staff id, access token)."""
    import grpc

    from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
    from microfinance.common.v1 import common_pb2
    from microfinance.user.v1 import user_pb2, user_pb2_grpc

    async with (
        grpc.aio.insecure_channel(settings.auth_addr) as auth_ch,
        grpc.aio.insecure_channel(settings.user_addr) as user_ch,
    ):
        auth = auth_pb2_grpc.AuthServiceStub(auth_ch)
        admin = await auth.Login(auth_pb2.LoginRequest(username=ADMIN[0], password=ADMIN[1]))
        email = f"agent-{uuid.uuid4().hex[:8]}@example.org"
        first = "bench-First-Passw0rd!"
        created = await user_pb2_grpc.UserServiceStub(user_ch).CreateStaff(
            user_pb2.CreateStaffRequest(
                role=common_pb2.AGENT,
                full_name="Bench Agent",
                email=email,
                branch_id="BR-01",
                initial_password=first,
            ),
            metadata=(("authorization", f"Bearer {admin.access_token}"),),
        )
        login = await auth.Login(auth_pb2.LoginRequest(username=email, password=first))
        changed = await auth.ChangePassword(
            auth_pb2.ChangePasswordRequest(old_password=first, new_password=AGENT_PASSWORD),
            metadata=(("authorization", f"Bearer {login.access_token}"),),
        )
        return created.staff.id, changed.access_token


class RoundTrips:
    """Counts the serving process's MongoDB commands (by database suffix, collection and
    command) and Redis commands; install before any client is created."""

    def __init__(self) -> None:
        from pymongo import monitoring

        self.mongo: dict[str, int] = defaultdict(int)
        self.redis: dict[str, int] = defaultdict(int)
        # Events the idempotent consumers recorded (processed markers inserted), by service:
        # not round trips, but what the consumers' round trips bought.
        self.markers: dict[str, int] = defaultdict(int)
        counts, markers = self.mongo, self.markers

        class Listener(monitoring.CommandListener):
            def started(self, event: monitoring.CommandStartedEvent) -> None:
                target = event.command.get(event.command_name)
                where = target if isinstance(target, str) else ""
                service = event.database_name.rsplit("_", 1)[-1]
                counts[f"{service}.{where}:{event.command_name}".replace(".:", ":")] += 1
                if event.command_name == "insert" and where == "processed_events":
                    markers[service] += len(event.command.get("documents") or ())

            def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
                return None

            def failed(self, event: monitoring.CommandFailedEvent) -> None:
                return None

        monitoring.register(Listener())
        from redis.asyncio.client import Redis

        original: Any = Redis.execute_command
        redis_counts = self.redis

        async def counted(client: Any, *args: Any, **options: Any) -> Any:
            redis_counts[str(args[0]).upper()] += 1
            return await original(client, *args, **options)

        Redis.execute_command = counted  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.mongo.clear()
        self.redis.clear()
        self.markers.clear()


class Collections:
    """The serving process's garbage collections: how many of each generation, the CPU
    (thread time) they took and the longest one; ``gc.callbacks``, installed once."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.cpu = 0.0
        self.longest = 0.0
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
            return
        took = time.thread_time() - self._began
        self.counts[info["generation"]] += 1
        self.cpu += took
        self.longest = max(self.longest, took)

    def reset(self) -> None:
        self.counts, self.cpu, self.longest = [0, 0, 0], 0.0, 0.0

    def figures(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "cpu_s": self.cpu, "longest_s": self.longest}


class Hotspots:
    """pyinstrument in the serving process, switched on and off by signals."""

    def __init__(self, out: Path, trips: RoundTrips, collections: Collections) -> None:
        self.out = out
        self.trips = trips
        self.collections = collections
        # The collections of the measured levels (from ready to the profile's start).
        self.levels_gc: dict[str, Any] = {}
        self.profiler: Any = None

    def start(self) -> None:
        from pyinstrument import Profiler

        self.trips.reset()
        self.levels_gc = self.collections.figures()
        self.collections.reset()
        # async_mode disabled: sample the whole thread, waits in the event loop included.
        self.profiler = Profiler(interval=0.001, async_mode="disabled")
        self.profiler.start()

    def stop(self) -> None:
        if self.profiler is None:
            return
        self.profiler.stop()
        if os.environ.get("BENCH_SESSION"):
            self.profiler.last_session.save(os.environ["BENCH_SESSION"])
        root = self.profiler.last_session.root_frame()
        data = summarise(root)
        data["mongo"], data["redis"] = dict(self.trips.mongo), dict(self.trips.redis)
        data["gc"] = self.collections.figures()
        data["levels_gc"] = self.levels_gc
        data["markers"] = dict(self.trips.markers)
        self.out.write_text(json.dumps(data))
        self.profiler = None


IDLE = "event loop idle (waiting for I/O)"
SYSCALLS = "socket syscalls (send/recv)"
AREAS = (
    ("selectors.py", "asyncio machinery"),
    ("/grpc/", "gRPC (grpcio, aio)"),
    ("/pymongo/", "pymongo + bson"),
    ("/bson/", "pymongo + bson"),
    ("/starlette/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/fastapi/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/uvicorn/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/httptools/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/h11/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/anyio/", "HTTP: FastAPI/Starlette/uvicorn"),
    ("/pydantic", "pydantic"),
    ("/google/protobuf/", "protobuf"),
    ("/jwt/", "token checks (PyJWT, cryptography)"),
    ("/cryptography/", "token checks (PyJWT, cryptography)"),
    ("/aio_pika/", "outbox relay (aio-pika)"),
    ("/aiormq/", "outbox relay (aio-pika)"),
    ("/pamqp/", "outbox relay (aio-pika)"),
    ("/redis/", "redis"),
    ("/logging/", "logging"),
    ("/asyncio/", "asyncio machinery"),
    ("loan_service/", "our code: loan_service"),
    ("payment_service/", "our code: payment_service"),
    ("api_gateway/", "our code: api_gateway"),
    ("shared/", "our code: shared"),
    ("auth_service/", "our code: auth_service"),
    ("user_service/", "our code: user_service"),
)


def area_of(path: str) -> str:
    for marker, name in AREAS:
        if marker in path:
            return name
    return "other"


def summarise(root: Any) -> dict[str, Any]:
    by_function: dict[str, float] = defaultdict(float)
    by_area: dict[str, float] = defaultdict(float)

    def walk(frame: Any, caller_path: str) -> None:
        real_children = [c for c in frame.children if not c.is_synthetic]
        own = frame.time - sum(c.time for c in real_children)
        path = frame.file_path or ""
        if path.startswith("<"):
            # A builtin (socket.send, epoll.poll) counts for the library that called it.
            path = caller_path
        if not frame.is_synthetic and own > 0:
            key = f"{frame.function}  ({frame.file_path_short}:{frame.line_no})"
            area = area_of(path)
            if (frame.file_path or "").startswith("<"):
                key = f"{frame.function}  (builtin, called from {area})"
                if frame.function in ("epoll.poll", "poll", "select"):
                    area = IDLE
                elif frame.function.startswith("socket."):
                    area = SYSCALLS
            by_function[key] += own
            by_area[area] += own
        for child in real_children:
            walk(child, path)

    walk(root, "")
    return {"total": root.time, "areas": by_area, "functions": by_function}


async def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api_gateway.app import create_app
    from microfinance_cli.migrate import create_admin
    from shared import heap, tracing
    from shared.config import Settings
    from shared.grpc.server import GrpcServiceHost
    from shared.logging import configure_logging
    from shared.runtime import open_infrastructure

    configure_logging("bench", "WARNING", False)
    # As the services' and the gateway's main do (MF_TRACING; --tracing sets it).
    tracing.setup(Settings().tracing, "bench")
    trips = RoundTrips()
    # Search is off here: the loan indexer parks loans in its backlog, quietly.
    logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
    settings = Settings(
        env="test",
        mongo_url=args.mongo_url,
        mongo_db=args.db,
        es_url="http://127.0.0.1:1",  # no search: the indexer parks loans in its backlog
        es_index_prefix=f"bench{uuid.uuid4().hex[:6]}",
        redis_key_prefix=f"bench:{uuid.uuid4().hex[:6]}:",
        amqp_exchange=args.exchange,
        data_dir=Path(args.data),
        log_level="WARNING",
        log_json=False,
        auth_port=0,
        user_port=0,
        loan_port=0,
        payment_port=0,
        reporting_addr="127.0.0.1:1",
        grpc_deadline_seconds=30.0,
        login_rate_limit_per_minute=100_000,
    )
    await create_admin(settings, email=ADMIN[0], password=ADMIN[1])
    hotspots = Hotspots(Path(args.profile_out), trips, Collections())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, hotspots.start)
    loop.add_signal_handler(signal.SIGUSR2, hotspots.stop)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with contextlib.AsyncExitStack() as exits:
        for name in ("auth", "user", "loan", "payment"):
            module = __import__(f"{name}_service.main", fromlist=["build"])
            infra = await open_infrastructure(settings, name)
            exits.push_async_callback(infra.close)
            host = GrpcServiceHost(
                await module.build(infra), host="127.0.0.1", port=0, grace_seconds=1.0
            )
            await host.start()
            exits.push_async_callback(host.stop)
            settings = settings.model_copy(update={f"{name}_addr": host.address})
        agent_id, token = await make_agent(settings)
        loans = await seed_loans(settings, agent_id, args.loans)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=args.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        task = asyncio.create_task(server.serve())
        if not await poll(lambda: bool(server.started), within=30):
            raise SystemExit("uvicorn did not start")
        # As the services' and the gateway's main do once wired (MF_GC_GEN0_THRESHOLD).
        heap.settle(settings.gc_gen0_threshold)
        hotspots.collections.reset()
        print(json.dumps({"ready": True, "token": token, "loans": loans}), flush=True)
        await stop.wait()
        server.should_exit = True
        await task


# ====================================================================== the load (parent)


async def post_many(
    port: int, token: str, loans: list[str], count: int, concurrency: int
) -> tuple[float, list[float], dict[int | str, int]]:
    """Elapsed seconds, latencies, and counts by status (plus "retried": transport errors
    answered by sending the same request, same key, again)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: dict[int | str, int] = defaultdict(int)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60.0
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                key = uuid.uuid4().hex
                began = time.perf_counter()
                for attempt in range(5):
                    try:
                        r = await client.post(
                            "/api/v1/payments",
                            json={
                                "loan_id": loans[i % len(loans)],
                                "amount": {"amount_minor": 100, "currency": "USD"},
                                "channel": "CASH",
                            },
                            headers={**headers, "Idempotency-Key": key},
                        )
                    except httpx.TransportError:
                        if attempt == 4:
                            raise
                        statuses["retried"] += 1
                        continue
                    break
                latencies.append(time.perf_counter() - began)
                statuses[r.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


async def raw_ceiling(url: str, count: int, concurrency: int, loans: int) -> float:
    """The same writes as ``count`` repayments, straight to MongoDB: repayments/s."""
    from pymongo import UpdateOne

    from shared.mongo import create_mongo_client, run_in_transaction

    client = create_mongo_client(url, app_name="bench-raw")
    db = client[f"bench_raw_{uuid.uuid4().hex[:6]}"]
    txns = [{"n": k, "amount": 100, "value_date": TODAY.isoformat()} for k in range(30)]
    await db.loans.insert_many(
        [{"_id": f"L{i}", "version": 0, "transactions": txns} for i in range(loans)]
    )
    await db.loans.create_index("payment_ids", unique=True, sparse=True)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    await db.eod_state.insert_one({"_id": "eod", "run": None, "rows_through": None})
    # Outbox marks go out in batches (the relays mark what they published once per batch
    # or second): one mark write per MARK_EVERY repayments for each service.
    mark_every = 20
    published: list[int] = []

    async def loan_write(i: int) -> None:
        loan = await db.loans.find_one(
            {"_id": f"L{i % loans}"}, {"outbox": 0, "outbox_next": 0}
        )
        assert loan is not None

        async def txn(session: Any) -> None:
            # The end-of-day guard: one read of the run's document in the transaction.
            await db.eod_state.find_one({"_id": "eod"}, session=session)
            # The payment id goes into the loan, under a unique index (no document of its
            # own), and the loan's event into the loan document (no outbox insert).
            fields = {k: v for k, v in loan.items() if k not in ("_id", "outbox", "outbox_next")}
            await db.loans.update_one(
                {"_id": loan["_id"], "version": loan["version"]},
                {
                    "$set": {
                        **fields,
                        "version": loan["version"] + 1,
                        "payment_ids": [*loan.get("payment_ids", []), f"p{i}"],
                    },
                    "$push": {"outbox": {"_id": f"le{i}", "status": "pending"}},
                    "$min": {"outbox_next": i},
                },
                session=session,
            )

        await run_in_transaction(client, txn)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await db.payments.insert_one(
                {"_id": f"p{i}", "status": "PENDING", "posted_by": "a", "key": str(i)}
            )
            await loan_write(i)
            # The settle: one compare-and-set with the event in the payment's own document.
            await db.payments.update_one(
                {"_id": f"p{i}", "status": "PENDING"},
                {
                    "$set": {"status": "POSTED", "outbox_next": i},
                    "$push": {"outbox": {"_id": f"e{i}", "status": "pending"}},
                },
            )
            published.append(i)
            if len(published) >= mark_every:
                batch = published[:]
                published.clear()
                # A loan's sent events leave its document: one bulk write of one $pull per
                # loan, as the relay marks (an update_many over loans that transactions are
                # writing stalls the MongoDB substitute; per-document updates do not).
                await db.loans.bulk_write(
                    [
                        UpdateOne(
                            {"_id": f"L{k % loans}"},
                            {
                                "$pull": {"outbox": {"_id": f"le{k}"}},
                                "$unset": {"outbox_next": ""},
                            },
                        )
                        for k in batch
                    ]
                )
                await db.payments.update_many(
                    {"_id": {"$in": [f"p{k}" for k in batch]}},
                    {"$set": {"outbox.$[].status": "sent"}, "$unset": {"outbox_next": ""}},
                )

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)
    finally:
        await client.drop_database(db.name)
        await client.close()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_profile(data: dict[str, Any], top: int) -> None:
    total = data["total"] or 1.0
    print(f"where the serving process spent its time ({total:.1f} s sampled, one thread):")
    for name, seconds in sorted(data["areas"].items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.005:
            print(f"  {seconds / total * 100:5.1f}%  {name}")
    print(f"top {top} functions by self time:")
    for name, seconds in sorted(data["functions"].items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds / total * 100:5.1f}%  {name}")


def print_round_trips(data: dict[str, Any], posts: int) -> tuple[float, float]:
    """Per repayment, during the profiled run (relays and consumers included); returns
    (MongoDB, Redis) round trips per repayment."""
    mongo: dict[str, int] = data.get("mongo") or {}
    redis: dict[str, int] = data.get("redis") or {}
    print(
        f"round trips per repayment from the serving process: MongoDB "
        f"{sum(mongo.values()) / posts:.1f}, Redis {sum(redis.values()) / posts:.1f}"
    )
    for name, n in sorted({**mongo, **{f"redis {k}": v for k, v in redis.items()}}.items(),
                          key=lambda kv: -kv[1]):  # fmt: skip
        if n / posts >= 0.05:
            print(f"  {n / posts:5.2f}  {name}")
    for service, n in sorted((data.get("markers") or {}).items()):
        print(f"  events its consumers recorded per repayment meanwhile: {service} {n / posts:.2f}")
    return sum(mongo.values()) / posts, sum(redis.values()) / posts


def print_collections(data: dict[str, Any], posts: int, profiled: int) -> float | None:
    """The serving process's garbage collections during the measured levels (``posts``
    repayments; the profiler's own allocations would inflate them) and, apart, during the
    profiled run; CPU ms per repayment of the levels."""
    per_post: float | None = None
    for key, label, n in (("levels_gc", "the levels", posts), ("gc", "the profiled run", profiled)):
        figures = data.get(key)
        if not figures:
            continue
        young, middle, full = figures["counts"]
        ms = 1000 * figures["cpu_s"] / n
        print(
            f"garbage collection in the serving process during {label}: {young} / {middle} / "
            f"{full} collections of generation 0 / 1 / 2, {ms:.2f} ms CPU per repayment, "
            f"the longest {1000 * figures['longest_s']:.1f} ms"
        )
        per_post = ms if key == "levels_gc" else per_post
    return per_post


@dataclass(frozen=True)
class Level:
    """One in-flight level's figures."""

    in_flight: int
    requests: int
    posts_per_s: float
    p50_ms: float
    p99_ms: float
    raw_per_s: float  # the database's own rate for the same writes, same concurrency
    cpu_ms_per_post: float  # all service processes together
    db_cpu_ms_per_post: float | None  # the database process, when it is ours and known


def summary(
    shape: str, levels: list[Level], mongo_trips: float | None, redis_trips: float | None
) -> dict[str, Any]:
    """The one-line JSON object of ``--json`` (issue 15's machine-readable figures).

    CPU and the ratio are taken at 32 in flight (None when that level was not run); the
    round trips are per repayment over the profiled (in-process) or extra (deployed) run
    at 32 in flight, relays and consumers included."""
    by = {lv.in_flight: lv for lv in levels}
    at32 = by.get(32)

    def per_level(value: Callable[[Level], float]) -> dict[str, float]:
        return {str(lv.in_flight): round(value(lv), 2) for lv in levels}

    def rounded(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    return {
        "shape": shape,
        "cpu_ms_per_post": rounded(at32.cpu_ms_per_post) if at32 else None,
        "db_cpu_ms_per_post": rounded(at32.db_cpu_ms_per_post) if at32 else None,
        "mongo_round_trips_per_post": rounded(mongo_trips),
        "redis_round_trips_per_post": rounded(redis_trips),
        "ratio_at_32": round(at32.posts_per_s / at32.raw_per_s, 3) if at32 else None,
        "posts_per_s": per_level(lambda lv: lv.posts_per_s),
        "p50_ms": per_level(lambda lv: lv.p50_ms),
        "p99_ms": per_level(lambda lv: lv.p99_ms),
        "raw_posts_per_s": per_level(lambda lv: lv.raw_per_s),
        "ratio": per_level(lambda lv: lv.posts_per_s / lv.raw_per_s),
        "cpu_ms_per_post_by_level": per_level(lambda lv: lv.cpu_ms_per_post),
        "requests": {str(lv.in_flight): lv.requests for lv in levels},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


async def drop_databases(url: str, prefix: str) -> None:
    from shared.mongo import create_mongo_client

    client = create_mongo_client(url, app_name="bench-cleanup")
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix):
                await client.drop_database(name)
    finally:
        await client.close()


async def drop_exchange(amqp_url: str, exchange: str) -> None:
    """The run's consumer queues and its exchanges: leave the shared broker clean."""
    import aio_pika

    from loan_service.consumers import borrower_queue, search_queue
    from payment_service.consumers import loan_events_queue
    from shared.config import Settings
    from user_service.consumers import search_queue as borrower_search_queue

    settings = Settings(amqp_exchange=exchange)
    queues = (
        search_queue(settings),
        borrower_queue(settings),
        loan_events_queue(settings),
        borrower_search_queue(settings),
    )
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        for queue in queues:
            for name in (queue, f"{queue}.dead"):
                channel = await connection.channel()  # a failed delete closes its channel
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dlx"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(name)
    finally:
        await connection.close()


async def measure_levels(
    args: argparse.Namespace,
    url: str,
    port: int,
    token: str,
    loans: list[str],
    pids: list[int],
    db_pid: int | None,
) -> list[Level]:
    """Posts at each in-flight level, then the database's own rate for the same writes;
    prints the table. CPU is summed over ``pids`` (the service processes)."""
    await post_many(port, token, loans, 20, 4)  # warm up every path
    results: list[Level] = []
    header = (
        f"{'in flight':>9} {'requests':>8} {'posted/s':>9} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'raw Mongo/s':>12} {'ratio':>6} "
        f"{'CPU ms/post: system':>20} {'database':>9}"
    )
    print("POST /api/v1/payments over HTTP, each with a new Idempotency-Key:")
    print(header)
    for level in [int(x) for x in args.levels.split(",")]:
        n = max(args.requests, level * 3) if level > 1 else max(40, args.requests // 5)
        cpu_before = sum(cpu_seconds(p) for p in pids), cpu_seconds(db_pid)
        elapsed, lat, statuses = await post_many(port, token, loans, n, level)
        cpu_sys = (sum(cpu_seconds(p) for p in pids) - cpu_before[0]) / n * 1e3
        cpu_db = (cpu_seconds(db_pid) - cpu_before[1]) / n * 1e3
        bad = {k: v for k, v in statuses.items() if k != 201}  # a retry's replay is 200
        raw = await raw_ceiling(url, n, level, args.loans)
        rate = n / elapsed
        results.append(
            Level(
                level, n, rate, statistics.median(lat) * 1e3, percentile(lat, 99) * 1e3,
                raw, cpu_sys, cpu_db if db_pid else None,
            )
        )  # fmt: skip
        print(
            f"{level:>9} {n:>8} {rate:>9.1f} {statistics.median(lat) * 1e3:>8.1f} "
            f"{percentile(lat, 95) * 1e3:>8.1f} {percentile(lat, 99) * 1e3:>8.1f} "
            f"{raw:>12.1f} {rate / raw:>6.2f} {cpu_sys:>20.1f} "
            + (f"{cpu_db:>9.1f}" if db_pid else f"{'n/a':>9}")
            + (f"   not 201: {bad}" if bad else "")
        )
    print(
        "ratio = end-to-end repayments/s over the database's own rate for the same "
        "writes at the same concurrency (1.00 would mean no overhead at all); CPU "
        "ms/post: CPU time the service processes (all together) and the database "
        "process spent per repayment"
    )
    return results


@contextlib.asynccontextmanager
async def otlp_sink() -> Any:
    """An OTLP/gRPC trace collector stand-in on a free port: counts the spans, keeps none.
    Yields (its endpoint, a function giving the count so far)."""
    from grpc import aio
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    spans = 0

    class Sink(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            nonlocal spans
            spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Sink(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}", lambda: spans
    finally:
        await server.stop(None)


async def drive(
    args: argparse.Namespace, url: str, source: str, db_pid: int | None = None
) -> dict[str, Any]:
    if not args.tracing:
        return await drive_system(args, url, source, db_pid, {})
    async with otlp_sink() as (endpoint, exported):
        env = {
            "MF_TRACING": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
        figures = await drive_system(args, url, source, db_pid, env)
        # The child flushed its last batch as it stopped.
        figures["spans_exported"] = exported()
        print(f"tracing: MF_TRACING=otlp, {exported()} spans exported to {endpoint}")
        return figures


async def drive_system(
    args: argparse.Namespace,
    url: str,
    source: str,
    db_pid: int | None,
    extra_env: dict[str, str],
) -> dict[str, Any]:
    from microfinance_cli.backends import free_port
    from shared.config import Settings

    db = f"benchpay_{uuid.uuid4().hex[:6]}"
    exchange = f"benchpay.{uuid.uuid4().hex[:6]}"
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        profile_out = Path(data) / "profile.json"
        argv = [
            sys.executable, __file__, "--serve", "--mongo-url", url, "--db", db,
            "--exchange", exchange, "--data", data, "--port", str(port),
            "--loans", str(args.loans), "--profile-out", str(profile_out),
        ]  # fmt: skip
        child_log = Path(data) / "system.log"
        with child_log.open("wb") as log_file:
            child = subprocess.Popen(  # noqa: ASYNC220 - started once, then only signalled
                argv,
                stdout=subprocess.PIPE,
                stderr=log_file,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO), **extra_env},
            )
        try:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            if not line:
                tail = child_log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the serving process died during setup:\n{tail}")
            ready = json.loads(line)
            token, loans = ready["token"], ready["loans"]
            print(f"MongoDB: {source}; RabbitMQ: {Settings().amqp_url} (relays publishing)")
            print(
                f"system: gateway (uvicorn) + auth, user, loan, payment services in one "
                f"process; load: httpx in another; {len(loans)} loans of one agent"
            )
            levels = await measure_levels(args, url, port, token, loans, [child.pid], db_pid)
            trips: tuple[float | None, float | None] = (None, None)
            gc_ms: float | None = None
            child.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.2)  # let the profiler start before the load
            await post_many(port, token, loans, args.profile_requests, 32)
            child.send_signal(signal.SIGUSR2)
            # The child writes the profile when the profiler stops.
            if await poll(profile_out.exists, within=30):
                print(f"profile: {args.profile_requests} more posts at 32 in flight")
                data = json.loads(profile_out.read_text())
                print_profile(data, args.top)
                trips = print_round_trips(data, args.profile_requests)
                posted = sum(lv.requests for lv in levels)
                gc_ms = print_collections(data, posted, args.profile_requests)
            errors = [
                line
                for line in child_log.read_text(errors="replace").splitlines()
                if " ERROR " in line
            ]
            if errors:
                print(f"the system logged {len(errors)} errors; first: {errors[0]}")
            return {**summary("in-process", levels, *trips), "gc_cpu_ms_per_post": gc_ms}
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            await drop_databases(url, db)
            with contextlib.suppress(Exception):
                await drop_exchange(Settings().amqp_url, exchange)


# ====================================================================== the deployed shape

# Written as sitecustomize.py into a directory on the PYTHONPATH of `microfinance up`, so
# every Python process it starts counts its own MongoDB commands and Redis commands (as
# RoundTrips does in process) and writes the totals to BENCH_TRIPS_DIR/<pid>.json.
TRIPS_HOOK = """
import json, os, threading, time

_DIR = os.environ.get("BENCH_TRIPS_DIR")
if _DIR:
    # MongoDB commands, Redis commands, events the process's consumers recorded
    # (processed-event markers inserted).
    _counts = [0, 0, 0]
    try:
        from pymongo import monitoring
        from redis.asyncio.client import Redis
    except ImportError:
        pass
    else:
        class _Listener(monitoring.CommandListener):
            def started(self, event):
                _counts[0] += 1
                if (event.command_name == "insert"
                        and event.command.get("insert") == "processed_events"):
                    _counts[2] += len(event.command.get("documents") or ())

            def succeeded(self, event):
                pass

            def failed(self, event):
                pass

        monitoring.register(_Listener())
        _original = Redis.execute_command

        async def _counted(self, *args, **options):
            _counts[1] += 1
            return await _original(self, *args, **options)

        Redis.execute_command = _counted

        def _write():
            path = os.path.join(_DIR, str(os.getpid()) + ".json")
            while True:
                figures = {"t": time.time(), "mongo": _counts[0], "redis": _counts[1],
                           "events": _counts[2]}
                with open(path + ".tmp", "w") as out:
                    json.dump(figures, out)
                os.replace(path + ".tmp", path)
                time.sleep(0.25)

        threading.Thread(target=_write, name="bench-trips", daemon=True).start()
"""


async def trips_of(trips_dir: Path, pids: list[int], after: float
                   ) -> dict[int, tuple[int, int, int]]:
    """(MongoDB, Redis) commands each process had made, and the events its consumers had
    recorded, as written after ``after``."""
    found: dict[int, tuple[int, int, int]] = {}

    def fresh() -> bool:
        for pid in pids:
            try:
                data = json.loads((trips_dir / f"{pid}.json").read_text())
            except (OSError, ValueError):
                return False
            if data["t"] <= after:
                return False
            found[pid] = data["mongo"], data["redis"], data.get("events", 0)
        return True

    if not await poll(fresh, within=15):
        raise SystemExit("the services did not report their round trips (sitecustomize hook)")
    return found


def service_names(up: Any) -> dict[int, str]:
    """pid -> service name, from `up`'s "started <name> (pid N)" lines."""
    names: dict[int, str] = {}
    for line in up.seen:
        if "| started " in line and "(pid " in line:
            name = line.split("| started ", 1)[1].split(" (pid ", 1)[0].strip()
            names[int(line.rsplit("(pid ", 1)[1].rstrip(")"))] = name
    return names


async def deployed_round_trips(
    up: Any, trips_dir: Path, pids: list[int], port: int, token: str, loans: list[str], n: int
) -> tuple[float, float]:
    """MongoDB and Redis round trips per repayment over ``n`` more posts at 32 in flight,
    all six processes together; prints them by process."""
    before = await trips_of(trips_dir, pids, time.time())
    await post_many(port, token, loans, n, 32)
    after = await trips_of(trips_dir, pids, time.time())
    names = service_names(up)
    by = {p: ((after[p][0] - before[p][0]) / n, (after[p][1] - before[p][1]) / n) for p in pids}
    mongo, redis = sum(m for m, _ in by.values()), sum(r for _, r in by.values())
    print(
        f"round trips per repayment, all six processes, {n} more posts at 32 in flight "
        f"(background work during the run included): MongoDB {mongo:.1f}, Redis {redis:.1f}"
    )
    for pid, (m, r) in sorted(by.items(), key=lambda kv: -kv[1][0]):
        # A consumer behind its queue takes fewer events during the run: its round trips
        # per repayment only mean something beside the events it took.
        events = (after[pid][2] - before[pid][2]) / n
        took = f", events its consumers recorded {events:5.2f}" if events else ""
        print(f"  {names.get(pid, pid)!s:>10}: MongoDB {m:5.2f}, Redis {r:5.2f}{took}")
    return mongo, redis


def mongo_pid(port: int) -> int | None:
    """The embedded MongoDB substitute listening on ``port`` (found by its command line)."""
    wanted = f"--port\0{port}\0"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_text(errors="replace")
            except OSError:
                continue
            if "secantus" in cmdline and wanted in cmdline:
                return int(entry.name)
    return None


async def drive_deployed(args: argparse.Namespace) -> dict[str, Any]:
    """The same figures against the six processes as `microfinance up` starts them, on
    ephemeral ports with their own embedded MongoDB (on disk, in the run's data directory)."""
    from shared.config import Settings
    from tests.up_stack import SERVING, UpProcess, up_env

    with tempfile.TemporaryDirectory() as work:
        hook_dir, trips_dir = Path(work) / "hook", Path(work) / "trips"
        hook_dir.mkdir()
        trips_dir.mkdir()
        (hook_dir / "sitecustomize.py").write_text(TRIPS_HOOK)
        env = up_env(Path(work) / "data")
        env.update(
            MF_ADMIN_EMAIL=ADMIN[0],
            MF_ADMIN_PASSWORD=ADMIN[1],
            PYTHONPATH=os.pathsep.join([str(hook_dir), str(REPO)]),
            BENCH_TRIPS_DIR=str(trips_dir),
        )
        up = UpProcess.start(Path(work), "--stop-timeout", "20", env=env)
        db_pid: int | None = None
        try:
            await asyncio.to_thread(up.read_until, SERVING, 240)
            pids = up.child_pids()
            url = f"mongodb://127.0.0.1:{env['MF_EMBEDDED_MONGO_PORT']}/?directConnection=true"
            settings = Settings(
                mongo_url=url,
                mongo_db=env["MF_MONGO_DB"],
                auth_addr=f"127.0.0.1:{up.port('auth_port')}",
                user_addr=f"127.0.0.1:{up.port('user_port')}",
            )
            agent_id, token = await make_agent(settings)
            loans = await seed_loans(settings, agent_id, args.loans)
            print(f"MongoDB: the embedded substitute `up` started (on disk); {len(pids)} pids")
            print(
                "system: `microfinance up`, six processes (gateway, auth, user, loan, payment, "
                f"reporting); load: httpx in this process; {len(loans)} loans of one agent"
            )
            gateway = up.port("gateway_port")
            db_pid = mongo_pid(int(env["MF_EMBEDDED_MONGO_PORT"]))
            levels = await measure_levels(args, url, gateway, token, loans, pids, db_pid)
            mongo, redis = await deployed_round_trips(
                up, trips_dir, pids, gateway, token, loans, args.profile_requests
            )
            return summary("deployed", levels, mongo, redis)
        finally:
            # SIGINT: `up` stops its services and the embedded MongoDB it started (which leads
            # its own session, so stop()'s SIGKILL to up's group would leave it running).
            with contextlib.suppress(Exception):
                await asyncio.to_thread(up.interrupt, 60)
            up.stop()
            if db_pid is not None and mongo_pid(int(env["MF_EMBEDDED_MONGO_PORT"])) == db_pid:
                with contextlib.suppress(OSError):  # still ours, still running
                    os.kill(db_pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="posts per level")
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--profile-requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (about a minute on an idle machine): 1,8,32 in flight, 120 posts "
        "per level, 60 loans, a 150-post profile",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as one JSON object on the last line (issue 15's keys)",
    )
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="measure the six processes as `microfinance up` starts them (its own embedded "
        "MongoDB on ephemeral ports; CPU summed over the six) instead of one process",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="in process, with MF_TRACING=otlp exporting to a span-counting OTLP stand-in",
    )
    # Internal: the serving child.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mongo-url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--exchange", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.levels, args.requests, args.loans, args.profile_requests = "1,8,32", 120, 60, 150
    if args.serve:
        from shared import eventloop
        from shared.config import Settings

        # The serving processes' own loop (MF_EVENT_LOOP); the load stays on asyncio.
        eventloop.run(serve(args), Settings().event_loop)
        return
    url = os.environ.get("MF_MONGO_URL")
    if args.tracing and args.deployed:
        parser.error("--tracing measures the in-process shape only")
    if args.deployed:
        figures = asyncio.run(drive_deployed(args))
    elif url:
        figures = asyncio.run(drive(args, url, "MF_MONGO_URL"))
    else:
        from microfinance_cli import backends

        with backends.start_mongo_substitute(None) as running:
            pid = running.process.pid if running.process else None
            source = "embedded substitute secantusdb (in memory)"
            figures = asyncio.run(drive(args, running.url, source, pid))
    if args.json:
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
