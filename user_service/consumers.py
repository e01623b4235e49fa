"""user_service's inbound events: each consumer is a driver, like the gRPC servicer.

The borrower search indexer keeps the search index in step with MongoDB, through the outbox.

Every borrower write commits a ``borrower.*`` event with it; the relay
publishes it, and this consumer (a background task of user_service) indexes
the borrower *as MongoDB has it now*, versioned, so duplicates and reordering
are harmless. A crash anywhere in between loses nothing: the event stays in
the outbox or in the queue until it is indexed. While Elasticsearch is down
the event is retried with backoff; if the outage outlasts the retries it is
dead-lettered, and `microfinance reindex borrowers` rebuilds the index.
"""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from shared.config import Settings
from shared.events import Event, IdempotentConsumer
from shared.mongo import Database, MongoClient
from shared.runtime import queue_name
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import BorrowerSearch
from user_service.borrower_service import EVENT_TYPES

# About ten minutes of retries (0.5s doubling to 30s) before a message is dead-lettered.
MAX_ATTEMPTS = 25


def search_queue(settings: Settings) -> str:
    return queue_name(settings, "user", "borrower-search")


class BorrowerIndexer:
    def __init__(self, repo: BorrowerRepository, search: BorrowerSearch) -> None:
        self._repo = repo
        self._search = search
        self.indexed = 0
        # Attempts that failed (Elasticsearch down); the consumer retries them.
        self.failed = 0

    async def __call__(self, event: Event, session: AsyncClientSession) -> None:
        # The current record, read in the consumer's transaction; the version guards order.
        borrower = await self._repo.find(event.aggregate_id, session)
        if borrower is None:
            return
        try:
            stored = await self._search.put(borrower)
        except Exception:
            self.failed += 1
            raise
        if stored:
            self.indexed += 1


def search_consumer(
    settings: Settings,
    client: MongoClient,
    db: Database,
    indexer: BorrowerIndexer,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    retry_backoff: float = 0.5,
    retry_backoff_max: float = 30.0,
) -> IdempotentConsumer:
    return IdempotentConsumer(
        client=client,
        db=db,
        amqp_url=settings.amqp_url,
        exchange=settings.amqp_exchange,
        queue=search_queue(settings),
        routing_keys=list(EVENT_TYPES),
        handler=indexer,
        # Order does not matter here (the current record is indexed, versioned), so
        # several events are handled at once: the index keeps up with bursts of writes.
        prefetch=64,
        concurrency=8,
        max_attempts=max_attempts,
        retry_backoff=retry_backoff,
        retry_backoff_max=retry_backoff_max,
        queue_type=settings.amqp_queue_type,
    )
