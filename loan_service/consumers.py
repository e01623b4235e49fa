"""loan_service's inbound events: each handler is a driver, like the gRPC servicer.

``main.py`` runs each as an idempotent consumer of its own queue
(``Infrastructure.consumer``), so a handler's writes commit with the
processed-event marker.

* ``FollowBorrower``: loans follow their borrower. user_service's ``borrower.*``
  events move a reassigned borrower's loans to the new agent (agent scoping
  follows the borrower) and carry a renamed borrower's name.
* ``LoanSearchIndexer``: the service's own ``loan.*`` events keep the loans
  search index in step (see loan_service/adapters/search.py).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.loan_repository import LOAN_FIELDS, LOANS, loan_from_doc
from loan_service.adapters.search import LoanSearch, SearchBacklog, Today
from loan_service.service import LoanService
from shared.config import Settings
from shared.events import Event
from shared.runtime import queue_name
from shared.search import SearchUnavailable

SERVICE = "loan"
SEARCH_QUEUE, SEARCH_ROUTING_KEYS = "loan-search", ("loan.#",)
BORROWER_QUEUE, BORROWER_ROUTING_KEYS = "borrower-changes", (
    "borrower.reassigned",
    "borrower.updated",
)


def search_queue(settings: Settings) -> str:
    return queue_name(settings, SERVICE, SEARCH_QUEUE)


def borrower_queue(settings: Settings) -> str:
    return queue_name(settings, SERVICE, BORROWER_QUEUE)


class FollowBorrower:
    def __init__(self, loans: LoanService) -> None:
        self._loans = loans

    async def __call__(self, event: Event, session: AsyncClientSession) -> None:
        payload = event.payload
        await self._loans.follow_borrower(
            str(payload.get("borrower_id") or event.aggregate_id),
            agent_id=str(payload.get("assigned_agent_id") or ""),
            branch_id=str(payload.get("branch_id") or ""),
            full_name=str(payload.get("full_name") or ""),
            session=session,
            version=int(payload.get("version") or 0),
        )


class LoanSearchIndexer:
    """Indexes the loan *as MongoDB has it now*; parks it in the backlog while search is down.

    ``batch`` is the consumer's batch handler: the batch's loans read in one ``find``,
    indexed in one bulk request, or parked in one backlog write. A loan that several
    events of the batch name is read and indexed once, in its current version.
    """

    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], search: LoanSearch, today: Today
    ) -> None:
        self.search = search
        self.backlog = SearchBacklog(db)
        self._today = today
        self._db = db

    async def __call__(self, event: Event, session: AsyncClientSession) -> None:
        await self.batch([event], session)

    async def batch(self, events: list[Event], session: AsyncClientSession) -> None:
        ids = list(
            dict.fromkeys(e.aggregate_id for e in events if not e.type.startswith("loan.product_"))
        )
        if not ids:
            return
        if len(ids) == 1:
            doc = await self._db[LOANS].find_one({"_id": ids[0]}, LOAN_FIELDS, session=session)
            docs = [] if doc is None else [doc]
        else:
            cursor = self._db[LOANS].find({"_id": {"$in": ids}}, LOAN_FIELDS, session=session)
            docs = await cursor.to_list()
        loans = [loan_from_doc(doc) for doc in docs]
        if not loans:
            return
        try:
            await self.search.put(loans, self._today())
        except SearchUnavailable:
            # Committed with the processed markers; the sweeper indexes them later.
            await self.backlog.add_many([loan.id for loan in loans], session)
