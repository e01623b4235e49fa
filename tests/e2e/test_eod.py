"""End of day over the wire: a real loan_service process killed mid-run, then the
`microfinance eod` command finishing the run; the result equals a clean run's.

The killed process has a database of its own, seeded with the same portfolio as a
second database that is closed without a kill; both must end with the same loans'
transactions, snapshot rows and figures.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance_cli.backends import free_port
from shared.config import Settings
from shared.identity import Caller, Role
from shared.runtime import database_name
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import md
from tests.integration.eod_support import end_of_day, outcome, portfolio, seed
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
Client = AsyncMongoClient[dict[str, Any]]


class LoanProcess:
    """``python -m loan_service`` on a free port, against its own database."""

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
            "MF_ES_URL": s.es_url or "",
            "MF_ES_INDEX_PREFIX": f"{s.es_index_prefix}kill",
            "MF_AMQP_URL": s.amqp_url,
            "MF_AMQP_EXCHANGE": s.amqp_exchange,
            "MF_AUTH_ADDR": s.auth_addr,
            "MF_USER_ADDR": s.user_addr,
            "MF_LOAN_ADDR": self.address,
            "MF_BIND_HOST": "127.0.0.1",
            "MF_LOAN_PORT": str(self.port),
            "MF_LOG_JSON": "false",
            "MF_SHUTDOWN_GRACE_SECONDS": "1",
            "MF_EOD_BATCH_SIZE": "4",
            "MF_EOD_CONCURRENCY": "1",
            "MF_EOD_LEASE_SECONDS": "1",
        }
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    async def start(self, pause_after_batches: int = 0) -> None:
        self.runs += 1
        log = (self.log_dir / f"loan-{self.runs}.log").open("wb")
        env = {**self.env, "MF_EOD_TEST_PAUSE_AFTER_BATCHES": str(pause_after_batches)}
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a fork, nothing to await
            [sys.executable, "-m", "loan_service"], env=env, stdout=log, stderr=log
        )
        log.close()

        async def serving() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"loan_service exited: {self.log_tail()}")
            try:
                async with grpc.aio.insecure_channel(self.address) as channel:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=1
                    )
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        await eventually(serving, within=30, interval=0.1, what="loan_service start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no shutdown code runs, the lease is left held
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self) -> str:
        text = (self.log_dir / f"loan-{self.runs}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-30:])


async def status_of(address: str, who: Login) -> loan_pb2.GetEndOfDayStatusResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        reply: loan_pb2.GetEndOfDayStatusResponse = await loan_pb2_grpc.LoanServiceStub(
            channel
        ).GetEndOfDayStatus(loan_pb2.GetEndOfDayStatusRequest(), metadata=md(who), timeout=10)
        return reply


async def run_eod(
    address: str, who: Login, day: date, catch_up: bool = False
) -> loan_pb2.RunEndOfDayResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        reply: loan_pb2.RunEndOfDayResponse = await loan_pb2_grpc.LoanServiceStub(
            channel
        ).RunEndOfDay(
            loan_pb2.RunEndOfDayRequest(business_date=day.isoformat(), catch_up=catch_up),
            metadata=md(who),
            timeout=10,
        )
        return reply


async def cli_eod(process: LoanProcess, stack: Stack, *args: str) -> tuple[int, str]:
    """`microfinance eod ARGS` as a real process (awaited: the stack's auth_service answers
    it from this event loop); its exit code and output."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "microfinance_cli",
        "eod",
        *args,
        env={**process.env, "MF_AUTH_ADDR": stack.settings.auth_addr},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(child.communicate(), timeout=120)
    assert child.returncode is not None
    return child.returncode, out.decode()


