"""The fault suite's stack: the six real processes, each its own `microfinance service NAME`,
and backends this stack alone owns, so a scenario can kill any of them.

* MongoDB and Elasticsearch: the stand-ins (secantusd-py, noida-db) on free ports, MongoDB
  with its data on disk so a restart finds it again;
* Redis: a redis-server of its own on a free port;
* RabbitMQ: the machine's broker (tests/backends.py decides which), reached by the services
  only through a TCP proxy this stack controls (tests/resilience/proxy.py): cutting it is
  "RabbitMQ is unreachable" for this stack and nobody else.

Every service can be SIGKILLed and started again on the same port (``kill``, ``start``).
Its own database name, exchange and key prefix come from tests/up_stack.py's ``up_env``;
``close`` stops everything it started and removes its queues and exchanges from the shared
broker (tests/cleanup.py).

Setup goes through the REST API as an operator would (``seed``: an agent, a product, N
borrowers each with a disbursed loan), and the load is ``RepaymentLoad``: repayments through
the gateway, each with its own Idempotency-Key, retried with the same key as a phone would.
``verify`` then checks the money: every repayment against the loans' transactions, the
payments' outbox, the messages the broker carried and reporting's read models.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from microfinance_cli import backends as launch
from microfinance_cli.backends import RunningBackend
from microfinance_cli.health import wait_until_serving
from microfinance_cli.services import SERVICES, get_service
from shared.config import Settings
from tests.backends import BackendPool
from tests.cleanup import delete_amqp_topology, process_topology
from tests.resilience.proxy import ThreadedProxy
from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD, up_env

PY = sys.executable
REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("mongo", "es", "redis")
AGENT_PASSWORD = "resilience-Agent-Passw0rd"
CURRENCY = "USD"


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.2
) -> None:
    """Polls ``check`` until it is true; TimeoutError naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(every)  # polling another process's progress, bounded above


def settings_of(env: dict[str, str]) -> Settings:
    """The Settings a process started with ``env`` reads (explicit values win over ours)."""
    fields = Settings.model_fields
    values = {k[3:].lower(): v for k, v in env.items() if k.startswith("MF_")}
    return Settings.model_validate({k: v for k, v in values.items() if k in fields})


def _with_host_port(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}{host}:{port}"))


