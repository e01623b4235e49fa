"""The running system, in-process, for end-to-end tests through the gateway.

``stack`` (session-scoped) starts the real gRPC services on ephemeral ports
against the real backends from tests/conftest.py (MongoDB substitute, Redis; a
later service that needs RabbitMQ or Elasticsearch adds those fixtures here),
creates the first admin as `microfinance create-admin` does, and drives the
FastAPI gateway over ``httpx.ASGITransport`` with its lifespan running. Later
issues add their services to ``SERVICES``.

Each session uses its own database name, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from api_gateway.app import create_app
from shared.config import Settings
from shared.grpc.server import GrpcServiceHost, ServiceDefinition
from shared.runtime import Infrastructure, open_infrastructure
from tests.cleanup import (
    consumer_topology,
    delete_amqp_topology,
    delete_indices,
    delete_keys,
    drop_databases,
)

pytestmark = pytest.mark.e2e

Builder = Callable[[Infrastructure], Awaitable[ServiceDefinition]]

# Started in this order; each one's address is known to the ones after it.
SERVICES = ("auth", "user", "loan", "payment", "reporting")
# Nothing ever listens on port 1 (binding it needs root), so calls fail fast.
NOT_RUNNING = "127.0.0.1:1"

ADMIN_PASSWORD = "admin-e2e-Passw0rd!"
GATEWAY_IP = "198.51.100.7"


def builder(service: str) -> Builder:
    import importlib

    module = importlib.import_module(f"{service}_service.main")
    build: Builder = module.build
    return build


def unique_email(prefix: str = "staff") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@mfi-e2e.org"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway_client(app: FastAPI, ip: str = GATEWAY_IP) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
        base_url="http://gateway.e2e",
    )


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, ip: str = GATEWAY_IP, **options: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A gateway app with its lifespan running, and a client that reaches it from ``ip``."""
    app = create_app(settings, **options)
    async with app.router.lifespan_context(app), gateway_client(app, ip) as client:
        yield app, client


@dataclass
class Login:
    email: str
    password: str
    staff_id: str = ""
    access_token: str = ""
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


