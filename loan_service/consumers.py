"""loan_service's inbound events: each consumer is a driver, like the gRPC servicer.

* ``BorrowerEventsConsumer``: loans follow their borrower. user_service's
  ``borrower.*`` events move a reassigned borrower's loans to the new agent
  (agent scoping follows the borrower) and carry a renamed borrower's name;
  the changes and their ``loan.*`` events commit with the processed-event marker.
* ``LoanSearchIndexer``: the service's own ``loan.*`` events keep the loans
  search index in step (see loan_service/adapters/search.py).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.loan_repository import LOANS, loan_from_doc
from loan_service.adapters.search import LoanSearch, SearchBacklog, Today
from loan_service.service import LoanService
from shared.config import Settings
from shared.events import Event, IdempotentConsumer
from shared.mongo import MongoClient
from shared.search import SearchUnavailable

BORROWER_ROUTING_KEYS = ("borrower.reassigned", "borrower.updated")


def search_queue(settings: Settings) -> str:
    # Named after the exchange, so deployments (and test runs) sharing a broker stay apart.
    return f"{settings.amqp_exchange}.loan.loan-search"


def borrower_queue(settings: Settings) -> str:
    return f"{settings.amqp_exchange}.loan.borrower-changes"


class BorrowerEventsConsumer(IdempotentConsumer):
    def __init__(
        self,
        *,
        client: MongoClient,
        db: AsyncDatabase[dict[str, Any]],
        amqp_url: str,
        exchange: str,
        queue: str,
        loans: LoanService,
    ) -> None:
        super().__init__(
            client=client,
            db=db,
            amqp_url=amqp_url,
            exchange=exchange,
            queue=queue,
            routing_keys=list(BORROWER_ROUTING_KEYS),
        )
        self._loans = loans

    async def handle(self, event: Event, session: AsyncClientSession) -> None:
        payload = event.payload
        await self._loans.follow_borrower(
            str(payload.get("borrower_id") or event.aggregate_id),
            agent_id=str(payload.get("assigned_agent_id") or ""),
            branch_id=str(payload.get("branch_id") or ""),
            full_name=str(payload.get("full_name") or ""),
            session=session,
            version=int(payload.get("version") or 0),
        )


class LoanSearchIndexer(IdempotentConsumer):
    """Keeps the loans index in step with the ``loan.*`` events."""

    def __init__(
        self,
        *,
        client: MongoClient,
        db: AsyncDatabase[dict[str, Any]],
        amqp_url: str,
        exchange: str,
        queue: str,
        search: LoanSearch,
        today: Today,
    ) -> None:
        super().__init__(
            client=client,
            db=db,
            amqp_url=amqp_url,
            exchange=exchange,
            queue=queue,
            routing_keys=["loan.#"],
        )
        self.search = search
        self.backlog = SearchBacklog(db)
        self._today = today
        self._db = db

    async def handle(self, event: Event, session: AsyncClientSession) -> None:
        if event.type.startswith("loan.product_"):
            return
        doc = await self._db[LOANS].find_one({"_id": event.aggregate_id}, session=session)
        if doc is None:
            return
        loan = loan_from_doc(doc)
        try:
            await self.search.put([loan], self._today())
        except SearchUnavailable:
            # Committed with the processed marker; the sweeper indexes it later.
            await self.backlog.add(loan.id, session)
