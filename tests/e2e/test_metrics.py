"""/metrics after real calls: a system of its own with metrics on (MF_METRICS_PORT on a free
port), scraped over HTTP while requests go through the gateway to the services.

In this in-process system one listener serves the one registry of the process, so the
gateway's routes, the services' RPC counters and their sampled gauges are read there;
tests/test_cli.py scrapes separate processes under `microfinance up`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from microfinance_cli.backends import free_port
from shared.clock import business_date
from shared.runtime import database_name, metrics_endpoint
from tests.e2e.conftest import Stack, StackBackends
from tests.e2e.loan_support import clients, make_borrower
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
LOGIN_ROUTE = "/api/v1/auth/login"
BORROWER_ROUTE = "/api/v1/borrowers/{borrower_id}"
AUTH = "microfinance.auth.v1.AuthService"


@pytest.fixture(scope="module")
async def metered(
    stack_backends: StackBackends, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with stack_backends.open(
        tmp_path_factory.mktemp("metrics-data"),
        metrics_port=free_port(),
        metrics_sample_seconds=0.2,
    ) as running:
        # As api_gateway/main.py does for the process: here one listener for the whole
        # system, which runs in this one process.
        with metrics_endpoint(running.settings):
            yield running


async def scrape(stack: Stack) -> Samples:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{stack.settings.metrics_port}/metrics")
    assert r.status_code == 200, r.text
    found: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_gateway_route_and_its_rpc_are_counted_and_timed(metered: Stack) -> None:
    before = await scrape(metered)
    await metered.admin_login()
    r = await metered.client.post(
        LOGIN_ROUTE, json={"username": metered.admin.email, "password": "wrong-password-1"}
    )
    assert r.status_code == 401
    await metered.client.get(f"/api/v1/no-such-thing-{uuid.uuid4().hex}")
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    http = "microfinance_http_requests_total"
    assert moved(http, route=LOGIN_ROUTE, method="POST", status="200") == 1
    assert moved(http, route=LOGIN_ROUTE, method="POST", status="401") == 1
    timed = "microfinance_http_request_duration_seconds_count"
    assert moved(timed, route=LOGIN_ROUTE, method="POST") == 2
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert moved(http, **unmatched) == 1
    # Templates only: no series carries the raw path asked for.
    assert not any("no-such-thing" in str(key) for key in after)

    rpc = "microfinance_grpc_server_handled_total"
    assert moved(rpc, grpc_service=AUTH, grpc_method="Login", grpc_code="OK") == 1
    assert moved(rpc, grpc_service=AUTH, grpc_method="Login", grpc_code="UNAUTHENTICATED") == 1
    rpc_timed = "microfinance_grpc_server_handling_seconds_count"
    assert moved(rpc_timed, grpc_service=AUTH, grpc_method="Login") == 2
    assert moved("microfinance_grpc_server_handling_seconds_sum", grpc_service=AUTH,
                 grpc_method="Login") > 0


async def test_cache_hits_and_misses_are_counted(metered: Stack) -> None:
    admin = await metered.admin_login()
    agent = await metered.ready_staff(admin)
    async with clients(metered) as c:
        borrower_id = await make_borrower(c, agent, admin)
    before = await scrape(metered)
    for _ in range(3):
        r = await metered.client.get(f"/api/v1/borrowers/{borrower_id}", headers=agent.headers)
        assert r.status_code == 200, r.text
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # At most the first read misses and fills the cache; the others hit it.
    hits = moved("microfinance_cache_hits_total", cache="borrower")
    assert hits >= 2
    assert hits + moved("microfinance_cache_misses_total", cache="borrower") == 3
    # One token, presented at the gateway and at user_service: verified once each.
    assert moved("microfinance_cache_hits_total", cache="verified_token") >= 3
    route = {"route": BORROWER_ROUTE, "method": "GET", "status": "200"}
    assert moved("microfinance_http_requests_total", **route) == 3


async def test_the_outbox_backlog_gauge_follows_waiting_events(metered: Stack) -> None:
    infra = metered.infra["user"]
    gauge = "microfinance_outbox_pending_events"
    await eventually(
        lambda: _gauge_is(metered, gauge, 0, service="user"), what="an empty backlog"
    )
    await infra.relay.stop()
    try:
        for _ in range(2):
            # A type nobody consumes: published later, it reaches no handler.
            await infra.outbox.emit("metrics.probe", uuid.uuid4().hex, {})
        await eventually(
            lambda: _gauge_is(metered, gauge, 2, service="user"), what="two waiting events"
        )
    finally:
        await infra.relay.start()
    await eventually(
        lambda: _gauge_is(metered, gauge, 0, service="user"), what="the backlog published"
    )
    samples = await scrape(metered)
    assert value(samples, "microfinance_outbox_published_total", service="user") >= 2


async def test_payments_pending_recovery_gauge_counts_a_pending_payment(
    metered: Stack, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    payments = mongo_client[database_name(metered.settings, "payment")]["payments"]
    gauge = "microfinance_payments_pending_recovery"
    await eventually(lambda: _gauge_is(metered, gauge, 0, kind="payment"), what="none pending")
    # As the posting flow leaves one whose loan service call did not answer: PENDING, its
    # lease held (by a live call) for a while yet, so not due.
    pending_id = f"pay-{uuid.uuid4().hex}"
    lease = datetime.now(UTC) + timedelta(hours=1)
    await payments.insert_one({"_id": pending_id, "status": "PENDING", "lease_until": lease})
    try:
        await eventually(
            lambda: _gauge_is(metered, gauge, 1, kind="payment"), what="one pending payment"
        )
        samples = await scrape(metered)
        assert value(samples, gauge, kind="reversal") == 0
        assert value(samples, "microfinance_payments_recovery_due") == 0
    finally:
        await payments.delete_one({"_id": pending_id})
    await eventually(lambda: _gauge_is(metered, gauge, 0, kind="payment"), what="settled")


async def test_end_of_day_progress_is_sampled(metered: Stack) -> None:
    admin = await metered.admin_login()
    today = business_date(datetime.now(UTC), metered.settings.business_tz())
    r = await metered.client.post("/api/v1/eod", json={}, headers=admin.headers)
    assert r.status_code in (200, 202), r.text
    closed_at = datetime.combine(today, time(), UTC).timestamp()

    async def closed() -> bool:
        samples = await scrape(metered)
        return (
            value(samples, "microfinance_eod_last_closed_date_seconds") == closed_at
            and value(samples, "microfinance_eod_phase", phase="idle") == 1
        )

    await eventually(closed, what="today closed and the run over")
    samples = await scrape(metered)
    assert value(samples, "microfinance_eod_dates_remaining") == 0
    assert value(samples, "microfinance_eod_current_date_seconds") == 0


async def _gauge_is(stack: Stack, name: str, expected: float, **labels: str) -> bool:
    return value(await scrape(stack), name, **labels) == expected
