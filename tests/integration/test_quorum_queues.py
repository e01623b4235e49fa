"""Consumers on quorum queues (MF_AMQP_QUEUE_TYPE=quorum), against the real RabbitMQ.

The broker itself is the witness of a queue's type: redeclaring a queue with another
``x-queue-type`` than it has fails with PRECONDITION_FAILED, the same declaration succeeds.
"""

from __future__ import annotations

from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed

from shared.config import Settings
from shared.events import Event, IdempotentConsumer, processed_indexes
from tests.integration.support import eventually

pytestmark = pytest.mark.integration


async def _publish(amqp_url: str, exchange: str, events: list[Event]) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for event in events:
            await ex.publish(event.to_message(), routing_key=event.type)
    finally:
        await connection.close()


async def _declares(amqp_url: str, queue: str, arguments: dict[str, Any]) -> bool:
    """True if RabbitMQ accepts this durable declaration of ``queue`` as equivalent."""
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(queue, durable=True, arguments=arguments)
        except ChannelPreconditionFailed:
            return False
        return True
    finally:
        await connection.close()


def _consumer(
    mongo_client: Any, mongo_db: Any, amqp_url: str, amqp_names: Any, handler: Any, **kw: Any
) -> IdempotentConsumer:
    return IdempotentConsumer(
        client=mongo_client, db=mongo_db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=amqp_names.queue("quorum"), routing_keys=["loan.*"], handler=handler, **kw,
    )


def test_the_setting_defaults_to_classic_and_takes_quorum(monkeypatch) -> None:
    monkeypatch.delenv("MF_AMQP_QUEUE_TYPE", raising=False)
    assert Settings().amqp_queue_type == "classic"
    monkeypatch.setenv("MF_AMQP_QUEUE_TYPE", "quorum")
    assert Settings().amqp_queue_type == "quorum"
    monkeypatch.setenv("MF_AMQP_QUEUE_TYPE", "lazy")
    with pytest.raises(ValueError, match="quorum"):
        Settings()


async def test_a_quorum_consumer_declares_quorum_queues_and_handles_events(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    await processed_indexes().apply(mongo_db)
    seen: list[str] = []

    async def project(event: Event, session) -> None:
        if event.payload.get("poison"):
            raise RuntimeError("cannot project this one")
        seen.append(event.id)
        await mongo_db.portfolio.update_one(
            {"_id": "totals"}, {"$inc": {"disbursed": event.payload["amount_minor"]}},
            upsert=True, session=session,
        )

    consumer = _consumer(
        mongo_client, mongo_db, amqp_url, amqp_names, project,
        queue_type="quorum", max_attempts=2, retry_backoff=0.01,
    )
    await consumer.start()
    try:
        assert consumer.ready.is_set()
        first = Event("loan.disbursed", "L1", {"amount_minor": 5_000}, producer="loan_service")
        second = Event("loan.disbursed", "L2", {"amount_minor": 7_000}, producer="loan_service")
        poison = Event("loan.disbursed", "L3", {"poison": True}, producer="loan_service")
        # The first twice: the redelivery is skipped on a quorum queue as on a classic one.
        await _publish(amqp_url, amqp_names.exchange, [first, first, second, poison])
        await eventually(
            lambda: consumer.handled + consumer.skipped + consumer.dead_lettered >= 4,
            what="four deliveries settled",
        )
        assert seen == [first.id, second.id]
        assert consumer.skipped == 1
        assert consumer.dead_lettered == 1
        totals = await mongo_db.portfolio.find_one({"_id": "totals"})
        assert totals is not None
        assert totals["disbursed"] == 12_000
    finally:
        await consumer.stop()

    # The broker holds both queues as quorum queues: the quorum declaration is equivalent,
    # a classic one is refused (a queue cannot change type in place).
    dead_letter_args = {
        "x-dead-letter-exchange": consumer.dead_letter_exchange,
        "x-dead-letter-routing-key": consumer.queue_name,
    }
    assert await _declares(
        amqp_url, consumer.queue_name, {"x-queue-type": "quorum", **dead_letter_args}
    )
    assert not await _declares(
        amqp_url, consumer.queue_name, {"x-queue-type": "classic", **dead_letter_args}
    )
    assert await _declares(amqp_url, consumer.dead_letter_queue, {"x-queue-type": "quorum"})
    assert not await _declares(amqp_url, consumer.dead_letter_queue, {"x-queue-type": "classic"})

    # The poison event went to the dead-letter queue, which is a quorum queue too.
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel()
        dead = await channel.declare_queue(consumer.dead_letter_queue, passive=True)
        message = await dead.get(timeout=5, fail=True)
        assert message is not None
        assert message.message_id == poison.id
        await message.ack()
    finally:
        await connection.close()


async def test_switching_an_existing_queue_to_quorum_needs_a_migration(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    async def project(event: Event, session) -> None:
        return None

    classic = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, project)
    await classic.connect()
    await classic.stop()
    # The same queue name now asked for as quorum: RabbitMQ refuses, so the consumer
    # cannot start until the classic queue is drained and deleted (docs/operations.md).
    quorum = IdempotentConsumer(
        client=mongo_client, db=mongo_db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=classic.queue_name, routing_keys=["loan.*"], handler=project, queue_type="quorum",
    )
    with pytest.raises(ChannelPreconditionFailed):
        await quorum.connect()
    assert not quorum.ready.is_set()
