"""Two replicas of every process under load: nothing done twice, nothing lost.

`microfinance up --replicas 2` runs two of each service and two gateways. The test sets up
staff, a product, borrowers and disbursed loans through the REST API, then posts repayments
concurrently through both gateways, some keys sent twice at once (once to each gateway),
and counts:

- one stored payment per distinct Idempotency-Key, each POSTED, each applied to its loan
  exactly once (the loan's transactions), for the amount posted;
- every event in the services' outboxes published exactly once on the stack's exchange
  (a queue of the test's own, bound before anything is written, sees each event id once
  and none missing), and nothing dead-lettered;
- reporting's collections total equals the sum posted;
- both replicas of payment_service and loan_service served a share of the load (their
  prefixed `rpc ...` log lines).

MF_RESILIENCE_FULL=1 runs a bigger load (more loans, payments and repeated keys).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.config import Settings
from shared.events.envelope import Event
from tests.cleanup import process_topology
from tests.resilience.registry import ScenarioResult
from tests.resilience.rows import write_row
from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD, UpProcess

pytestmark = pytest.mark.e2e

FULL = os.environ.get("MF_RESILIENCE_FULL") == "1"
LOANS = 60 if FULL else 16
PAYMENTS = 2000 if FULL else 320  # distinct Idempotency-Keys
REPEATED = 300 if FULL else 60  # of which sent twice at once, once to each gateway
IN_FLIGHT = 16  # concurrent requests
AMOUNT = 700  # minor units, per repayment: far below what a loan owes
SERVICES = ("auth", "user", "loan", "payment", "reporting")
T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float, what: str
) -> T:
    """``check()`` until it returns something other than None (a poll with a deadline)."""
    deadline = time.monotonic() + within
    interval = 0.1
    while True:
        result = await check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {within:.0f}s: {what}")
        await asyncio.sleep(interval)  # a poll interval, bounded by the deadline
        interval = min(interval * 2, 1.0)


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _letters(n: int) -> str:
    """``n`` spelt in letters (names take no digits): 0 -> a, 27 -> bb."""
    return "".join("abcdefghij"[int(d)] for d in str(n))


def ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), (
        f"{response.request.method} {response.request.url}: "
        f"{response.status_code} {response.text[:500]}"
    )
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Api:
    """One client per gateway; ``next()`` takes them in turn."""

    clients: list[httpx.AsyncClient]
    _turn: itertools.cycle[int] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.clients)))

    def next(self) -> httpx.AsyncClient:
        return self.clients[next(self._turn)]


@dataclass
class EventTap:
    """Every message on the stack's exchange, from a queue of our own bound to ``#``."""

    seen: list[Event] = field(default_factory=list)

    def ids(self) -> collections.Counter[str]:
        return collections.Counter(e.id for e in self.seen)

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.seen if e.type == kind]


@contextlib.asynccontextmanager
async def tap(amqp_url: str, exchange: str) -> AsyncIterator[EventTap]:
    found = EventTap()
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        # Server-named, exclusive: it goes with the connection.
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(ex, routing_key="#")

        async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            found.seen.append(Event.from_bytes(message.body))
            await message.ack()

        await queue.consume(take)
        yield found
    finally:
        await connection.close()


async def outbox_ids(db: Any) -> set[str]:
    """The ids of every event in a service's database: its outbox collection and the
    events kept in payment documents (loans drop theirs once sent; counted by type)."""
    ids = {str(d["_id"]) async for d in db["outbox"].find({}, {"_id": 1})}
    async for doc in db["payments"].find({"outbox": {"$exists": True}}, {"outbox._id": 1}):
        ids |= {str(e["_id"]) for e in doc.get("outbox") or ()}
    return ids


async def pending_events(db: Any) -> int:
    pending = int(await db["outbox"].count_documents({"status": "PENDING"}))
    for name in ("payments", "loans"):
        pending += await db[name].count_documents({"outbox_next": {"$exists": True}})
    return pending


@dataclass
class World:
    admin: dict[str, str]
    agent: dict[str, str]
    loans: list[str]


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    credentials = {"username": email, "password": password}
    body = ok(await client.post("/api/v1/auth/login", json=credentials))
    return {"Authorization": f"Bearer {body['access_token']}"}