async def test_killed_mid_run_then_rerun_equals_one_clean_run(
    stack: Stack, admin: Login, mongo_client: Client, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()  # loan_service's business date (MF_BUSINESS_TIMEZONE=UTC)
    loans = portfolio(today, count=24)
    db_name = f"{stack.settings.mongo_db}_kill{uuid.uuid4().hex[:6]}"
    killed: AsyncDatabase[dict[str, Any]] = mongo_client[
        database_name(Settings(mongo_db=db_name), "loan")
    ]
    clean: AsyncDatabase[dict[str, Any]] = mongo_client[f"{db_name}_clean"]
    process = LoanProcess(stack, db_name, tmp_path)
    first, target = today - timedelta(days=4), today - timedelta(days=1)
    try:
        await seed(killed, loans)
        await seed(clean, loans)
        # 24 loans in batches of 4: the first date takes 6 batches; stop 3 into the next.
        await process.start(pause_after_batches=9)
        started = await run_eod(process.address, admin, first)
        assert started.business_date == first.isoformat()
        assert not started.already_run
        await eventually(
            lambda: _closed(process.address, admin, first), within=60, what="first date closed"
        )
        reply = await run_eod(process.address, admin, target, catch_up=True)
        assert [d for d in reply.run.dates] == [
            (first + timedelta(days=k)).isoformat() for k in (1, 2, 3)
        ]
        second = (first + timedelta(days=1)).isoformat()

        async def paused() -> bool:
            rows = await killed["loan_snapshots"].count_documents({"business_date": second})
            return rows == 12

        await eventually(paused, within=60, what="three batches of the second date")
        process.kill()
        assert await killed["loan_snapshots"].count_documents({"business_date": second}) == 12
        state = await killed["eod_state"].find_one({"_id": "eod"})
        assert state is not None
        assert state["last_closed"] == first.isoformat()
        assert state["run"]["target"] == target.isoformat()  # left open by the kill

        # Up again, with no pause; `microfinance eod` joins the run left open and follows it.
        await process.start()
        code, out = await cli_eod(process, stack, "--date", target.isoformat(), "--catch-up")
        assert code == 0, out + process.log_tail()
        assert f"closed up to {target.isoformat()}" in out

        # The same portfolio closed without a kill, the same two steps.
        eod, _ = end_of_day(mongo_client, clean, today, batch_size=4)
        caller = Caller(subject="admin", role=Role.ADMIN)
        await eod.close_now(caller, first)
        await eod.close_now(caller, target, catch_up=True)
        after_kill, clean_run = await outcome(killed), await outcome(clean)
        assert after_kill["last_closed"] == clean_run["last_closed"] == target.isoformat()
        assert after_kill["loans"] == clean_run["loans"]
        assert after_kill["rows"] == clean_run["rows"]
        assert after_kill["dates"] == clean_run["dates"]
        assert any(t["type"] == "PENALTY" for txns in after_kill["loans"].values() for t in txns)

        # A rerun of a closed date changes nothing; out of order is refused with the date.
        code, out = await cli_eod(process, stack, "--date", target.isoformat())
        assert code == 0, out
        assert await outcome(killed) == after_kill
        code, out = await cli_eod(process, stack, "--date", first.isoformat())
        assert code == 1, out
        assert f"error: cannot close {first.isoformat()}" in out
        assert f"last closed date is {target.isoformat()}" in out
    finally:
        process.kill()
        await mongo_client.drop_database(killed.name)
        await mongo_client.drop_database(clean.name)


async def test_a_failing_run_shows_its_error_and_the_cli_stops(
    stack: Stack, admin: Login, mongo_client: Client, tmp_path: Path
) -> None:
    """A loan the job cannot read (a corrupt document) makes every pass fail. The status says
    what failed, when and how often; `microfinance eod` stops with exit 1 and the message
    (failing with no progress for --stall-seconds, or the run given up); once the loan is
    repaired a new run closes the date."""
    today = datetime.now(UTC).date()
    day = today - timedelta(days=1)
    db_name = f"{stack.settings.mongo_db}_fail{uuid.uuid4().hex[:6]}"
    db: AsyncDatabase[dict[str, Any]] = mongo_client[
        database_name(Settings(mongo_db=db_name), "loan")
    ]
    process = LoanProcess(stack, db_name, tmp_path)
    process.env["MF_EOD_GIVE_UP_AFTER_FAILURES"] = "1000"
    try:
        await seed(db, portfolio(today, count=6))
        broken = await db["loans"].find_one({"status": "ACTIVE"}, {"principal": 1})
        assert broken is not None
        await db["loans"].update_one({"_id": broken["_id"]}, {"$set": {"principal": "lots"}})
        await process.start()

        # Retried on every pass, never given up: the CLI stops once nothing moves for 3 s.
        code, out = await cli_eod(process, stack, "--date", day.isoformat(),
                                  "--stall-seconds", "3")
        assert code == 1, out + process.log_tail()
        assert f"end of day up to {day.isoformat()} is failing" in out
        assert "ValueError: invalid literal for int() with base 10: 'lots'" in out
        status = await status_of(process.address, admin)
        assert status.HasField("run")
        error = status.run.last_error
        assert "'lots'" in error.message
        assert error.attempts >= 1
        assert error.HasField("at")

        # With a limit of 2 the run is given up: failed_run keeps the error, no run is open.
        process.kill()
        process.env["MF_EOD_GIVE_UP_AFTER_FAILURES"] = "2"
        await process.start()
        code, out = await cli_eod(process, stack, "--date", day.isoformat())
        assert code == 1, out + process.log_tail()
        assert "was given up: ValueError: invalid literal" in out
        status = await status_of(process.address, admin)
        assert not status.HasField("run")
        assert status.failed_run.target_date == day.isoformat()
        assert status.failed_run.last_error.attempts == 2
        assert status.failed_run.HasField("failed_at")
        assert status.last_closed_date == ""

        # Repaired, a new run (which clears failed_run) closes the date.
        await db["loans"].update_one({"_id": broken["_id"]},
                                     {"$set": {"principal": broken["principal"]}})
        code, out = await cli_eod(process, stack, "--date", day.isoformat())
        assert code == 0, out + process.log_tail()
        status = await status_of(process.address, admin)
        assert status.last_closed_date == day.isoformat()
        assert not status.HasField("failed_run")
    finally:
        process.kill()
        await mongo_client.drop_database(db.name)


async def _closed(address: str, who: Login, day: date) -> bool:
    status = await status_of(address, who)
    return status.last_closed_date == day.isoformat() and not status.HasField("run")


async def test_end_of_day_access_over_grpc(stack: Stack, admin: Login) -> None:
    """Agents read the last closed date only and cannot run it; a future date is 422-ish."""
    agent = await stack.ready_staff(admin)
    address = stack.hosts["loan"].address
    async with grpc.aio.insecure_channel(address) as channel:
        loans = loan_pb2_grpc.LoanServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await loans.RunEndOfDay(loan_pb2.RunEndOfDayRequest(), metadata=md(agent))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        seen = await loans.GetEndOfDayStatus(
            loan_pb2.GetEndOfDayStatusRequest(), metadata=md(agent)
        )
        assert not seen.HasField("run")
        assert not seen.HasField("last_closed")
        future = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await loans.RunEndOfDay(
                loan_pb2.RunEndOfDayRequest(business_date=future), metadata=md(admin)
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "future" in (bad.value.details() or "")


async def test_end_of_day_over_rest(stack: Stack, admin: Login) -> None:
    """POST /api/v1/eod runs it (admins), GET follows it; refusals are 403, 409 and 422."""
    agent = await stack.ready_staff(admin)
    c = stack.client
    r = await c.post("/api/v1/eod", json={}, headers=agent.headers)
    assert r.status_code == 403, r.text
    future = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    r = await c.post("/api/v1/eod", json={"date": future}, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["date"]
    r = await c.post("/api/v1/eod", json={"date": "2000-02-30"}, headers=admin.headers)
    assert r.status_code == 422, r.text
    # Dates are YYYY-MM-DD only: 0 is not 1970-01-01, nor 20000101 a date.
    for odd in (0, "0", "20000101", "2000-01-01T00:00:00"):
        r = await c.post("/api/v1/eod", json={"date": odd}, headers=admin.headers)
        assert r.status_code == 422, (odd, r.text)
        assert [f["field"] for f in r.json()["error"]["fields"]] == ["date"], r.text
    r = await c.post("/api/v1/eod", json={"catch_up": "yes"}, headers=admin.headers)
    assert r.status_code == 422, r.text

    # A date long before any loan of this stack: closes at once, with nothing to do.
    r = await c.post("/api/v1/eod", json={"date": "2000-01-01"}, headers=admin.headers)
    assert r.status_code in (200, 202), r.text
    assert r.json()["business_date"] == "2000-01-01"

    async def closed() -> dict[str, Any] | None:
        got = await c.get("/api/v1/eod", headers=admin.headers)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body if body["last_closed_date"] == "2000-01-01" and body["run"] is None else None

    body = await eventually(closed, within=30, what="2000-01-01 closed")
    assert body["last_closed"]["loans_processed"] == 0
    again = await c.post("/api/v1/eod", json={"date": "2000-01-01"}, headers=admin.headers)
    assert again.status_code == 200
    assert again.json()["already_run"] is True
    gap = await c.post("/api/v1/eod", json={"date": "2000-01-03"}, headers=admin.headers)
    assert gap.status_code == 409, gap.text
    assert "2000-01-01" in gap.json()["error"]["message"]
    seen = await c.get("/api/v1/eod", headers=agent.headers)
    assert seen.status_code == 200
    assert seen.json() == {"last_closed_date": "2000-01-01", "run": None, "last_closed": None,
                           "failed_run": None}

    # reporting_service hears eod.date_closed over the broker: the date becomes reportable.
    async def reportable() -> bool:
        got = await c.get("/api/v1/reports/portfolio?as_of=2000-01-01", headers=admin.headers)
        assert got.status_code in (200, 409, 422), got.text
        return got.status_code == 200

    await eventually(reportable, within=30, what="2000-01-01 reportable")