@dataclass
class Stack:
    settings: Settings
    app: FastAPI
    client: httpx.AsyncClient
    hosts: dict[str, GrpcServiceHost]
    admin: Login
    infra: dict[str, Infrastructure] = field(default_factory=dict)

    async def login(self, email: str, password: str) -> Login:
        r = await self.client.post(
            "/api/v1/auth/login", json={"username": email, "password": password}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return Login(
            email=email,
            password=password,
            staff_id=body["identity"]["staff_id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )

    async def admin_login(self) -> Login:
        return await self.login(self.admin.email, self.admin.password)

    async def create_staff(
        self, admin: Login, *, role: str = "AGENT", branch_id: str = "BR-01", **fields: Any
    ) -> tuple[dict[str, Any], str]:
        """Creates a staff member; returns the record and the initial password."""
        password = fields.pop("initial_password", f"Initial-{uuid.uuid4().hex[:12]}")
        body = {
            "role": role,
            "full_name": fields.pop("full_name", f"{role.title()} Person"),
            "email": fields.pop("email", unique_email(role.lower())),
            "branch_id": branch_id,
            "initial_password": password,
            **fields,
        }
        r = await self.client.post("/api/v1/staff", json=body, headers=admin.headers)
        assert r.status_code == 201, r.text
        return r.json(), password

    async def ready_staff(self, admin: Login, *, role: str = "AGENT") -> Login:
        """A staff member who has logged in and replaced the initial password."""
        record, initial = await self.create_staff(admin, role=role)
        first = await self.login(record["email"], initial)
        new_password = f"Changed-{uuid.uuid4().hex[:12]}"
        r = await self.client.post(
            "/api/v1/auth/password",
            json={"old_password": initial, "new_password": new_password},
            headers=first.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return Login(
            email=record["email"],
            password=new_password,
            staff_id=record["id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )


@contextlib.asynccontextmanager
async def serve_http(stack: Stack) -> AsyncIterator[str]:
    """The stack's gateway app (lifespan already running) behind uvicorn on a free port,
    for clients that need a real HTTP listener (schemathesis, curl); yields its base URL."""
    config = uvicorn.Config(
        stack.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 10
    while not server.started:
        assert not task.done(), "uvicorn stopped while starting"
        assert asyncio.get_running_loop().time() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def e2e_settings(
    *, mongo_url: str, redis_url: str, data_dir: Path, es_url: str | None = None
) -> Settings:
    return Settings(
        env="test",
        mongo_url=mongo_url,
        mongo_db=f"mfe2e_{uuid.uuid4().hex[:8]}",
        redis_url=redis_url,
        es_url=es_url,
        es_index_prefix=f"mfe2e{uuid.uuid4().hex[:6]}",
        # Own Redis keys and event exchange: runs never lock out or feed each other.
        redis_key_prefix=f"mfe2e:{uuid.uuid4().hex[:8]}:",
        amqp_exchange=f"mfe2e.{uuid.uuid4().hex[:8]}",
        data_dir=data_dir,
        log_json=False,
        bind_host="127.0.0.1",
        auth_port=0,
        user_port=0,
        loan_port=0,
        payment_port=0,
        reporting_port=0,
        auth_addr=NOT_RUNNING,
        user_addr=NOT_RUNNING,
        loan_addr=NOT_RUNNING,
        payment_addr=NOT_RUNNING,
        reporting_addr=NOT_RUNNING,
        grpc_deadline_seconds=15.0,
        shutdown_grace_seconds=1.0,
        # Every test logs in from the same address; the limiter has its own test.
        login_rate_limit_per_minute=10_000,
    )


async def remove_stack_data(
    settings: Settings,
    hosts: dict[str, GrpcServiceHost],
    mongo: AsyncMongoClient[dict[str, Any]],
    es: AsyncElasticsearch,
    redis: Redis,
) -> None:
    """After the services stop: their queues, exchanges, databases, indices and keys."""
    queues: set[str] = set()
    exchanges = {settings.amqp_exchange, f"{settings.amqp_exchange}.dlx"}
    for host in hosts.values():
        q, x = consumer_topology(host.definition.background)
        queues |= q
        exchanges |= x
    await delete_amqp_topology(settings.amqp_url, queues=sorted(queues), exchanges=exchanges)
    await drop_databases(mongo, f"{settings.mongo_db}_")
    await delete_indices(es, settings.es_index_prefix)
    await delete_keys(redis, settings.redis_key_prefix)


@contextlib.asynccontextmanager
async def open_stack(
    *,
    mongo_url: str,
    redis_url: str,
    es_url: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
    es_client: AsyncElasticsearch,
    redis_client: Redis,
    data_dir: Path,
    services: tuple[str, ...] = SERVICES,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """A whole system of its own (database, indices, keys, exchange), removed afterwards.

    ``overrides`` replace settings (``login_max_failures=...``)."""
    from microfinance_cli.migrate import create_admin

    settings = e2e_settings(
        mongo_url=mongo_url, redis_url=redis_url, es_url=es_url, data_dir=data_dir
    ).model_copy(update=overrides)
    admin = Login(email=unique_email("admin"), password=ADMIN_PASSWORD)
    await create_admin(settings, email=admin.email, password=admin.password, full_name="E2E Admin")

    hosts: dict[str, GrpcServiceHost] = {}
    infras: dict[str, Infrastructure] = {}
    async with contextlib.AsyncExitStack() as exits:
        # Registered first, so it runs last: after every service and the gateway stopped.
        # ``settings`` is read then, when it holds the services' addresses.
        async def cleanup() -> None:
            await remove_stack_data(settings, hosts, mongo_client, es_client, redis_client)

        exits.push_async_callback(cleanup)
        for name in services:
            infra = await open_infrastructure(settings, name)
            exits.push_async_callback(infra.close)
            host = GrpcServiceHost(
                await builder(name)(infra), host="127.0.0.1", port=0, grace_seconds=1.0
            )
            await host.start()
            exits.push_async_callback(host.stop)
            hosts[name], infras[name] = host, infra
            settings = settings.model_copy(update={f"{name}_addr": host.address})
        app, client = await exits.enter_async_context(running_gateway(settings))
        yield Stack(
            settings=settings, app=app, client=client, hosts=hosts, admin=admin, infra=infras
        )


@dataclass(frozen=True)
class StackBackends:
    """The session's backends, from which a module opens a system of its own."""

    mongo_url: str
    redis_url: str
    es_url: str
    mongo_client: AsyncMongoClient[dict[str, Any]]
    es_client: AsyncElasticsearch
    redis_client: Redis

    def open(self, data_dir: Path, **overrides: Any) -> AbstractAsyncContextManager[Stack]:
        """``open_stack`` on these backends; ``overrides`` as there."""
        return open_stack(
            mongo_url=self.mongo_url,
            redis_url=self.redis_url,
            es_url=self.es_url,
            mongo_client=self.mongo_client,
            es_client=self.es_client,
            redis_client=self.redis_client,
            data_dir=data_dir,
            **overrides,
        )


@pytest.fixture(scope="session")
def stack_backends(
    mongo_url: str,
    redis_url: str,
    es_url: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
    es_client: AsyncElasticsearch,
    redis_client: Redis,
) -> StackBackends:
    return StackBackends(mongo_url, redis_url, es_url, mongo_client, es_client, redis_client)


@pytest.fixture(scope="session")
async def stack(
    stack_backends: StackBackends, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with stack_backends.open(tmp_path_factory.mktemp("e2e-data")) as running:
        yield running


@pytest.fixture
async def admin(stack: Stack) -> Login:
    return await stack.admin_login()