async def build_world(api: Api, run: str) -> World:
    """An agent, a product, LOANS borrowers (KYC verified) each with a disbursed loan."""
    admin = await login(api.next(), ADMIN_EMAIL, ADMIN_PASSWORD)
    email = f"agent-{run}@replicas.example"
    ok(await api.next().post("/api/v1/staff", headers=admin, json={
        "role": "AGENT", "full_name": "Replica Agent", "email": email, "branch_id": "NBO-1",
        "initial_password": "first-Login-2026",
    }))
    first = await login(api.next(), email, "first-Login-2026")
    changed = ok(await api.next().post("/api/v1/auth/password", headers=first, json={
        "old_password": "first-Login-2026", "new_password": "a-Much-Better-one-9",
    }))
    agent = {"Authorization": f"Bearer {changed['access_token']}"}
    product = ok(await api.next().post("/api/v1/loan-products", headers=admin, json={
        "code": f"REP-{run}".upper(), "name": "Replicas weekly", "currency": "USD",
        "principal_min": {"amount_minor": 10000, "currency": "USD"},
        "principal_max": {"amount_minor": 5000000, "currency": "USD"},
        "installments_min": 4, "installments_max": 26, "frequency": "WEEKLY",
        "interest_method": "FLAT", "amortization": "EQUAL_INSTALLMENTS", "annual_rate": "52",
    }))["id"]
    limit = asyncio.Semaphore(8)

    async def one_loan(n: int) -> str:
        async with limit:
            borrower = ok(await api.next().post("/api/v1/borrowers", headers=agent, json={
                "first_name": "Replica", "last_name": f"Borrower {_letters(n)}",
                "date_of_birth": "1990-04-12", "phone": f"+2547{_digits(8)}",
                "nationality": "KE",
                "identity_documents": [{"type": "NATIONAL_ID", "number": f"9{_digits(7)}"}],
            }))["id"]
            ok(await api.next().post(f"/api/v1/borrowers/{borrower}/kyc", headers=admin,
                                     json={"status": "VERIFIED", "note": "seen"}))
            loan = ok(await api.next().post("/api/v1/loans", headers=agent, json={
                "borrower_id": borrower, "product_id": product, "installments": 6,
                "principal": {"amount_minor": 3000000, "currency": "USD"},
            }))["id"]
            ok(await api.next().post(f"/api/v1/loans/{loan}/approve", headers=admin))
            ok(await api.next().post(f"/api/v1/loans/{loan}/disburse", headers=admin, json={}))
            return str(loan)

    loans = await asyncio.gather(*(one_loan(n) for n in range(LOANS)))
    return World(admin, agent, list(loans))


@dataclass
class Posted:
    keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> loan
    answers: collections.Counter[int] = field(default_factory=collections.Counter)
    payment_of_key: dict[str, set[str]] = field(default_factory=dict)


async def post_repayments(api: Api, world: World) -> Posted:
    """PAYMENTS keys over the loans, through both gateways; REPEATED of them sent twice at
    once, one copy to each gateway. A 202 (still pending), 503 or 504 is sent again with the
    same key, as a client would."""
    posted = Posted()
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def send(client: httpx.AsyncClient, key: str, loan: str) -> None:
        body = {"loan_id": loan, "amount": {"amount_minor": AMOUNT, "currency": "USD"},
                "channel": "CASH"}
        headers = {**world.agent, "Idempotency-Key": key}
        deadline: float | None = None  # from the first answer, not from the queue
        while True:
            async with limit:
                response = await client.post("/api/v1/payments", headers=headers, json=body)
            deadline = deadline or time.monotonic() + 60
            posted.answers[response.status_code] += 1
            if response.status_code in (200, 201):
                posted.payment_of_key.setdefault(key, set()).add(response.json()["id"])
                return
            # Pending, or a deadline passed on a loaded machine: the same key again is safe.
            assert response.status_code in (202, 503, 504), response.text[:500]
            assert time.monotonic() < deadline, f"key {key} still {response.status_code}"
            await asyncio.sleep(0.2)  # the client's back-off before it asks again

    sends: list[Awaitable[None]] = []
    for n in range(PAYMENTS):
        key, loan = str(uuid.uuid4()), world.loans[n % len(world.loans)]
        posted.keys[key] = loan
        if n < REPEATED:
            sends += [send(client, key, loan) for client in api.clients]
        else:
            sends.append(send(api.next(), key, loan))
    await asyncio.gather(*sends)
    return posted


def served(lines: list[str], process: str, rpc: str) -> int:
    """How many `rpc <method> OK` lines the process ``process`` (e.g. loan.2) logged."""
    pattern = re.compile(rf"^{re.escape(process)}\s+\|.*rpc \S*/{rpc} OK")
    return sum(1 for line in lines if pattern.search(line))


