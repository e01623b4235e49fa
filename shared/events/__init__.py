"""Domain events: the envelope, the transactional outbox, its relay, idempotent consumers.

Publishing path: a use case writes its state change and ``Outbox.add`` in the
same Mongo transaction, then calls ``Outbox.notify()``. The ``OutboxRelay``
(one active per service database, chosen by a lease) publishes pending events
to the durable topic exchange with publisher confirms and marks them sent (in
batches) only once the broker has confirmed. The events committed in its own
process are handed to it at the commit and go out without reading the outbox;
its poll finds the rest, in order. If RabbitMQ is down the events wait in Mongo
and go out when it is back. A crash between publish and mark-sent publishes an
event twice, so every consumer is idempotent: ``IdempotentConsumer`` records
each processed event id in ``processed_events`` inside the same transaction as
the handler's own writes; given a batch handler, it takes the messages waiting
together and records them and the batch's writes in one transaction.

Embedded outbox (``EmbeddedOutbox``, from ``Outbox.embedded(collection)``): an aggregate
keeps its events in its own document, written with the state change in one update (no
transaction); the same relay hands them over, polls and marks them there.
"""

from shared.events.consumer import (
    PROCESSED_COLLECTION,
    BatchHandler,
    Handler,
    IdempotentConsumer,
    processed_indexes,
)
from shared.events.envelope import Event
from shared.events.outbox import (
    OUTBOX_COLLECTION,
    EmbeddedOutbox,
    Outbox,
    Staged,
    embedded_outbox_indexes,
    outbox_indexes,
)
from shared.events.relay import OutboxRelay

__all__ = [
    "OUTBOX_COLLECTION",
    "PROCESSED_COLLECTION",
    "BatchHandler",
    "EmbeddedOutbox",
    "Event",
    "Handler",
    "IdempotentConsumer",
    "Outbox",
    "OutboxRelay",
    "Staged",
    "embedded_outbox_indexes",
    "outbox_indexes",
    "processed_indexes",
]
