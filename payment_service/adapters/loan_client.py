"""The loan service, as payment_service needs it, over gRPC.

Reads carry whoever is in ``caller_var``: the staff member for a request (so
the loan service scopes an agent to their own loans), or this service's own
SERVICE identity inside the recovery loop. ApplyRepayment and ReverseRepayment
always go with this service's own token (the loan service takes them from no
one else: money moves only with a payment record) and name the staff member
(``on_behalf_of``) so the loan records the poster, not this service, as the
transaction's actor. Answers are
classified here, once: an applied repayment, a refusal for good (the loan
said no), or nothing settled (unreachable, timed out, conflict retries used
up, an unexpected failure), which leaves the payment PENDING.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

import grpc
from grpc import aio

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from payment_service.domain.collection import DueLoan
from payment_service.domain.payment import (
    Allocation,
    Applied,
    ApplyOutcome,
    InstallmentSplit,
    LoanFacts,
    Payment,
    Refused,
    Unsettled,
    is_refusal,
)
from shared.grpc.status import from_rpc_error
from shared.money import Money, to_proto
from shared.records import record_of
from shared.service_identity import ServiceIdentity

log = logging.getLogger(__name__)

# ApplyRepayment retries its own version conflicts; ABORTED reaching us means it
# gave up under heavy contention. It is idempotent on payment_id, so ask again.
ABORTED_RETRIES = 4
DUE_PAGE_SIZE = 500
TRANSACTION_PAGE_SIZE = 500

Metadata = tuple[tuple[str, str], ...]
R = TypeVar("R")
A = TypeVar("A")


def _code(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, aio.AioRpcError) else grpc.StatusCode.UNKNOWN
    return str(code.name)


def _details(exc: grpc.RpcError) -> str:
    return (exc.details() if isinstance(exc, aio.AioRpcError) else "") or _code(exc)


def allocation_from_proto(a: loan_pb2.Allocation) -> Allocation:
    return Allocation(
        penalty=a.penalty.amount_minor,
        fee=a.fee.amount_minor,
        interest=a.interest.amount_minor,
        principal=a.principal.amount_minor,
        recovery=a.recovery.amount_minor,
        interest_waived=a.interest_waived.amount_minor,
        installments=tuple(
            InstallmentSplit(
                installment_number=i.installment_number,
                penalty=i.penalty.amount_minor,
                fee=i.fee.amount_minor,
                interest=i.interest.amount_minor,
                principal=i.principal.amount_minor,
            )
            for i in a.installments
        ),
    )


def facts_from_proto(loan: loan_pb2.Loan) -> LoanFacts:
    return record_of(LoanFacts, loan)


@dataclass(frozen=True, slots=True)
class ReversedOnLoan:
    loan_transaction_id: str
    replayed: bool


ReverseOutcome = ReversedOnLoan | Refused | Unsettled


class LoanClient:
    def __init__(self, channel: aio.Channel, identity: ServiceIdentity) -> None:
        self._stub = loan_pb2_grpc.LoanServiceStub(channel)
        self._identity = identity

    async def _as_service(self) -> Metadata | Unsettled:
        try:
            token = await self._identity.token()
        except grpc.RpcError as exc:  # auth_service down: try again later
            return Unsettled(f"no service token: {_code(exc)}: {_details(exc)}")
        return (("authorization", f"Bearer {token}"),)

    async def _move_money(
        self, call: Callable[[Metadata], Awaitable[R]], answer: Callable[[R], A]
    ) -> A | Refused | Unsettled:
        """``call`` with this service's token, asked again while the loan answers ABORTED,
        and its reply read by ``answer``; a failure is a refusal for good or leaves things
        unsettled."""
        metadata = await self._as_service()
        if isinstance(metadata, Unsettled):
            return metadata
        for attempt in range(1, ABORTED_RETRIES + 1):
            try:
                reply = await call(metadata)
            except grpc.RpcError as exc:
                code = _code(exc)
                if code == "ABORTED" and attempt < ABORTED_RETRIES:
                    await asyncio.sleep(0.02 * attempt)  # brief backoff before the same call
                    continue
                if is_refusal(code):
                    return Refused(code, _details(exc), from_rpc_error(exc).violations)
                return Unsettled(f"{code}: {_details(exc)}")
            return answer(reply)
        raise AssertionError("unreachable")

    async def apply(self, payment: Payment, *, agent_scope: str = "") -> ApplyOutcome:
        """``agent_scope``: apply only if the loan is that agent's (else NOT_FOUND)."""
        request = loan_pb2.ApplyRepaymentRequest(
            loan_id=payment.loan_id,
            payment_id=payment.id,
            amount=to_proto(payment.amount),
            value_date=payment.value_date.isoformat(),
            channel=payment.channel.value,  # the enum value's name
            # Recorded as the actor when the recovery loop calls as this service.
            on_behalf_of=payment.posted_by,
            agent_scope=agent_scope,
        )
        return await self._move_money(
            lambda metadata: self._stub.ApplyRepayment(request, metadata=metadata),
            lambda reply: Applied(
                allocation=allocation_from_proto(reply.allocation),
                loan_transaction_id=reply.transaction.id,
                recovery=reply.recovery,
                loan_closed=reply.closed,
                loan=facts_from_proto(reply.loan),
                replayed=reply.replayed,
            ),
        )

    async def owner(self, loan_id: str) -> LoanFacts | Refused | Unsettled:
        try:
            reply = await self._stub.GetLoan(loan_pb2.GetLoanRequest(id=loan_id))
        except grpc.RpcError as exc:
            code = _code(exc)
            return Refused(code, _details(exc)) if is_refusal(code) else Unsettled(code)
        return facts_from_proto(reply.loan)

    async def holds_payment(self, loan_id: str, payment_id: str) -> bool | Unsettled:
        """Whether the loan already carries a repayment for ``payment_id``."""
        pages = _every_page(
            lambda page: self._stub.ListTransactions(
                loan_pb2.ListTransactionsRequest(loan_id=loan_id, page=page)
            ),
            TRANSACTION_PAGE_SIZE,
        )
        try:
            async for reply in pages:
                if any(
                    t.payment_id == payment_id
                    and t.type in (loan_pb2.REPAYMENT, loan_pb2.RECOVERY)
                    for t in reply.transactions
                ):
                    return True
        except grpc.RpcError as exc:
            return Unsettled(f"{_code(exc)}: {_details(exc)}")
        return False

    async def reverse(self, payment: Payment, reason: str, requested_by: str) -> ReverseOutcome:
        request = loan_pb2.ReverseRepaymentRequest(
            payment_id=payment.id,
            reason=reason,
            loan_id=payment.loan_id,
            on_behalf_of=requested_by,
        )
        return await self._move_money(
            lambda metadata: self._stub.ReverseRepayment(request, metadata=metadata),
            lambda reply: ReversedOnLoan(reply.reversal.id, reply.replayed),
        )

    async def loans_due(self, agent_id: str, on: str) -> list[DueLoan]:
        """Every page of GetLoansDue; errors reach the caller as domain errors."""
        out: list[DueLoan] = []
        pages = _every_page(
            lambda page: self._stub.GetLoansDue(
                loan_pb2.GetLoansDueRequest(agent_id=agent_id, date=on, page=page)
            ),
            DUE_PAGE_SIZE,
        )
        try:
            async for reply in pages:
                for d in reply.loans:
                    currency = d.total_due.currency or d.amount_due.currency
                    out.append(
                        DueLoan(
                            loan_id=d.loan_id,
                            loan_number=d.loan_number,
                            borrower_id=d.borrower_id,
                            borrower_name=d.borrower_name,
                            oldest_due_date=_date(d.oldest_due_date),
                            amount_due=Money(d.amount_due.amount_minor, currency),
                            arrears_amount=Money(d.arrears_amount.amount_minor, currency),
                            days_past_due=d.days_past_due,
                        )
                    )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        return out


class _Paged(Protocol):
    @property
    def page(self) -> common_pb2.PageInfo: ...


P = TypeVar("P", bound=_Paged)


async def _every_page(
    fetch: Callable[[common_pb2.PageRequest], Awaitable[P]], page_size: int
) -> AsyncIterator[P]:
    """Each reply of a paged call, asking for the next page while the last one names one."""
    token = ""
    while True:
        reply = await fetch(common_pb2.PageRequest(page_size=page_size, page_token=token))
        yield reply
        token = reply.page.next_page_token
        if not token:
            return


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None