@pytest.mark.timeout(1200 if FULL else 300)
async def test_two_replicas_of_everything_do_nothing_twice_and_lose_nothing(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    up = UpProcess.start(tmp_path, "--stop-timeout", "20", replicas=2)
    try:
        up.read_until(up.serving_marker, 240)
        ready = time.monotonic()
        await check_the_stack(up, started, ready)
    finally:
        up.stop()
        # Every process's log, prefixed, for a failure to be read after the run.
        (tmp_path / "up.log").write_text("\n".join(up.collect()) + "\n", encoding="utf-8")


async def check_the_stack(up: UpProcess, started: float, ready: float) -> None:
    env = up.env
    defaults = Settings()
    amqp_url = env.get("MF_AMQP_URL", defaults.amqp_url)
    mongo = AsyncMongoClient[dict[str, Any]](
        f"mongodb://127.0.0.1:{up.port('embedded_mongo_port')}/?directConnection=true"
    )
    dbs = {name: mongo[f"{env['MF_MONGO_DB']}_{name}"] for name in SERVICES}
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in up.gateway_urls]
    api = Api(clients)
    try:
        async with tap(amqp_url, env["MF_AMQP_EXCHANGE"]) as events:
            before: set[str] = set()
            for db in dbs.values():
                before |= await outbox_ids(db)
            world = await build_world(api, uuid.uuid4().hex[:8])
            built = time.monotonic()
            posted = await post_repayments(api, world)
            loaded = time.monotonic()
            figures = await count_everything(up, dbs, events, before, world, posted, api)
            settled = time.monotonic()
    finally:
        for client in clients:
            await client.aclose()
        await mongo.close()
    write_row(
        ScenarioResult(
            name="replicas",
            title="Two replicas of every process",
            size="full" if FULL else "fast",
            load=(
                f"{PAYMENTS + REPEATED:,} posts through both gateways ({PAYMENTS:,} keys, "
                f"{REPEATED} of them sent twice at once, once to each gateway), {IN_FLIGHT} in "
                f"flight, {LOANS} loans"
            ),
            fault=(
                "none injected: `up --replicas 2` runs two of each of the six processes, so "
                "relays, recovery, consumers and end of day compete for the same work"
            ),
            requests=PAYMENTS,
            attempts=sum(posted.answers.values()),
            succeeded=PAYMENTS,
            attempt_statuses={str(k): v for k, v in posted.answers.items()},
            figures={"checks": figures},
            seconds=settled - started,
        )
    )
    print(
        f"\nreplicas=2 loans={LOANS} keys={PAYMENTS} repeated={REPEATED}: "
        f"up {ready - started:.1f}s, setup {built - ready:.1f}s, "
        f"{PAYMENTS + REPEATED} posts in {loaded - built:.1f}s "
        f"({(PAYMENTS + REPEATED) / (loaded - built):.0f}/s), settled {settled - loaded:.1f}s; "
        f"answers {dict(posted.answers)}; {figures}"
    )


