"""The CPU floor of one repayment on this machine, from the primitives it cannot avoid.

Issue 15 asks for at most 4 ms of CPU per repayment in the service processes together. A
repayment, in this architecture, is at least: one HTTP request served by FastAPI/uvicorn,
two gRPC unary calls (gateway -> payment_service -> loan_service), a few MongoDB round
trips (6 is the issue's goal), the events it publishes through the outbox relays to
RabbitMQ with publisher confirms (``payment.posted`` and ``loan.repayment_applied``: 2),
a token check per hop (3) and a log line per hop (3). This bench measures each of those
primitives alone, in a loop, in processes of its own, on the loop the services use
(``MF_EVENT_LOOP``, uvloop by default), and adds them up:

* **HTTP**: uvicorn serving a POST with a small pydantic body in a server process, loaded
  over loopback from another process (a minimal keep-alive HTTP/1.1 client); only the
  server's CPU is counted (read from ``/proc/<pid>/stat``, all threads). ``bare``: a
  one-route FastAPI app. ``middleware``: the same with the gateway's
  ``RequestContextMiddleware`` (logging at INFO, JSON, to /dev/null, as deployed).
  ``gateway``: the real app (``create_app``: every route, middleware, error handlers, the
  auth dependency with a real ``TokenVerifier``) on the real ``POST /api/v1/payments``,
  whose payment_service stub answers at once with a POSTED payment (no gRPC): what the
  gateway itself spends on a repayment.
* **gRPC**: one unary ``PostPayment`` call with a realistic request and response, client
  and server in two processes, each one's CPU counted. ``bare``: ``grpc.aio`` server
  without interceptors and a plain channel. ``project``: ``GrpcServiceHost`` (its
  interceptor, auth with a staff token, health, reflection; logging at INFO to
  /dev/null) and ``create_channel`` (identity propagation), as our processes call each
  other. Between them, to tell the parts apart: ``bare+metadata`` (the bare server's
  handler sends the request id in the initial metadata first, as ours does) and
  ``project-quiet`` (``project`` logging at WARNING: no line per call).
* **MongoDB**: ``find_one`` by ``_id``, ``update_one`` by ``_id`` and ``insert_one`` with
  the project's client options against the in-memory substitute started as
  bench_payments.py starts it (or ``MF_MONGO_URL``); the client's CPU only.
* **RabbitMQ**: a persistent publish with publisher confirms to a topic exchange of its own
  on the local broker (``MF_AMQP_URL``); ``bare`` a prebuilt ``aio_pika.Message``,
  ``project`` the relay's way (``Event`` -> ``to_message()``). Also consuming and acking one
  (reporting and the search indexer each consume a repayment's events: shown, not in the
  floor, which counts the services on the path).
* **token check**: pyjwt's EdDSA verification (what the services use; once per token per
  process, then cached) and ``TokenVerifier.verify`` of a token it has seen (what each hop
  pays).
* **log line**: one access line through the project's logging (JSON formatter, redaction
  filter) to /dev/null.

Everything is CPU time per operation (process time, warm-up first, the least of
``--repeat`` runs), at ``--in-flight``
operations in flight where that means something (the figure bench_payments.py reports is
at 32). It prints the figures, the floor for one repayment with the bare libraries and
with the project's own layers, and the 4 ms goal beside them; it asserts nothing about
speed. ``--json`` adds one JSON object as the last line.

    python bench/bench_floor.py [--ops 3000] [--in-flight 32] [--only http,grpc,...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOAL_US = 4000.0
PARTS = ("http", "grpc", "mongo", "amqp", "token", "log")
ISSUER = "bench-floor"
_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def quiet_logging(level: str = "INFO") -> None:
    """The project's logging (JSON, redaction) writing to /dev/null."""
    from shared.logging import configure_logging

    configure_logging("bench", level, True)
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process lifetime
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def run_loop(main: Awaitable[Any]) -> Any:
    from shared import eventloop
    from shared.config import Settings

    return eventloop.run(main, Settings().event_loop)  # type: ignore[arg-type]


async def in_flight(op: Callable[[], Awaitable[Any]], count: int, width: int) -> float:
    """Run ``op`` ``count`` times, ``width`` at once; the wall seconds it took."""
    share = [count // width + (1 if i < count % width else 0) for i in range(width)]

    async def worker(n: int) -> None:
        for _ in range(n):
            await op()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in share if n))
    return time.perf_counter() - started


REPEAT = 3


