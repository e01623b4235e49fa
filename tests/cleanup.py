"""Removing what a test run created on shared servers.

Production declares queues and exchanges durable and never drops a database, so a
test that runs the real services must remove their topology and data by name
afterwards, or every run would leave them behind on a shared RabbitMQ/MongoDB.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from elasticsearch import AsyncElasticsearch
from pymongo import AsyncMongoClient
from redis.asyncio import Redis


async def delete_amqp_topology(
    amqp_url: str, *, queues: Iterable[str], exchanges: Iterable[str]
) -> None:
    """Delete queues, then exchanges, by name; missing ones are fine."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        for kind, names in (("queue", list(queues)), ("exchange", list(exchanges))):
            for name in names:
                # A failed delete closes the channel, so use one per call.
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    if kind == "queue":
                        await channel.queue_delete(name)
                    else:
                        await channel.exchange_delete(name)
                with contextlib.suppress(Exception):
                    await channel.close()
    finally:
        await connection.close()


def consumer_topology(background: Iterable[Any]) -> tuple[set[str], set[str]]:
    """The queues and exchanges the consumers among a service's background tasks declare."""
    from shared.events import IdempotentConsumer

    queues: set[str] = set()
    exchanges: set[str] = set()
    for task in background:
        if isinstance(task, IdempotentConsumer):
            queues |= {task.queue_name, task.dead_letter_queue}
            exchanges |= {task.exchange_name, task.dead_letter_exchange}
    return queues, exchanges


async def drop_databases(client: AsyncMongoClient[dict[str, Any]], prefix: str) -> list[str]:
    """Drop every database whose name starts with ``prefix``; returns their names."""
    names = [n for n in await client.list_database_names() if n.startswith(prefix)]
    for name in names:
        await client.drop_database(name)
    return names


async def delete_indices(es: AsyncElasticsearch, prefix: str) -> None:
    # By name: clusters refuse wildcard deletes by default.
    found = await es.indices.get(
        index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True
    )
    for index in found.body:
        with contextlib.suppress(Exception):
            await es.indices.delete(index=index)


async def delete_keys(redis: Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)


def process_topology(settings: Any) -> tuple[list[str], list[str]]:
    """The queues and exchanges the six processes declare for ``settings``, by name.

    For runs where the services are child processes and their consumers cannot be
    inspected (``microfinance up``). Add a service's queue here when it gains a consumer.
    """
    from loan_service.consumers import borrower_queue, search_queue
    from payment_service.consumers import loan_events_queue
    from reporting_service.consumers import QUEUE as READ_MODELS
    from shared.runtime import queue_name
    from user_service.consumers import search_queue as user_search_queue

    queues = [
        user_search_queue(settings),
        search_queue(settings),
        borrower_queue(settings),
        loan_events_queue(settings),
        queue_name(settings, "reporting", READ_MODELS),
    ]
    exchange = settings.amqp_exchange
    return [n for q in queues for n in (q, f"{q}.dead")], [exchange, f"{exchange}.dlx"]