async def count_everything(
    up: UpProcess,
    dbs: dict[str, Any],
    events: EventTap,
    before: set[str],
    world: World,
    posted: Posted,
    api: Api,
) -> str:
    payments = dbs["payment"]["payments"]
    ours = {"idempotency_key": {"$in": list(posted.keys)}}
    t0 = time.monotonic()
    waited: dict[str, float] = {}

    async def all_posted() -> list[dict[str, Any]] | None:
        docs = await payments.find(ours).to_list(None)
        return docs if all(d["status"] == "POSTED" for d in docs) else None

    docs = await eventually(all_posted, 60, "every payment POSTED")
    waited["posted"] = time.monotonic() - t0
    # One payment per distinct key, and every answer for a key named that payment.
    assert len(docs) == len(posted.keys) == PAYMENTS
    assert {d["idempotency_key"] for d in docs} == set(posted.keys)
    by_key = {d["idempotency_key"]: str(d["_id"]) for d in docs}
    assert all(ids == {by_key[k]} for k, ids in posted.payment_of_key.items())
    payment_ids = set(by_key.values())

    # Each payment applied to its loan exactly once, for its amount.
    loan_of = {str(d["_id"]): str(d["loan_id"]) for d in docs}
    applied: collections.Counter[str] = collections.Counter()
    async for loan in dbs["loan"]["loans"].find({"_id": {"$in": world.loans}}):
        for txn in loan["transactions"]:
            if txn.get("payment_id"):
                applied[txn["payment_id"]] += 1
                assert txn["amount"] == AMOUNT
                assert loan_of[txn["payment_id"]] == loan["_id"]
    assert set(applied) == payment_ids
    assert max(applied.values()) == 1, applied.most_common(3)

    # Every event of every outbox published, and each exactly once.
    async def drained() -> bool | None:
        pending = [await pending_events(db) for db in dbs.values()]
        return True if not any(pending) else None

    await eventually(drained, 60, "every outbox drained")
    waited["drained"] = time.monotonic() - t0
    expected: set[str] = set()
    for db in dbs.values():
        expected |= await outbox_ids(db)
    expected -= before

    async def all_seen() -> bool | None:
        return True if expected <= set(events.ids()) else None

    await eventually(all_seen, 30, "every outbox event on the exchange")
    waited["seen"] = time.monotonic() - t0
    counts = events.ids()
    twice = [i for i, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} events published more than once: {twice[:5]}"
    unknown = set(counts) - expected - before
    # Loans drop their sent events: those are checked by what they say instead.
    unknown_types = collections.Counter(e.type for e in events.seen if e.id in unknown)
    assert set(unknown_types) <= {
        "loan.submitted", "loan.approved", "loan.disbursed", "loan.repayment_applied",
    }, unknown_types
    repaid = collections.Counter(
        e.payload["payment_id"] for e in events.of_type("loan.repayment_applied")
    )
    assert set(repaid) == payment_ids
    assert max(repaid.values()) == 1
    for kind in ("loan.submitted", "loan.approved", "loan.disbursed"):
        per_loan = collections.Counter(e.aggregate_id for e in events.of_type(kind))
        assert set(per_loan) == set(world.loans), kind
        assert max(per_loan.values()) == 1, kind
    paid = collections.Counter(e.aggregate_id for e in events.of_type("payment.posted"))
    assert set(paid) == payment_ids
    assert max(paid.values()) == 1
    dead = await dead_letters(up)
    assert not any(dead.values()), dead

    # Reporting saw each repayment once.
    total = PAYMENTS * AMOUNT

    async def reported() -> dict[str, Any] | None:
        body = ok(await api.next().get("/api/v1/reports/collections", headers=world.admin))
        usd = [t for t in body["totals"] if t["currency"] == "USD"]
        if usd and usd[0]["payment_count"] == PAYMENTS:
            return dict(usd[0])
        return None

    row = await eventually(reported, 60, f"reporting's collections count {PAYMENTS}")
    waited["reported"] = time.monotonic() - t0
    assert row["collected_amount"]["amount_minor"] == total

    # The load reached both replicas of the payment and loan services.
    up.collect()
    shares = {
        name: served(up.seen, name, rpc)
        for name, rpc in (
            ("payment.1", "PostPayment"), ("payment.2", "PostPayment"),
            ("loan.1", "ApplyRepayment"), ("loan.2", "ApplyRepayment"),
        )
    }
    for name, count in shares.items():
        assert count >= PAYMENTS // 10, f"{name} served {count}: {shares}"
    # Retried work (write conflicts between replicas, mostly): counted, not failed.
    retried = sum(1 for line in up.seen if "will retry" in line or "one at a time" in line)
    return (
        f"payments {len(docs)} (distinct keys {len(posted.keys)}), applied once each "
        f"{len(applied)}, events {len(counts)} seen / {len(expected)} in outboxes + "
        f"{sum(unknown_types.values())} loan events, duplicates {len(twice)}, "
        f"dead-lettered {sum(dead.values())}, reported {row['payment_count']} = "
        f"{row['collected_amount']['amount_minor']}; served {shares}; "
        f"retried {retried}; settled after (s) "
        + ", ".join(f"{k} {v:.1f}" for k, v in waited.items())
    )


async def dead_letters(up: UpProcess) -> dict[str, int]:
    """Messages in each dead-letter queue of the stack."""
    defaults = Settings()
    settings = Settings(
        amqp_url=up.env.get("MF_AMQP_URL", defaults.amqp_url),
        amqp_exchange=up.env["MF_AMQP_EXCHANGE"],
    )
    queues, _ = process_topology(settings)
    found: dict[str, int] = {}
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        for name in sorted(q for q in queues if q.endswith(".dead")):
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                queue = await channel.declare_queue(name, passive=True)
                found[name] = int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()
    return found
