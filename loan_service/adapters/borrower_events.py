"""Loans follow their borrower: user_service's borrower events, consumed once each.

A reassigned borrower's loans move to the new agent (agent scoping follows
the borrower), and a renamed borrower's loans show the new name. The
changes and their ``loan.*`` events commit with the processed-event marker.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.service import LoanService
from shared.events import Event, IdempotentConsumer
from shared.mongo import MongoClient

ROUTING_KEYS = ("borrower.reassigned", "borrower.updated")


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
            routing_keys=list(ROUTING_KEYS),
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
