"""payment_service's inbound events: each handler is a driver, like the gRPC servicer.

``FollowLoan``: payments follow their loan. When an admin reassigns a borrower,
loan_service moves the borrower's loans to the new agent and says so per loan
(``loan.reassigned``). Payments are scoped by the loan's agent, so they move too:
the new agent sees the loan's payment history and its collections, and the
previous agent keeps only the payments they posted. ``main.py`` runs it as an
idempotent consumer, so the change commits with the processed-event marker.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from payment_service.domain.payment import LoanOwner
from payment_service.service import PaymentService
from shared.config import Settings
from shared.events import Event
from shared.runtime import queue_name

# loan.borrower_updated may carry a new branch without a new agent.
LOAN_QUEUE, LOAN_ROUTING_KEYS = "loan-changes", ("loan.reassigned", "loan.borrower_updated")


def loan_events_queue(settings: Settings) -> str:
    return queue_name(settings, "payment", LOAN_QUEUE)


def owner_from(event: Event) -> tuple[str, LoanOwner]:
    payload = event.payload
    occurred: datetime = event.occurred_at
    return str(payload.get("loan_id") or event.aggregate_id), LoanOwner(
        agent_id=str(payload.get("agent_id") or ""),
        branch_id=str(payload.get("branch_id") or ""),
        as_of=occurred,
    )


class FollowLoan:
    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments

    async def __call__(self, event: Event, session: AsyncClientSession) -> None:
        loan_id, owner = owner_from(event)
        await self._payments.follow_loan(loan_id, owner, session)
