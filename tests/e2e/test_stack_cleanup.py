"""A test run removes what the services it started declared and wrote."""

from __future__ import annotations

import uuid
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity

from shared.grpc.server import GrpcServiceHost
from shared.runtime import open_infrastructure
from tests.cleanup import consumer_topology
from tests.e2e.conftest import Stack, builder, remove_stack_data
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e


async def _exists(amqp_url: str, kind: str, name: str) -> bool:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel()
        try:
            if kind == "queue":
                await channel.declare_queue(name, passive=True)
            else:
                await channel.declare_exchange(name, passive=True)
        except ChannelNotFoundEntity:
            return False
        return True
    finally:
        await connection.close()


async def test_queues_exchanges_and_databases_are_removed(
    stack: Stack, mongo_client: Any, es_client: Any, redis_client: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = stack.settings.model_copy(
        update={
            "mongo_db": f"mfe2e_clean_{tag}",
            "amqp_exchange": f"mfe2e.clean.{tag}",
            "es_index_prefix": f"mfe2eclean{tag[:6]}",
            "redis_key_prefix": f"mfe2e:clean{tag}:",
        }
    )
    infra = await open_infrastructure(settings, "user")
    host = GrpcServiceHost(await builder("user")(infra), host="127.0.0.1", port=0)
    await host.start()
    try:
        queues, exchanges = consumer_topology(host.definition.background)
        assert queues
        assert settings.amqp_exchange in exchanges

        async def declared() -> bool:
            return all([await _exists(settings.amqp_url, "queue", q) for q in queues])

        await eventually(declared, within=15, what="the consumer's queues")
    finally:
        await host.stop()
        await infra.close()
    assert f"{settings.mongo_db}_user" in await mongo_client.list_database_names()

    await remove_stack_data(settings, {"user": host}, mongo_client, es_client, redis_client)

    for q in queues:
        assert not await _exists(settings.amqp_url, "queue", q), q
    for x in exchanges:
        assert not await _exists(settings.amqp_url, "exchange", x), x
    assert not [
        n for n in await mongo_client.list_database_names() if n.startswith(settings.mongo_db)
    ]
    found = await es_client.indices.get(
        index=f"{settings.es_index_prefix}-*", allow_no_indices=True, ignore_unavailable=True
    )
    assert not found.body
