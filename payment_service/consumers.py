"""payment_service's inbound events: each consumer is a driver, like the gRPC servicer.

Payments follow their loan: loan_service's ``loan.reassigned`` events, consumed once each.

When an admin reassigns a borrower, loan_service moves the borrower's loans to
the new agent and says so per loan. Payments are scoped by the loan's agent,
so they move too: the new agent sees the loan's payment history and its
collections, and the previous agent keeps only the payments they posted. The
change commits with the processed-event marker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from payment_service.adapters.payment_repository import LoanOwner
from payment_service.service import PaymentService
from shared.config import Settings
from shared.events import Event, IdempotentConsumer
from shared.mongo import MongoClient

# loan.borrower_updated may carry a new branch without a new agent.
ROUTING_KEYS = ("loan.reassigned", "loan.borrower_updated")


def loan_events_queue(settings: Settings) -> str:
    # Named after the exchange, so deployments (and test runs) sharing a broker stay apart.
    return f"{settings.amqp_exchange}.payment.loan-changes"


def owner_from(event: Event) -> tuple[str, LoanOwner]:
    payload = event.payload
    occurred: datetime = event.occurred_at
    return str(payload.get("loan_id") or event.aggregate_id), LoanOwner(
        agent_id=str(payload.get("agent_id") or ""),
        branch_id=str(payload.get("branch_id") or ""),
        as_of=occurred,
    )


class LoanEventsConsumer(IdempotentConsumer):
    def __init__(
        self,
        *,
        client: MongoClient,
        db: AsyncDatabase[dict[str, Any]],
        amqp_url: str,
        exchange: str,
        queue: str,
        payments: PaymentService,
    ) -> None:
        super().__init__(
            client=client,
            db=db,
            amqp_url=amqp_url,
            exchange=exchange,
            queue=queue,
            routing_keys=list(ROUTING_KEYS),
        )
        self._payments = payments

    async def handle(self, event: Event, session: AsyncClientSession) -> None:
        loan_id, owner = owner_from(event)
        await self._payments.follow_loan(loan_id, owner, session)