# ================================================================== the processes --
@dataclass
class ServiceProcess:
    name: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Stack:
    """The running stack; make it with ``await Stack.start(workdir)``, end with ``close()``."""

    workdir: Path
    env: dict[str, str]
    amqp_url: str  # the shared broker itself (the services reach it through ``proxy``)
    proxy: ThreadedProxy
    backends: dict[str, RunningBackend] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    own_dir: bool = False  # a temporary directory of ours, removed by close()
    pool: BackendPool | None = None  # where the broker came from (a container is ours to stop)
    _mongo: Any = None

    # --------------------------------------------------------------- lifecycle --
    @classmethod
    async def start(
        cls, workdir: Path | None = None, *, extra_env: dict[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> Stack:
        """Backends, migrations (with the first admin), then the six processes, SERVING."""
        own_dir = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="mf-faults-")) if workdir is None else workdir
        pool = BackendPool()
        amqp_url = pool.url("amqp")  # env URL, Docker, or the loopback broker
        upstream = urlsplit(amqp_url)
        proxy = ThreadedProxy(upstream.hostname or "127.0.0.1", upstream.port or 5672)
        env = up_env(workdir / "data")
        env.update(
            MF_ENV="test",
            MF_LOG_JSON="false",
            PYTHONUNBUFFERED="1",
            MF_AMQP_URL=_with_host_port(amqp_url, "127.0.0.1", proxy.port),
            MF_ADMIN_EMAIL=ADMIN_EMAIL,
            MF_ADMIN_PASSWORD=ADMIN_PASSWORD,
            # No MF_* leaks in from the developer's shell (up_env keeps their broker URLs).
            MF_REDIS_URL=f"redis://127.0.0.1:{launch.free_port()}/0",
            MF_MONGO_URL=f"mongodb://127.0.0.1:{env['MF_EMBEDDED_MONGO_PORT']}/"
            "?directConnection=true",
            MF_ES_URL=f"http://127.0.0.1:{env['MF_EMBEDDED_ES_PORT']}",
            # Each process is started alone here, not by `up`, which would give each its own
            # /metrics port: up_env's one port would be bound by all six.
            MF_METRICS_PORT="0",
        )
        env.update(extra_env or {})
        stack = cls(workdir, env, amqp_url, proxy, own_dir=own_dir, pool=pool)
        try:
            for kind in BACKENDS:
                await stack.start_backend(kind)
            await stack.migrate()
            for svc in SERVICES:
                stack.spawn_service(svc.name)
            await stack.wait_serving(within=ready_timeout)
        except BaseException:
            await stack.close()
            raise
        return stack

    @property
    def settings(self) -> Settings:
        return settings_of(self.env)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MF_GATEWAY_PORT']}"

    @property
    def logs(self) -> Path:
        path = self.workdir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def migrate(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            PY, "-m", "microfinance_cli", "migrate", env=self.env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 180)
        if proc.returncode != 0:
            raise RuntimeError(f"migrate failed ({proc.returncode}):\n{out.decode()}")

    async def close(self) -> None:
        """Stops every process and backend it started; removes its topology on the broker."""
        for name in list(self.services):
            await asyncio.to_thread(self.stop_service, name)
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None
        for kind in reversed(list(self.backends)):
            await asyncio.to_thread(self.backends.pop(kind).stop)
        self.proxy.close()
        queues, exchanges = process_topology(self.settings)
        with contextlib.suppress(Exception):
            await delete_amqp_topology(self.amqp_url, queues=queues, exchanges=exchanges)
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close)
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---------------------------------------------------------------- services --
    async def start_service(self, name: str, *, wait: bool = True, within: float = 60) -> None:
        """``microfinance service NAME`` on its port; waits until it is SERVING."""
        self.spawn_service(name)
        if wait:
            await self.wait_serving([name], within=within)

    def spawn_service(self, name: str) -> ServiceProcess:
        """Starts the process without waiting for it (its output goes to logs/NAME.log)."""
        svc = get_service(name)
        proc = self.services.get(svc.name) or ServiceProcess(svc.name, self.logs / f"{name}.log")
        self.services[svc.name] = proc
        if proc.pid is not None:
            raise RuntimeError(f"{name} is running already (pid {proc.pid})")
        if proc._log is None:
            proc._log = proc.log_path.open("ab")
        proc._log.write(f"---- start {proc.starts + 1} ----\n".encode())
        proc._log.flush()
        proc.proc = subprocess.Popen(
            [PY, "-m", "microfinance_cli", "service", svc.name],
            env=self.env, cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=proc._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        proc.starts += 1
        return proc

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Signals the service's process (SIGKILL: no shutdown at all); returns its pid."""
        proc = self.services[get_service(name).name]
        pid = proc.pid
        if pid is None or proc.proc is None:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, sig)
        proc.proc.wait(timeout=30)
        proc.kills += 1
        return pid

    async def restart(self, name: str, *, sig: signal.Signals = signal.SIGKILL) -> None:
        await asyncio.to_thread(self.kill, name, sig)
        await self.start_service(name)

    def stop_service(self, name: str, timeout: float = 20) -> None:
        proc = self.services[name]
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.send_signal(signal.SIGTERM)
            try:
                proc.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.proc.kill()
                proc.proc.wait()
        if proc._log is not None:
            proc._log.close()
            proc._log = None

    async def wait_serving(self, names: Iterable[str] | None = None, within: float = 120) -> None:
        wanted = [get_service(n) for n in names] if names else list(SERVICES)
        task = asyncio.ensure_future(wait_until_serving(wanted, self.settings, within))
        while not task.done():
            for svc in wanted:
                proc = self.services.get(svc.name)
                if proc is not None and proc.proc is not None and proc.proc.poll() is not None:
                    task.cancel()
                    raise RuntimeError(
                        f"{svc.name} exited ({proc.proc.returncode}) while starting:\n"
                        + proc.log_tail()
                    )
            await asyncio.wait({task}, timeout=0.2)
        task.result()

    async def dead_lettered(self) -> int:
        """Messages waiting in the stack's dead-letter queues (events given up on)."""
        import aio_pika

        queues, _ = process_topology(self.settings)
        total = 0
        connection = await aio_pika.connect(self.amqp_url, timeout=10)
        try:
            for name in (q for q in queues if q.endswith(".dead")):
                channel = await connection.channel()
                with contextlib.suppress(Exception):  # not declared (yet): nothing in it
                    queue = await channel.declare_queue(name, passive=True)
                    total += int(queue.declaration_result.message_count or 0)
                with contextlib.suppress(Exception):
                    await channel.close()
        finally:
            await connection.close()
        return total

    # ---------------------------------------------------------------- backends --
    async def start_backend(self, kind: str) -> None:
        """Starts (or starts again, on the same port and data) "mongo", "es" or "redis"."""
        if kind in self.backends and self.backends[kind].alive():
            raise RuntimeError(f"{kind} is running already")
        data = self.workdir / "data"
        log = self.logs / f"{kind}.log"
        if kind == "mongo":
            port = int(self.env["MF_EMBEDDED_MONGO_PORT"])
            run = lambda: launch.start_mongo_substitute(data / "mongo", port=port, log_file=log)  # noqa: E731
        elif kind == "es":
            port = int(self.env["MF_EMBEDDED_ES_PORT"])
            run = lambda: launch.start_es_substitute(  # noqa: E731
                data / "elasticsearch", port=port, log_file=log
            )
        elif kind == "redis":
            url = self.env["MF_REDIS_URL"]
            run = lambda: launch.start_local_redis(data / "redis", url, log_file=log)  # noqa: E731
        else:
            raise ValueError(f"unknown backend {kind!r}; one of {BACKENDS}")
        await _free_again(self.backend_port(kind))
        self.backends[kind] = await asyncio.to_thread(run)

    def backend_port(self, kind: str) -> int:
        url = {"mongo": "MF_MONGO_URL", "es": "MF_ES_URL", "redis": "MF_REDIS_URL"}[kind]
        return urlsplit(self.env[url]).port or 0

    def stop_backend(self, kind: str, *, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stops a backend: SIGTERM lets it shut down (noida-db then saves its data), SIGKILL
        does not. ``start_backend`` brings it back."""
        backend = self.backends[kind]
        if sig == signal.SIGKILL and backend.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(backend.process.pid, signal.SIGKILL)
            backend.process.wait(timeout=30)
        backend.stop()

    # ----------------------------------------------------------------- data --
    @property
    def mongo(self) -> Any:
        """An async MongoDB client to this stack's stand-in (made once)."""
        if self._mongo is None:
            from shared.mongo import create_mongo_client

            self._mongo = create_mongo_client(self.env["MF_MONGO_URL"], app_name="mf-faults")
        return self._mongo

    def db(self, service: str) -> Any:
        return self.mongo[f"{self.env['MF_MONGO_DB']}_{service}"]


async def _free_again(port: int, within: float = 15) -> None:
    async def free() -> bool:
        return not await asyncio.to_thread(launch.port_open, "127.0.0.1", port, 0.2)

    await eventually(free, within=within, what=f"port {port} free again")


# ===================================================================== setup --
@dataclass
class Seed:
    admin: dict[str, str]  # headers
    agent: dict[str, str]
    agent_id: str
    product_id: str
    loans: list[str]


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _letters(n: int) -> str:
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)).title()


