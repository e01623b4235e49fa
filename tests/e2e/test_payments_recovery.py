"""Nothing is lost or posted twice when the loan service is away or payment_service dies.

* Outage: a second payment_service (own database) reaches the loan service through
  a TCP proxy that the test cuts. Posting answers 202 with a PENDING payment; once
  the proxy is back the recovery loop settles it, with the service's own token,
  exactly once. An agent's payment to someone else's loan is not applied by the
  (unscoped) loop: it becomes REJECTED.
* Crash: payment_service runs as a real process (``python -m payment_service``)
  with a test-only pause after the PENDING insert, then after ApplyRepayment; the
  test SIGKILLs it there, starts it again, and the recovery loop settles the
  payment exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from microfinance_cli.backends import free_port
from shared.config import Settings
from shared.grpc.server import GrpcServiceHost
from shared.runtime import database_name, open_infrastructure
from tests.e2e.conftest import Login, Stack, builder, running_gateway
from tests.e2e.loan_support import clients, md
from tests.e2e.payment_support import body, loan_for, loan_state, loan_transactions, portfolio
from tests.integration.support import TcpProxy, eventually

pytestmark = pytest.mark.e2e

FAST = {
    "MF_PAYMENT_RECOVERY_INTERVAL_SECONDS": "0.2",
    "MF_PAYMENT_LEASE_SECONDS": "1",
    "MF_PAYMENT_RETRY_MAX_SECONDS": "1",
    "MF_PAYMENT_REPLAY_WAIT_SECONDS": "0.3",
    "MF_PAYMENT_SCOPE_GRACE_SECONDS": "1",
}


def repayments(txns: list[loan_pb2.Transaction], payment_id: str) -> list[loan_pb2.Transaction]:
    return [t for t in txns if t.payment_id == payment_id and t.type == loan_pb2.REPAYMENT]


@contextlib.asynccontextmanager
async def payment_service_via_proxy(
    stack: Stack, proxy: TcpProxy
) -> AsyncIterator[tuple[Settings, GrpcServiceHost]]:
    fast = {name.removeprefix("MF_").lower(): float(value) for name, value in FAST.items()}
    settings = stack.settings.model_copy(
        update={
            "mongo_db": f"{stack.settings.mongo_db}_px{uuid.uuid4().hex[:6]}",
            "loan_addr": f"127.0.0.1:{proxy.port}",
            **fast,
        }
    )
    infra = await open_infrastructure(settings, "payment")
    host = GrpcServiceHost(await builder("payment")(infra), host="127.0.0.1", port=0)
    await host.start()
    try:
        yield settings.model_copy(update={"payment_addr": host.address}), host
    finally:
        await host.stop()
        await infra.mongo.drop_database(infra.db.name)
        await infra.close()


async def test_loan_service_outage_leaves_payments_pending_until_recovered(
    stack: Stack, admin: Login
) -> None:
    loan_host, loan_port = stack.hosts["loan"].address.rsplit(":", 1)
    proxy = await TcpProxy(loan_host, int(loan_port)).start()
    try:
        async with (
            clients(stack) as c,
            payment_service_via_proxy(stack, proxy) as (settings, _host),
            running_gateway(settings) as (_app, gw),
        ):
            p = await portfolio(stack, c, admin)
            loan = await loan_for(c, p, days_ago=7)
            stranger = await stack.ready_staff(admin)
            await proxy.cut()

            key = f"k-{uuid.uuid4().hex}"
            headers = {**p.agent.headers, "Idempotency-Key": key}
            first = await gw.post("/api/v1/payments", json=body(loan.id, 26_000), headers=headers)
            assert first.status_code == 202, first.text
            pending = first.json()
            assert (pending["status"], pending["receipt_number"]) == ("PENDING", "")
            again = await gw.post("/api/v1/payments", json=body(loan.id, 26_000), headers=headers)
            assert (again.status_code, again.json()["id"]) == (202, pending["id"])

            # The stranger's payment is recorded too (the loan service could not say no yet).
            foreign = await gw.post(
                "/api/v1/payments",
                json=body(loan.id, 1_000),
                headers={**stranger.headers, "Idempotency-Key": "x"},
            )
            assert foreign.status_code == 202

            await proxy.restore()

            async def settled(payment_id: str, who: Login) -> dict[str, Any] | None:
                r = await gw.get(f"/api/v1/payments/{payment_id}", headers=who.headers)
                data: dict[str, Any] = r.json()
                return data if data["status"] != "PENDING" else None

            posted = await eventually(
                lambda: settled(pending["id"], p.agent), within=20, what="recovery"
            )
            assert posted["status"] == "POSTED"
            assert posted["receipt_number"]
            assert posted["loan_number"] == loan.loan_number
            rejected = await eventually(
                lambda: settled(foreign.json()["id"], stranger), within=20, what="scope check"
            )
            assert (rejected["status"], rejected["rejection_code"]) == ("REJECTED", "NOT_FOUND")

            txns = await loan_transactions(c, admin, loan.id)
            (applied,) = repayments(txns, pending["id"])
            # Applied by the loop with the service's token, recorded for the poster.
            assert applied.actor == p.agent.staff_id
            assert repayments(txns, foreign.json()["id"]) == []
            state = await loan_state(c, admin, loan.id)
            assert state.summary.total_paid.amount_minor == 26_000

            replay = await gw.post("/api/v1/payments", json=body(loan.id, 26_000), headers=headers)
            assert replay.status_code == 200
            assert replay.json()["receipt_number"] == posted["receipt_number"]

            # A reversal asked for during an outage is kept and completed later.
            await proxy.cut()
            url = f"/api/v1/payments/{pending['id']}/reverse"
            asked = await gw.post(url, json={"reason": "double entry"}, headers=admin.headers)
            assert asked.status_code == 503, asked.text
            assert "will complete automatically" in asked.json()["error"]["message"]
            await proxy.restore()

            async def reversed_() -> bool:
                r = await gw.get(f"/api/v1/payments/{pending['id']}", headers=admin.headers)
                return bool(r.json()["status"] == "REVERSED")

            await eventually(reversed_, within=20, what="reversal recovery")
            got = (await gw.get(f"/api/v1/payments/{pending['id']}", headers=admin.headers)).json()
            assert got["reversal"]["reversed_by"] == admin.staff_id
            reversal = next(
                t
                for t in await loan_transactions(c, admin, loan.id)
                if t.payment_id == pending["id"] and t.type == loan_pb2.REVERSAL
            )
            assert reversal.actor == admin.staff_id
            assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 0
    finally:
        await proxy.close()


# ------------------------------------------------------------------ a real process, killed


class PaymentProcess:
    def __init__(self, stack: Stack, db_name: str, log_dir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        s = stack.settings
        self.env = {
            **os.environ,
            "MF_ENV": "test",
            "MF_MONGO_URL": s.mongo_url or "",
            "MF_MONGO_DB": db_name,
            "MF_REDIS_URL": s.redis_url,
            "MF_REDIS_KEY_PREFIX": s.redis_key_prefix,
            "MF_AMQP_URL": s.amqp_url,
            "MF_AMQP_EXCHANGE": s.amqp_exchange,
            "MF_AUTH_ADDR": s.auth_addr,
            "MF_USER_ADDR": s.user_addr,
            "MF_LOAN_ADDR": s.loan_addr,
            "MF_BIND_HOST": "127.0.0.1",
            "MF_PAYMENT_PORT": str(self.port),
            "MF_LOG_JSON": "false",
            "MF_SHUTDOWN_GRACE_SECONDS": "1",
            **FAST,
            # Long enough that the paused process's own recovery loop cannot take the
            # payment over before the test kills it.
            "MF_PAYMENT_LEASE_SECONDS": "3",
        }
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    async def start(self, pause: str = "") -> None:
        self.runs += 1
        log = (self.log_dir / f"payment-{self.runs}.log").open("wb")
        env = {**self.env, "MF_PAYMENT_TEST_PAUSE": pause}
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a fork, nothing to await
            [sys.executable, "-m", "payment_service"], env=env, stdout=log, stderr=log
        )
        log.close()

        async def serving() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"payment_service exited: {self.log_tail()}")
            try:
                async with grpc.aio.insecure_channel(self.address) as channel:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=1
                    )
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        await eventually(serving, within=30, interval=0.1, what="payment_service start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no shutdown code runs
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self) -> str:
        return "\n".join(
            (self.log_dir / f"payment-{self.runs}.log").read_text(errors="replace").splitlines()[
                -30:
            ]
        )


async def test_killed_mid_flow_the_payment_settles_exactly_once(
    stack: Stack, admin: Login, mongo_client: AsyncMongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    db_name = f"{stack.settings.mongo_db}_crash{uuid.uuid4().hex[:6]}"
    payments = mongo_client[database_name(Settings(mongo_db=db_name), "payment")]
    service = PaymentProcess(stack, db_name, tmp_path)
    try:
        async with clients(stack) as c:
            p = await portfolio(stack, c, admin)
            loan = await loan_for(c, p, days_ago=7)

            async def post(key: str, amount: int) -> asyncio.Task[Any]:
                async def call() -> Any:
                    async with grpc.aio.insecure_channel(service.address) as channel:
                        return await payment_pb2_grpc.PaymentServiceStub(channel).PostPayment(
                            payment_pb2.PostPaymentRequest(
                                idempotency_key=key,
                                loan_id=loan.id,
                                amount=common_pb2.Money(amount_minor=amount, currency="USD"),
                                channel=common_pb2.CASH,
                            ),
                            metadata=md(p.agent),
                            timeout=30,
                        )

                return asyncio.create_task(call())

            # 1. Killed right after the PENDING record: the loan never heard of it.
            await service.start(pause="after_pending")
            call = await post("crash-1", 10_000)
            doc = await eventually(
                lambda: payments.payments.find_one({"idempotency_key": "crash-1"}),
                within=20,
                what="PENDING record",
            )
            assert doc["status"] == "PENDING"
            service.kill()
            with pytest.raises(grpc.aio.AioRpcError):
                await call
            assert repayments(await loan_transactions(c, admin, loan.id), doc["_id"]) == []

            # 2. Back up (pausing after ApplyRepayment this time, for the next payment):
            #    the recovery loop takes over the first one once its lease has run out.
            await service.start(pause="after_apply")

            async def status_of(payment_id: str) -> str:
                found = await payments.payments.find_one({"_id": payment_id})
                return str(found["status"]) if found else ""

            await eventually(
                lambda: _is(status_of(doc["_id"]), "POSTED"), within=20, what="first recovery"
            )
            call = await post("crash-2", 20_000)
            second = await eventually(
                lambda: payments.payments.find_one({"idempotency_key": "crash-2"}),
                within=20,
                what="second PENDING record",
            )
            # Killed after the loan applied it, before it was marked POSTED.
            await eventually(
                lambda: _applied(c, admin, loan.id, second["_id"]), within=20, what="applied"
            )
            assert await status_of(second["_id"]) == "PENDING"
            service.kill()
            with pytest.raises(grpc.aio.AioRpcError):
                await call

            # 3. Back up once more: the second payment is posted from the loan's first answer.
            await service.start()
            await eventually(
                lambda: _is(status_of(second["_id"]), "POSTED"), within=20, what="second recovery"
            )
            txns = await loan_transactions(c, admin, loan.id)
            (one,) = repayments(txns, doc["_id"])
            (two,) = repayments(txns, second["_id"])
            assert (one.amount.amount_minor, two.amount.amount_minor) == (10_000, 20_000)
            # The first was applied by the recovery loop, the second by the agent's own call.
            assert (one.actor, two.actor) == (p.agent.staff_id, p.agent.staff_id)
            state = await loan_state(c, admin, loan.id)
            assert state.summary.total_paid.amount_minor == 30_000

            stored = await payments.payments.find_one({"_id": second["_id"]})
            assert stored is not None
            assert stored["loan_transaction_id"] == two.id
            assert stored["allocation"]["interest"] + stored["allocation"]["principal"] == 20_000
            assert stored["receipt_number"].startswith("RC-")
            events = [
                e["type"]
                async for p in payments.payments.find(
                    {"_id": {"$in": [doc["_id"], second["_id"]]}}, {"outbox": 1}
                )
                for e in p.get("outbox") or []
            ]
            assert sorted(events) == ["payment.posted", "payment.posted"]

            # The phone retries with the same key: the same payment and receipt come back.
            retry = await (await post("crash-2", 20_000))
            assert retry.replayed
            assert retry.payment.receipt_number == stored["receipt_number"]
    finally:
        service.kill()
        await mongo_client.drop_database(payments.name)


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)


async def _applied(c: Any, admin: Login, loan_id: str, payment_id: str) -> bool:
    return bool(repayments(await loan_transactions(c, admin, loan_id), payment_id))
