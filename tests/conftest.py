"""Backend fixtures shared by every test.

Session-scoped ``mongo_url``, ``es_url``, ``redis_url`` and ``amqp_url`` come
from tests/backends.py (env URL, then Docker, then local substitutes). Each
test isolates its data: ``mongo_db`` is a fresh database, ``es_prefix`` an
index prefix, ``redis_prefix`` a key prefix and ``amqp_exchange`` an exchange
name (with ``amqp_names`` for the queues a test declares); all are removed
after the test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from elasticsearch import AsyncElasticsearch
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from tests.backends import BackendPool
from tests.cleanup import delete_amqp_topology, delete_indices, delete_keys


def _token() -> str:
    return uuid.uuid4().hex[:10]


# ------------------------------------------------------------------ URLs --
@pytest.fixture(scope="session")
def backend_pool() -> Iterator[BackendPool]:
    pool = BackendPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def mongo_url(backend_pool: BackendPool) -> str:
    return backend_pool.url("mongo")


@pytest.fixture(scope="session")
def es_url(backend_pool: BackendPool) -> str:
    return backend_pool.url("es")


@pytest.fixture(scope="session")
def redis_url(backend_pool: BackendPool) -> str:
    return backend_pool.url("redis")


@pytest.fixture(scope="session")
def amqp_url(backend_pool: BackendPool) -> str:
    return backend_pool.url("amqp")


# --------------------------------------------------------------- MongoDB --
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mongo_client(mongo_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    from shared.mongo import create_mongo_client

    client = create_mongo_client(mongo_url, app_name="mf-tests")
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def mongo_db(
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    name = f"test_{_token()}"
    try:
        yield mongo_client[name]
    finally:
        await mongo_client.drop_database(name)


# --------------------------------------------------------- Elasticsearch --
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def es_client(es_url: str) -> AsyncIterator[AsyncElasticsearch]:
    from shared.search import create_es_client

    client = create_es_client(es_url)
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def es_prefix(es_client: AsyncElasticsearch) -> AsyncIterator[str]:
    prefix = f"t{_token()}"
    try:
        yield prefix
    finally:
        await delete_indices(es_client, prefix)


# ----------------------------------------------------------------- Redis --
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    from shared.cache import create_redis

    client = create_redis(redis_url, socket_timeout=2.0, connect_timeout=2.0)
    try:
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def redis_prefix(redis_client: Redis) -> AsyncIterator[str]:
    prefix = f"test:{_token()}:"
    try:
        yield prefix
    finally:
        await delete_keys(redis_client, prefix)


# -------------------------------------------------------------- RabbitMQ --
@dataclass
class AmqpNames:
    """Names for one test's exchanges and queues; all are deleted after the test."""

    exchange: str
    queues: list[str] = field(default_factory=list)

    def queue(self, name: str = "q") -> str:
        full = f"{self.exchange}.{name}"
        self.queues.append(full)
        return full


@pytest_asyncio.fixture(loop_scope="session")
async def amqp_names(amqp_url: str) -> AsyncIterator[AmqpNames]:
    names = AmqpNames(exchange=f"test.{_token()}")
    try:
        yield names
    finally:
        await delete_amqp_topology(
            amqp_url,
            queues=[n for q in names.queues for n in (q, f"{q}.dead")],
            exchanges=[names.exchange, f"{names.exchange}.dlx"],
        )


@pytest.fixture
def amqp_exchange(amqp_names: AmqpNames) -> str:
    return amqp_names.exchange