async def _ok(response: httpx.Response, *expected: int) -> dict[str, Any]:
    if response.status_code not in (expected or (200, 201)):
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    body = await _ok(
        await client.post("/api/v1/auth/login", json={"username": email, "password": password})
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


async def seed(stack: Stack, loans: int, *, principal: int = 500_000, parallel: int = 8) -> Seed:
    """Through the REST API: an agent, a weekly product, ``loans`` borrowers (KYC verified),
    each with a loan of ``principal`` minor units, approved and disbursed today."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as c:
        admin = await login(c, ADMIN_EMAIL, ADMIN_PASSWORD)
        email = f"agent-{uuid.uuid4().hex[:8]}@faults.example.org"
        first = "first-Login-2026-x"
        staff = await _ok(await c.post("/api/v1/staff", headers=admin, json={
            "role": "AGENT", "full_name": "Fault Agent", "email": email,
            "branch_id": "FLT-1", "initial_password": first,
        }))
        agent = await login(c, email, first)
        changed = await _ok(await c.post("/api/v1/auth/password", headers=agent, json={
            "old_password": first, "new_password": AGENT_PASSWORD,
        }))
        agent = {"Authorization": f"Bearer {changed['access_token']}"}
        product = await _ok(await c.post("/api/v1/loan-products", headers=admin, json={
            "code": f"FLT-{uuid.uuid4().hex[:8].upper()}", "name": "Fault weekly",
            "currency": CURRENCY,
            "principal_min": {"amount_minor": 10_000, "currency": CURRENCY},
            "principal_max": {"amount_minor": 10_000_000, "currency": CURRENCY},
            "installments_min": 4, "installments_max": 52, "frequency": "WEEKLY",
            "interest_method": "FLAT", "amortization": "EQUAL_INSTALLMENTS", "annual_rate": "24",
        }))
        gate = asyncio.Semaphore(parallel)

        async def one(i: int) -> str:
            async with gate:
                borrower = await _ok(await c.post("/api/v1/borrowers", headers=agent, json={
                    "first_name": "Fault", "last_name": _letters(8),
                    "date_of_birth": "1990-04-12", "phone": f"+2547{_digits(8)}",
                    "nationality": "KE",
                    "identity_documents": [{"type": "NATIONAL_ID", "number": f"7{_digits(7)}"}],
                }))
                await _ok(await c.post(
                    f"/api/v1/borrowers/{borrower['id']}/kyc", headers=admin,
                    json={"status": "VERIFIED", "note": "seen"},
                ))
                loan = await _ok(await c.post("/api/v1/loans", headers=agent, json={
                    "borrower_id": borrower["id"], "product_id": product["id"],
                    "principal": {"amount_minor": principal, "currency": CURRENCY},
                    "installments": 12,
                }))
                await _ok(await c.post(f"/api/v1/loans/{loan['id']}/approve", headers=admin))
                await _ok(await c.post(
                    f"/api/v1/loans/{loan['id']}/disburse", headers=admin, json={}
                ))
                return str(loan["id"])

        ids = list(await asyncio.gather(*(one(i) for i in range(loans))))
    return Seed(admin, agent, str(staff["id"]), str(product["id"]), ids)


# ====================================================================== load --
RETRYABLE = frozenset({202, 429, 500, 502, 503, 504})


@dataclass
class Posting:
    """One repayment as the client saw it: one key, every attempt's status."""

    key: str
    loan_id: str
    amount: int
    started: float = 0.0  # monotonic
    finished: float = 0.0
    statuses: list[int | str] = field(default_factory=list)
    payment_id: str = ""

    @property
    def final(self) -> int | str:
        return self.statuses[-1] if self.statuses else "not sent"

    @property
    def acknowledged(self) -> bool:
        """The client was told it is posted (201, or 200 for a replay)."""
        return self.final in (200, 201)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class RepaymentLoad:
    """``count`` repayments over the seed's loans, ``concurrency`` in flight.

    A client retries with the same key and body after a transport error, a 5xx, a 429, a
    409 ABORTED or a 202 (still pending), backing off from 0.2 s to 2 s, for up to
    ``give_up_after`` seconds; any other answer is final. ``done`` counts finished postings;
    ``until(n)`` waits for n of them.
    """

    gateway_url: str
    headers: dict[str, str]
    loans: list[str]
    count: int
    concurrency: int = 16
    amount: int = 100
    give_up_after: float = 300.0
    postings: list[Posting] = field(default_factory=list)
    done: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0

    async def run(self) -> list[Posting]:
        self.postings = [
            Posting(uuid.uuid4().hex, self.loans[i % len(self.loans)], self.amount)
            for i in range(self.count)
        ]
        todo: asyncio.Queue[Posting] = asyncio.Queue()
        for p in self.postings:
            todo.put_nowait(p)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self.started_at = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self.gateway_url, limits=limits, timeout=30.0
        ) as client:

            async def worker() -> None:
                while not todo.empty():
                    posting = todo.get_nowait()
                    await self._post(client, posting)
                    self.done += 1

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        self.finished_at = time.monotonic()
        return self.postings

    async def _post(self, client: httpx.AsyncClient, p: Posting) -> None:
        body = {
            "loan_id": p.loan_id,
            "amount": {"amount_minor": p.amount, "currency": CURRENCY},
            "channel": "CASH",
        }
        headers = {**self.headers, "Idempotency-Key": p.key}
        p.started = time.monotonic()
        delay = 0.2
        while True:
            try:
                r = await client.post("/api/v1/payments", json=body, headers=headers)
                status: int | str = r.status_code
                if r.status_code in (200, 201, 202):
                    p.payment_id = str(r.json().get("id", "")) or p.payment_id
                retry = r.status_code in RETRYABLE or (
                    r.status_code == 409 and _error_code(r) == "ABORTED"
                )
            except httpx.TransportError as exc:
                status, retry = type(exc).__name__, True
            p.statuses.append(status)
            if not retry or time.monotonic() - p.started > self.give_up_after:
                break
            await asyncio.sleep(delay)  # a client's backoff before sending the same again
            delay = min(delay * 2, 2.0)
        p.finished = time.monotonic()

    async def until(self, done: int, within: float = 300) -> None:
        async def reached() -> bool:
            return self.done >= done

        await eventually(reached, within=within, what=f"{done} repayments answered", every=0.05)


