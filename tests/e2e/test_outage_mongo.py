"""MongoDB restarted under load: requests fail cleanly and nothing is half-written.

The whole system runs in-process on a MongoDB stand-in this test owns. Workers post
repayments through the gateway, each with its own Idempotency-Key, and repeat a request
that failed with the same key, as a client should. Mid-load the database stops and comes
back. While it is away every answer is a 503 with Retry-After (never a 500, a 409 from a
misread outage, or a timeout); afterwards every key is posted exactly once: one payment
per key, one loan transaction per payment, the balance down by exactly their sum, and no
payment left PENDING.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from redis.asyncio import Redis

from microfinance.loan.v1 import loan_pb2
from shared.mongo import create_mongo_client
from tests.e2e.conftest import Login, Stack, open_stack
from tests.e2e.loan_support import clients
from tests.e2e.outage_support import OwnedBackend, owned_backend
from tests.e2e.payment_support import body, loan_for, loan_state, loan_transactions, portfolio
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

AMOUNT = 100
WORKERS = 4
# Answers a client may meet during the outage and must retry with the same key.
RETRYABLE = {503}


class Load:
    """Workers posting repayments until told to stop; every key is retried to success."""

    def __init__(self, stack: Stack, agent: Login, loan_id: str) -> None:
        self.stack, self.agent, self.loan_id = stack, agent, loan_id
        self.statuses: collections.Counter[int] = collections.Counter()
        self.unexpected: list[tuple[int, str]] = []
        self.posted: dict[str, str] = {}  # key -> payment id
        self.slowest_failure = 0.0
        self.stop = asyncio.Event()

    async def post(self, key: str) -> bool:
        """True once ``key`` has an answer the client keeps (posted, or refused for good)."""
        started = time.monotonic()
        r = await self.stack.client.post(
            "/api/v1/payments",
            json=body(self.loan_id, AMOUNT),
            headers={**self.agent.headers, "Idempotency-Key": key},
        )
        self.statuses[r.status_code] += 1
        if r.status_code in (200, 201, 202):
            self.posted[key] = r.json()["id"]
            return True
        self.slowest_failure = max(self.slowest_failure, time.monotonic() - started)
        if r.status_code not in RETRYABLE:
            self.unexpected.append((r.status_code, r.text[:300]))
            return True
        if r.headers.get("retry-after") is None or "try again" not in r.text:
            self.unexpected.append((r.status_code, f"no retry advice: {r.text[:300]}"))
        return False

    async def worker(self) -> None:
        while not self.stop.is_set():
            key = f"outage-{uuid.uuid4().hex}"
            # The same key until it is posted, however long the database is away.
            for attempt in itertools.count():
                if await self.post(key):
                    break
                if attempt % 4 == 3:
                    await asyncio.sleep(0.2)  # a client's pause between retries


@pytest.fixture
async def own_stack(
    tmp_path: Path,
    redis_url: str,
    es_url: str,
    es_client: AsyncElasticsearch,
    redis_client: Redis,
) -> Any:
    with owned_backend("mongo", tmp_path / "mongo") as mongo:
        client = create_mongo_client(mongo.url, app_name="mf-tests-outage")
        try:
            async with open_stack(
                mongo_url=mongo.url,
                redis_url=redis_url,
                es_url=es_url,
                mongo_client=client,
                es_client=es_client,
                redis_client=redis_client,
                data_dir=tmp_path / "data",
                # The production deadline: the outage must answer inside it.
                grpc_deadline_seconds=5.0,
                payment_recovery_interval_seconds=0.2,
                payment_lease_seconds=1.0,
                payment_retry_max_seconds=1.0,
            ) as stack:
                yield stack, mongo
        finally:
            await client.close()


async def test_a_mongodb_restart_mid_load_fails_cleanly_and_leaves_nothing_half_written(
    own_stack: tuple[Stack, OwnedBackend],
) -> None:
    stack, mongo = own_stack
    admin = await stack.admin_login()
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, principal=500_000)
        before = (await loan_state(c, admin, loan.id)).summary.total_outstanding.amount_minor

        load = Load(stack, p.agent, loan.id)
        workers = [asyncio.create_task(load.worker()) for _ in range(WORKERS)]
        await eventually(lambda: len(load.posted) >= 8, within=30, what="load before")
        mongo.stop()
        await eventually(lambda: load.statuses[503] >= 2 * WORKERS, within=30,
                         what="503s while the database is down")
        mongo.start()
        posted_when_back = len(load.posted)
        await eventually(lambda: len(load.posted) >= posted_when_back + 8, within=60,
                         what="load after the restart")
        load.stop.set()
        await asyncio.gather(*workers)

        print(f"mongodb restart: {len(load.posted)} payments posted, answers "
              f"{dict(load.statuses)}, slowest failure {load.slowest_failure:.2f} s")
        assert not load.unexpected, load.unexpected[:5]
        # Answered inside the 5 s deadline: a 503 from the service, not a timeout.
        assert load.slowest_failure < 5.0, load.slowest_failure

        payments = stack.infra["payment"].db["payments"]

        async def settled() -> bool:
            return await payments.count_documents({"status": "PENDING"}) == 0

        await eventually(settled, within=30, what="no PENDING payment left")
        docs = [d async for d in payments.find({"loan_id": loan.id})]
        by_key = collections.Counter(d["idempotency_key"] for d in docs)
        assert set(by_key) == set(load.posted), "a payment without a 2xx, or one lost"
        assert max(by_key.values()) == 1
        assert {d["status"] for d in docs} == {"POSTED"}
        assert {d["_id"] for d in docs} == set(load.posted.values())

        txns = await loan_transactions(c, admin, loan.id)
        repaid = [t for t in txns if t.type == loan_pb2.REPAYMENT]
        assert sorted(t.payment_id for t in repaid) == sorted(d["_id"] for d in docs)
        after = (await loan_state(c, admin, loan.id)).summary.total_outstanding.amount_minor
        assert before - after == AMOUNT * len(docs)

        # The same key once more is a replay of the one payment, not a second one.
        key, payment_id = next(iter(load.posted.items()))
        r = await stack.client.post(
            "/api/v1/payments", json=body(loan.id, AMOUNT),
            headers={**p.agent.headers, "Idempotency-Key": key},
        )
        assert r.status_code == 200, r.text
        assert r.json()["id"] == payment_id
        assert await payments.count_documents({"loan_id": loan.id}) == len(docs)