async def per_op_cpu(
    op: Callable[[], Awaitable[Any]], ops: int, width: int, *, remote: int | None = None
) -> dict[str, float]:
    """Warm up, then CPU µs per op of this process (and of ``remote``, by /proc): the run
    with the least CPU of ``REPEAT`` (the machine is shared; others' load only adds)."""
    await in_flight(op, max(ops // 5, width * 4), width)
    best: dict[str, float] | None = None
    for _ in range(REPEAT):
        cpu, there = time.process_time(), proc_cpu(remote) if remote else 0.0
        wall = await in_flight(op, ops, width)
        out = {"us": (time.process_time() - cpu) / ops * 1e6, "per_s": ops / wall}
        if remote:
            out["remote_us"] = (proc_cpu(remote) - there) / ops * 1e6
        total = out["us"] + out.get("remote_us", 0.0)
        if best is None or total < best["us"] + best.get("remote_us", 0.0):
            best = out
    assert best is not None
    return best


# ===================================================================== shared fixtures


def signing() -> tuple[Any, str]:
    """A fresh EdDSA key as auth_service makes them, and an agent's access token."""
    from auth_service.domain.keys import SigningKey
    from auth_service.domain.tokens import Principal, issue_access_token

    key = SigningKey.generate(datetime.now(UTC))
    principal = Principal("staff-1", "a@b.org", "AGENT", "BR-01", must_change_password=False)
    token = issue_access_token(
        principal, key, issuer=ISSUER, now=datetime.now(UTC), ttl_seconds=3600
    ).token
    return key, token


def verifier_for(key: Any) -> Any:
    from shared.tokens import JwksKeyCache, TokenVerifier

    async def fetch() -> list[dict[str, Any]]:
        return [key.jwk()]

    return TokenVerifier(JwksKeyCache(fetch), issuer=ISSUER)


def sample_request() -> Any:
    from microfinance.common.v1 import common_pb2
    from microfinance.payment.v1 import payment_pb2

    return payment_pb2.PostPaymentRequest(
        idempotency_key=uuid.uuid4().hex,
        loan_id=uuid.uuid4().hex,
        amount=common_pb2.Money(amount_minor=25_000, currency="USD"),
        value_date="2026-12-06",
        channel=common_pb2.CASH,
    )


def sample_response() -> Any:
    """A POSTED payment with its allocation, the size PostPayment answers."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from microfinance.common.v1 import common_pb2
    from microfinance.loan.v1 import loan_pb2
    from microfinance.payment.v1 import payment_pb2

    def usd(n: int) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=n, currency="USD")

    now = Timestamp()
    now.GetCurrentTime()
    return payment_pb2.PostPaymentResponse(
        payment=payment_pb2.Payment(
            id=uuid.uuid4().hex,
            receipt_number="RC-2026-0000123",
            idempotency_key=uuid.uuid4().hex,
            loan_id=uuid.uuid4().hex,
            loan_number="LN-2026-000123",
            borrower_id=uuid.uuid4().hex,
            borrower_name="Amina Njeri",
            agent_id="staff-1",
            branch_id="BR-01",
            amount=usd(25_000),
            value_date="2026-12-06",
            channel=common_pb2.CASH,
            status=payment_pb2.POSTED,
            allocation=loan_pb2.Allocation(
                penalty=usd(0),
                fee=usd(0),
                interest=usd(4_000),
                principal=usd(21_000),
                recovery=usd(0),
                total=usd(25_000),
                interest_waived=usd(0),
            ),
            loan_transaction_id=uuid.uuid4().hex,
            posted_by="staff-1",
            posted_at=now,
            audit=common_pb2.Audit(
                created_by="staff-1", created_at=now, updated_by="staff-1", updated_at=now
            ),
            version=2,
        )
    )


def spawn(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A server child of this script; returns it and the JSON line it prints when ready."""
    child = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.kill()
        raise SystemExit(f"server {args} did not start")
    return child, json.loads(line)


def stop(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        child.stdin.close()  # the server exits when its stdin closes
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


async def until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


# ===================================================================== HTTP


PAYMENT_BODY = {
    "loan_id": "0123456789abcdef0123456789abcdef",
    "amount": {"amount_minor": 25_000, "currency": "USD"},
    "channel": "CASH",
}


class Amount(BaseModel):
    amount_minor: int
    currency: str


class Body(BaseModel):
    loan_id: str
    amount: Amount
    channel: str
    note: str = ""


class Out(BaseModel):
    id: str
    loan_id: str
    amount: Amount
    status: str


def bare_app(middleware: bool) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/api/v1/payments", status_code=201)
    async def post(body: Body) -> Out:
        return Out(id="p-1", loan_id=body.loan_id, amount=body.amount, status="POSTED")

    if middleware:
        from api_gateway.middleware import RequestContextMiddleware

        app.add_middleware(RequestContextMiddleware)
    return app


def gateway_app(key: Any) -> Any:
    """The real gateway, its payment_service stub answering at once (no gRPC)."""
    from api_gateway.app import create_app
    from api_gateway.deps import GatewayState
    from api_gateway.ratelimit import LoginRateLimiter
    from shared.cache import Cache
    from shared.config import Settings

    settings = Settings(env="test", jwt_issuer=ISSUER, redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    answer = sample_response()

    class Payments:
        async def PostPayment(self, request: Any) -> Any:  # noqa: N802
            return answer

    class Clients:
        payments = Payments()

    app.state.gateway = GatewayState(
        settings=settings,
        clients=Clients(),  # type: ignore[arg-type]
        verifier=verifier_for(key),
        login_limiter=LoginRateLimiter(Cache(None, prefix="bench:"), limit_per_minute=1),
    )
    return app


async def serve_http(kind: str, key_pem: str) -> None:
    import uvicorn

    if kind == "bare":
        app = bare_app(middleware=False)
    else:
        quiet_logging("INFO")
        middleware = kind == "middleware"
        app = bare_app(middleware=True) if middleware else gateway_app(load_key(key_pem))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await until_stdin_closes()
    server.should_exit = True
    await task


def dump_key(key: Any) -> str:
    import pickle

    return pickle.dumps(key).hex()


def load_key(text: str) -> Any:
    import pickle

    return pickle.loads(bytes.fromhex(text))  # noqa: S301 - our own child process


class RawHttpClient:
    """Keep-alive HTTP/1.1 POSTs over plain asyncio streams, one request per connection at
    a time: a client far lighter than httpx, so the server, not the load, sets the pace."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self._port = port
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self._head}{extra}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self._idle.append((reader, writer))
        return status, payload

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def part_http(args: argparse.Namespace) -> dict[str, Any]:
    key, token = signing()
    body = json.dumps(PAYMENT_BODY).encode()
    rows: dict[str, Any] = {}
    for kind in ("bare", "middleware", "gateway"):
        child, ready = spawn("--serve-http", kind, "--key", dump_key(key))
        client = RawHttpClient(
            ready["port"], {"Authorization": f"Bearer {token}", "X-Request-ID": "bench-floor"}
        )
        try:

            async def post(kind: str = kind, client: RawHttpClient = client) -> None:
                status, text = await client.post(
                    "/api/v1/payments", body, {"Idempotency-Key": uuid.uuid4().hex}
                )
                if status != 201:
                    raise SystemExit(f"{kind}: {status} {text[:300]!r}")

            got = await per_op_cpu(post, args.ops, args.in_flight, remote=child.pid)
            rows[kind] = {"server_us": got["remote_us"], "per_s": got["per_s"]}
        finally:
            await client.close()
            stop(child)
    return rows


# ===================================================================== gRPC


async def serve_grpc(kind: str, key_pem: str) -> None:
    from grpc import aio

    from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc

    answer = sample_response()

    class Payments(payment_pb2_grpc.PaymentServiceServicer):
        async def PostPayment(self, request: Any, context: Any) -> Any:  # noqa: N802
            if kind == "bare+metadata":
                await context.send_initial_metadata((("x-request-id", "bench-floor"),))
            return answer

    name = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name
    if kind.startswith("bare"):
        server = aio.server()
        payment_pb2_grpc.add_PaymentServiceServicer_to_server(Payments(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(json.dumps({"port": port}), flush=True)
        await until_stdin_closes()
        await server.stop(0.5)
        return
    from shared.grpc.access import ANY_STAFF, access_table
    from shared.grpc.server import GrpcServiceHost, ServiceDefinition

    quiet_logging("WARNING" if kind == "project-quiet" else "INFO")
    definition = ServiceDefinition(
        name="bench",
        register=lambda s: payment_pb2_grpc.add_PaymentServiceServicer_to_server(Payments(), s),
        service_names=[name],
        access=access_table(name, {"PostPayment": ANY_STAFF}),
        verifier=verifier_for(load_key(key_pem)),
    )
    host = GrpcServiceHost(definition, host="127.0.0.1", port=0, grace_seconds=0.5)
    await host.start()
    print(json.dumps({"port": host.port}), flush=True)
    await until_stdin_closes()
    await host.stop()


async def part_grpc(args: argparse.Namespace) -> dict[str, Any]:
    from grpc import aio

    from microfinance.payment.v1 import payment_pb2_grpc
    from shared.grpc.client import create_channel
    from shared.identity import caller_var
    from shared.logging import request_id_var

    key, token = signing()
    request = sample_request()
    rows: dict[str, Any] = {}
    for kind in ("bare", "bare+metadata", "project-quiet", "project"):
        child, ready = spawn("--serve-grpc", kind, "--key", dump_key(key))
        try:
            target = f"127.0.0.1:{ready['port']}"
            if kind.startswith("bare"):
                channel = aio.insecure_channel(target)
            else:
                # As a route or a servicer calls on: the caller and request id in context.
                caller_var.set(await verifier_for(key).verify(token))
                request_id_var.set("bench-floor")
                channel = create_channel(target, default_timeout=30.0)
            stub = payment_pb2_grpc.PaymentServiceStub(channel)

            async def call(stub: Any = stub) -> None:
                await stub.PostPayment(request, timeout=30.0)

            got = await per_op_cpu(call, args.ops, args.in_flight, remote=child.pid)
            await channel.close(None)
            rows[kind] = {
                "client_us": got["us"],
                "server_us": got["remote_us"],
                "per_s": got["per_s"],
            }
        finally:
            stop(child)
    return rows


# ===================================================================== MongoDB


async def part_mongo(args: argparse.Namespace) -> dict[str, Any]:
    from shared.mongo import create_mongo_client

    client = create_mongo_client(args.mongo_url, app_name="bench-floor")
    db = client[f"bench_floor_{uuid.uuid4().hex[:8]}"]
    coll = db["loans"]
    ids = [uuid.uuid4().hex for _ in range(500)]
    doc = {
        "status": "ACTIVE",
        "agent_id": "staff-1",
        "branch_id": "BR-01",
        "principal": 1_000_000,
        "version": 1,
        "facts": {"outstanding": 900_000, "arrears": 0, "next_due": "2026-12-13"},
    }
    await coll.insert_many([{"_id": i, **doc} for i in ids])
    counter = iter(range(10**9))
    rows: dict[str, Any] = {}

    async def find() -> None:
        await coll.find_one({"_id": ids[next(counter) % len(ids)]})

    async def update() -> None:
        await coll.update_one(
            {"_id": ids[next(counter) % len(ids)]},
            {"$inc": {"version": 1, "facts.outstanding": -1}, "$set": {"facts.arrears": 0}},
        )

    async def insert() -> None:
        await db["payments"].insert_one({"_id": uuid.uuid4().hex, **doc})

    try:
        for name, op in (("find_one", find), ("update_one", update), ("insert_one", insert)):
            got = await per_op_cpu(op, args.ops, args.in_flight)
            rows[name] = {"client_us": got["us"], "per_s": got["per_s"]}
    finally:
        await client.drop_database(db.name)
        await client.close()
    return rows


# ===================================================================== RabbitMQ


async def part_amqp(args: argparse.Namespace) -> dict[str, Any]:
    import aio_pika

    from shared.config import Settings
    from shared.events.envelope import Event

    connection = await aio_pika.connect_robust(Settings().amqp_url)
    rows: dict[str, Any] = {}
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            f"bench-floor-{uuid.uuid4().hex[:8]}", aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="payment.#")
        payload = {
            "payment_id": uuid.uuid4().hex,
            "loan_id": uuid.uuid4().hex,
            "amount_minor": 25_000,
            "currency": "USD",
            "receipt_number": "RC-1",
        }
        body = Event("payment.posted", "p-1", payload).to_bytes()

        async def bare() -> None:
            await exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="payment.posted",
            )

        async def project() -> None:
            event = Event("payment.posted", "p-1", payload, producer="payment_service")
            await exchange.publish(event.to_message(), routing_key=event.type)

        for name, op in (("bare", bare), ("project", project)):
            got = await per_op_cpu(op, args.ops, args.in_flight)
            rows[f"publish_{name}"] = {"client_us": got["us"], "per_s": got["per_s"]}
        # Consume and ack what was published (every message above went to the queue).
        waiting = (await queue.declare()).message_count or 0
        count = min(waiting, args.ops)
        done = asyncio.get_running_loop().create_future()
        seen = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen
            Event.from_bytes(message.body)
            await message.ack()
            seen += 1
            if seen == count and not done.done():
                done.set_result(None)

        await channel.set_qos(prefetch_count=args.in_flight)
        cpu = time.process_time()
        tag = await queue.consume(on_message)
        await asyncio.wait_for(done, timeout=120)
        rows["consume_ack"] = {"client_us": (time.process_time() - cpu) / count * 1e6}
        await queue.cancel(tag)
    finally:
        await connection.close()
    return rows


# ===================================================================== token, log


def cpu_loop(op: Callable[[], Any], ops: int) -> float:
    for _ in range(max(ops // 5, 100)):
        op()
    best = float("inf")
    for _ in range(REPEAT):
        cpu = time.process_time()
        for _ in range(ops):
            op()
        best = min(best, (time.process_time() - cpu) / ops * 1e6)
    return best


async def part_token(args: argparse.Namespace) -> dict[str, Any]:
    import jwt

    key, token = signing()
    verifier = verifier_for(key)
    await verifier.verify(token)  # keys fetched, token remembered
    public = jwt.PyJWK(key.jwk())

    def decode() -> None:
        jwt.decode(
            token,
            public.key,
            algorithms=[public.algorithm_name],
            issuer=ISSUER,
            options={"verify_aud": False},
        )

    def cached() -> None:
        coro = verifier.verify(token)
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - a cached check never waits
            raise SystemExit("a cached token check awaited something")

    return {
        "eddsa_decode": {"us": cpu_loop(decode, args.ops)},
        "verifier_cached": {"us": cpu_loop(cached, args.ops * 10)},
    }


async def part_log(args: argparse.Namespace) -> dict[str, Any]:
    from shared.identity import Caller, Role
    from shared.logging import request_id_var

    quiet_logging("INFO")
    request_id_var.set("bench-floor")
    log = logging.getLogger("microfinance.gateway.access")
    caller = Caller(subject="staff-1", role=Role.AGENT)

    def line() -> None:
        log.info(
            "http %s %s %s",
            "POST",
            "/api/v1/payments",
            201,
            extra={
                "method": "POST",
                "path": "/api/v1/payments",
                "status": 201,
                "duration_ms": 12.34,
                "client_ip": "127.0.0.1",
                "caller": caller.subject,
            },
        )

    def below_level() -> None:
        logging.getLogger("microfinance.bench.debug").debug("not written %s", 1)

    return {
        "json_line": {"us": cpu_loop(line, args.ops)},
        "below_level": {"us": cpu_loop(below_level, args.ops * 10)},
    }


# ===================================================================== the floor


def floor(results: dict[str, Any], mongo_ops: int, events: int, hops: int) -> list[dict[str, Any]]:
    """Rows of (what, count per repayment, bare µs, project µs)."""
    http, grpc_, mongo = results.get("http"), results.get("grpc"), results.get("mongo")
    amqp, token, log = results.get("amqp"), results.get("token"), results.get("log")
    rows: list[dict[str, Any]] = []

    def add(what: str, count: float, bare: float | None, project: float | None) -> None:
        rows.append({"what": what, "count": count, "bare_us": bare, "project_us": project})

    if http:
        add(
            "HTTP request, server (uvicorn + FastAPI)",
            1,
            http["bare"]["server_us"],
            http["gateway"]["server_us"],
        )
    if grpc_:
        add(
            "gRPC unary call, client side",
            2,
            grpc_["bare"]["client_us"],
            grpc_["project"]["client_us"],
        )
        add(
            "gRPC unary call, server side",
            2,
            grpc_["bare"]["server_us"],
            grpc_["project"]["server_us"],
        )
    if mongo:
        one = (mongo["find_one"]["client_us"] + mongo["update_one"]["client_us"]) / 2
        add("MongoDB round trip, client (mean of find_one, update_one)", mongo_ops, one, one)
    if amqp:
        add(
            "event published with confirm",
            events,
            amqp["publish_bare"]["client_us"],
            amqp["publish_project"]["client_us"],
        )
    if token:
        # A token is presented many times in its life: each process checks its signature
        # once and remembers it, so a hop pays the remembered check. The project's own is
        # inside its HTTP (gateway) and gRPC server figures above.
        add(
            "token check per hop (remembered; EdDSA once per token)",
            hops,
            token["verifier_cached"]["us"],
            None,
        )
    if log:
        # One structured line per hop, as deployed at INFO; likewise inside the project's
        # HTTP and gRPC server figures above.
        add("log line per hop", hops, log["json_line"]["us"], None)
    return rows


def print_results(results: dict[str, Any], rows: list[dict[str, Any]], args: Any) -> None:
    print(
        f"\nCPU µs per operation ({args.in_flight} in flight where it applies; "
        f"loop {results.get('loop')}):"
    )
    for part in PARTS:
        for name, figures in (results.get(part) or {}).items():
            text = ", ".join(
                f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
            )
            print(f"  {part:>6} {name:<18} {text}")
    http, grpc_ = results.get("http"), results.get("grpc")
    if http or grpc_:
        print("\nour layers over the bare libraries (µs of CPU per operation):")
    if http:
        bare, mw, gw = (http[k]["server_us"] for k in ("bare", "middleware", "gateway"))
        print(
            f"  HTTP server: RequestContextMiddleware +{mw - bare:,.0f}; the whole gateway "
            f"(routes, dependencies, auth, conversion, middleware) +{gw - bare:,.0f}"
        )
    if grpc_:
        b, p = grpc_["bare"], grpc_["project"]
        print(
            f"  gRPC call: client (create_channel) +{p['client_us'] - b['client_us']:,.0f}; "
            f"server (GrpcServiceHost) +{p['server_us'] - b['server_us']:,.0f}"
        )
    print("\nfloor for one repayment (µs of CPU, the service processes together):")
    print(f"  {'what':<58} {'n':>3} {'bare':>8} {'project':>8}")
    bare_total = project_total = 0.0
    for row in rows:
        bare = row["bare_us"] * row["count"] if row["bare_us"] is not None else 0.0
        proj = row["project_us"] * row["count"] if row["project_us"] is not None else 0.0
        bare_total += bare
        project_total += proj
        shown = f"{proj:8,.0f}" if row["project_us"] is not None else f"{'(incl.)':>8}"
        print(f"  {row['what']:<58} {row['count']:>3} {bare:8,.0f} {shown}")
    print(f"  {'total':<58} {'':>3} {bare_total:8,.0f} {project_total:8,.0f}")
    print(
        f"  goal {GOAL_US:,.0f} µs: the bare floor is {bare_total / GOAL_US:.0%} of it, "
        f"the project's layers {project_total / GOAL_US:.0%}"
    )
    results["floor"] = {
        "rows": rows,
        "bare_us": round(bare_total, 1),
        "project_us": round(project_total, 1),
        "goal_us": GOAL_US,
    }


async def run_part(part: str, args: argparse.Namespace) -> dict[str, Any]:
    handler = {
        "http": part_http,
        "grpc": part_grpc,
        "mongo": part_mongo,
        "amqp": part_amqp,
        "token": part_token,
        "log": part_log,
    }[part]
    return await handler(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=3000, help="operations per measurement")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the least kept")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--mongo-ops", type=int, default=6, help="round trips in the floor")
    parser.add_argument("--events", type=int, default=2, help="events per repayment")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--mongo-url", help=argparse.SUPPRESS)
    parser.add_argument("--serve-http", help=argparse.SUPPRESS)
    parser.add_argument("--serve-grpc", help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global REPEAT
    REPEAT = args.repeat

    if args.serve_http:
        run_loop(serve_http(args.serve_http, args.key))
        return
    if args.serve_grpc:
        run_loop(serve_grpc(args.serve_grpc, args.key))
        return
    if args.part:
        print(json.dumps(run_loop(run_part(args.part, args))), flush=True)
        return

    from shared.config import Settings

    parts = [p for p in args.only.split(",") if p]
    results: dict[str, Any] = {
        "loop": Settings().event_loop,
        "in_flight": args.in_flight,
        "ops": args.ops,
    }
    with contextlib.ExitStack() as exits:
        mongo_url = os.environ.get("MF_MONGO_URL", "")
        if "mongo" in parts and not mongo_url:
            from microfinance_cli import backends

            mongo_url = exits.enter_context(backends.start_mongo_substitute(None)).url
        for part in parts:
            cmd = [
                sys.executable,
                __file__,
                "--part",
                part,
                "--ops",
                str(args.ops),
                "--in-flight",
                str(args.in_flight),
                "--repeat",
                str(args.repeat),
                "--mongo-url",
                mongo_url,
            ]
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            results[part] = json.loads(out.strip().splitlines()[-1])
            print(f"{part}: {json.dumps(results[part])}", flush=True)
    load = os.getloadavg()[0]
    results["load_average_1m"] = round(load, 2)
    rows = floor(results, args.mongo_ops, args.events, hops=3)
    print_results(results, rows, args)
    print(f"(1-minute load average at the end: {load:.1f})")
    if args.json:
        print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