def _error_code(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(response.json()["error"]["code"])
    return ""


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def latency_ms(postings: Iterable[Posting], start: float, end: float, *, overlap: bool = False
               ) -> tuple[float | None, float | None, int]:
    """p50, p99 (ms, first attempt to final answer) and count of the postings that ran
    within [start, end] (``overlap``: that were in flight at any moment of it)."""
    if overlap:
        picked = [p for p in postings if p.finished and p.started < end and p.finished > start]
    else:
        picked = [p for p in postings if p.finished and p.started >= start and p.finished <= end]
    ms = [p.seconds * 1000 for p in picked]
    return percentile(ms, 50), percentile(ms, 99), len(ms)


# ================================================================ observation --
class Observer:
    """A queue of our own on the shared broker (never through the proxy), bound to the
    stack's exchange: counts every message published with the given routing keys, by
    message id (the event id), duplicates included."""

    def __init__(self, amqp_url: str, exchange: str, keys: Iterable[str] = ("payment.#",)):
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.keys = tuple(keys)
        self.seen: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.aggregates: dict[str, str] = {}  # message id -> aggregate id
        self._connection: Any = None
        self.queue_name = f"{exchange}.faults-observer.{uuid.uuid4().hex[:6]}"

    async def __aenter__(self) -> Observer:
        import aio_pika

        self._connection = await aio_pika.connect_robust(self.amqp_url, timeout=10)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        for key in self.keys:
            await queue.bind(exchange, routing_key=key)
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def _on_message(self, message: Any) -> None:
        import json

        mid = str(message.message_id or "")
        self.seen[mid] += 1
        self.by_type[str(message.routing_key)] += 1
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.aggregates[mid] = str(json.loads(message.body)["aggregate_id"])

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()
        await delete_amqp_topology(self.amqp_url, queues=[self.queue_name], exchanges=[])


# ============================================================== money checks --
@dataclass
class MoneyCheck:
    """What the stores hold for a load's repayments, and what is wrong with it."""

    figures: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    double_posted: int = 0
    problems: list[str] = field(default_factory=list)


async def settled(stack: Stack, loans: list[str], within: float = 180) -> None:
    """Waits until no payment on ``loans`` is PENDING (the recovery loop finishes them)."""
    payments = stack.db("payment")["payments"]

    async def none_pending() -> bool:
        pending = await payments.count_documents({"loan_id": {"$in": loans}, "status": "PENDING"})
        return bool(pending == 0)

    await eventually(none_pending, within=within, what="every payment settled")


async def verify(
    stack: Stack, postings: list[Posting], loans: list[str], *,
    observer: Observer | None = None, within: float = 180, dead_before: int | None = None,
) -> MoneyCheck:
    """Sums the repayments against the loans' transactions, the outbox, the published
    messages (``observer``) and reporting's read models; waits (up to ``within`` s) for the
    asynchronous parts to catch up before it counts. With ``dead_before`` (the stack's
    ``dead_lettered()`` when the scenario began), an event given up on is a problem too."""
    check = MoneyCheck()
    f = check.figures
    with contextlib.suppress(TimeoutError):
        await settled(stack, loans, within)
    payments = {d["_id"]: d async for d in stack.db("payment")["payments"].find(
        {"loan_id": {"$in": loans}})}
    by_key = Counter(d["idempotency_key"] for d in payments.values())
    status = Counter(d["status"] for d in payments.values())
    posted = {pid: d for pid, d in payments.items() if d["status"] == "POSTED"}
    f["payments"] = len(payments)
    f.update({f"payments_{k.lower()}": v for k, v in status.items()})
    f["posted_minor"] = sum(int(d["amount_minor"]) for d in posted.values())

    txns: dict[str, list[dict[str, Any]]] = {}
    async for loan in stack.db("loan")["loans"].find({"_id": {"$in": loans}}, {"transactions": 1}):
        for t in loan.get("transactions", []):
            if t["type"] in ("REPAYMENT", "RECOVERY") and t.get("payment_id"):
                txns.setdefault(t["payment_id"], []).append(t)
    f["loan_repayments"] = sum(len(v) for v in txns.values())
    f["loan_repaid_minor"] = sum(int(t["amount"]) for v in txns.values() for t in v)

    # Lost: the client was told "posted", or the payment says POSTED, but the loan lacks it;
    # or a payment is still PENDING (half-written) after the wait.
    acked = [p for p in postings if p.acknowledged]
    f["requests"] = len(postings)
    f["acknowledged"] = len(acked)
    keys_posted = {d["idempotency_key"] for d in posted.values() if d["_id"] in txns}
    lost_acked = [p.key for p in acked if p.key not in keys_posted]
    lost_posted = [pid for pid in posted if pid not in txns]
    pending = status.get("PENDING", 0)
    check.lost = len(set(lost_acked)) + len(lost_posted) + pending
    if lost_acked:
        check.problems.append(f"{len(lost_acked)} acknowledged repayments not on their loan")
    if lost_posted:
        check.problems.append(f"{len(lost_posted)} POSTED payments missing from their loan")
    if pending:
        check.problems.append(f"{pending} payments still PENDING after {within:.0f} s")

    # Double-posted: one key, two payments; one payment, two loan transactions; a loan
    # transaction with no POSTED payment behind it.
    twice_key = sum(n - 1 for n in by_key.values() if n > 1)
    twice_txn = sum(len(v) - 1 for v in txns.values() if len(v) > 1)
    orphan = [pid for pid in txns if pid not in posted]
    check.double_posted = twice_key + twice_txn + len(orphan)
    if twice_key:
        check.problems.append(f"{twice_key} idempotency keys with more than one payment")
    if twice_txn:
        check.problems.append(f"{twice_txn} payments applied more than once to a loan")
    if orphan:
        check.problems.append(f"{len(orphan)} loan repayments without a POSTED payment")
    if f["loan_repaid_minor"] != f["posted_minor"]:
        check.problems.append(
            f"loans took {f['loan_repaid_minor']} minor units, POSTED payments say "
            f"{f['posted_minor']}"
        )

    # The outbox: every POSTED payment holds exactly one payment.posted, and it went out.
    def outbox_of(kind: str, state: str | None = None) -> int:
        return sum(
            1 for d in posted.values() for e in d.get("outbox") or []
            if e.get("type") == kind and (state is None or e.get("status") == state)
        )

    async def all_sent() -> bool:
        nonlocal posted
        fresh = stack.db("payment")["payments"].find({"_id": {"$in": list(posted)}})
        posted = {d["_id"]: d async for d in fresh}
        return outbox_of("payment.posted", "pending") == 0

    with contextlib.suppress(TimeoutError):
        await eventually(all_sent, within=within, what="outbox drained")
    f["outbox_posted_events"] = outbox_of("payment.posted")
    f["outbox_unsent"] = outbox_of("payment.posted", "pending")
    if f["outbox_posted_events"] != len(posted):
        check.problems.append(
            f"{f['outbox_posted_events']} payment.posted events in the outbox for "
            f"{len(posted)} POSTED payments"
        )
    if f["outbox_unsent"]:
        check.problems.append(f"{f['outbox_unsent']} payment.posted events never published")
    posted_ids = {
        e["_id"] for d in posted.values() for e in d.get("outbox") or []
        if e.get("type") == "payment.posted"
    }

    if observer is not None:
        async def all_seen() -> bool:
            return posted_ids <= set(observer.seen)

        with contextlib.suppress(TimeoutError):
            await eventually(all_seen, within=within, what="every payment.posted published")
        f["published_distinct"] = len(posted_ids & set(observer.seen))
        f["published_messages"] = sum(observer.seen[i] for i in posted_ids)
        f["published_again"] = f["published_messages"] - f["published_distinct"]
        if f["published_distinct"] != len(posted_ids):
            check.problems.append(
                f"{len(posted_ids) - f['published_distinct']} payment.posted events never "
                "reached the exchange"
            )

    # Reporting: each payment.posted logged once, and the money (from loan.repayment_applied)
    # in its collections read model equal to the loans'.
    reporting = stack.db("reporting")

    async def reporting_caught_up() -> bool:
        logged = await reporting["event_log"].count_documents(
            {"type": "payment.posted", "body.aggregate_id": {"$in": list(posted)}}
        )
        held = await _collected(reporting, loans)
        return logged >= len(posted) and held[0] >= f["loan_repayments"]

    with contextlib.suppress(TimeoutError):
        await eventually(reporting_caught_up, within=within, what="reporting caught up")
    per_payment: Counter[str] = Counter()
    async for doc in reporting["event_log"].find(
        {"type": "payment.posted", "body.aggregate_id": {"$in": list(posted)}},
        {"body.aggregate_id": 1},
    ):
        per_payment[doc["body"]["aggregate_id"]] += 1
    f["reporting_posted_events"] = sum(per_payment.values())
    f["reporting_collections"], f["reporting_collected_minor"] = await _collected(
        reporting, loans
    )
    twice_reported = sum(n - 1 for n in per_payment.values() if n > 1)
    if twice_reported:
        check.double_posted += twice_reported
        check.problems.append(f"{twice_reported} payments reached reporting twice")
    if len(per_payment) != len(posted):
        check.problems.append(
            f"reporting logged {len(per_payment)} of {len(posted)} payment.posted events"
        )
    if f["reporting_collected_minor"] != f["loan_repaid_minor"]:
        check.problems.append(
            f"reporting holds {f['reporting_collected_minor']} minor units collected, the "
            f"loans {f['loan_repaid_minor']}"
        )
    if dead_before is not None:
        f["dead_lettered"] = await stack.dead_lettered() - dead_before
        if f["dead_lettered"]:
            check.problems.append(f"{f['dead_lettered']} events dead-lettered (given up on)")
    return check


async def _collected(reporting: Any, loans: list[str]) -> tuple[int, int]:
    count = total = 0
    async for doc in reporting["collections"].find(
        {"loan_id": {"$in": loans}, "reversed": {"$ne": True}}, {"amount": 1}
    ):
        count += 1
        total += int(doc.get("amount", 0))
    return count, total
