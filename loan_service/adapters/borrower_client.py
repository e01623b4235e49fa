"""Reads borrowers from user_service over gRPC (the only way loan_service sees them).

The caller's bearer token travels with every call (client interceptor), so
user_service scopes the answer itself: an agent asking for another agent's
borrower gets NOT_FOUND, which is exactly what loan_service must answer too.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpc import aio

from microfinance.user.v1 import user_pb2, user_pb2_grpc
from shared.errors import NotFound
from shared.grpc.status import from_rpc_error


@dataclass(frozen=True, slots=True)
class BorrowerInfo:
    """What loan_service needs to know about a borrower."""

    id: str
    full_name: str
    # Enum names: "ACTIVE", "INACTIVE", "BLACKLISTED"; "PENDING", "VERIFIED", "REJECTED".
    account_status: str
    kyc_status: str
    agent_id: str
    branch_id: str


def borrower_info(borrower: user_pb2.Borrower) -> BorrowerInfo:
    names = (borrower.first_name, borrower.middle_name, borrower.last_name)
    return BorrowerInfo(
        id=borrower.id,
        full_name=" ".join(n.strip() for n in names if n.strip()),
        account_status=user_pb2.AccountStatus.Name(borrower.account_status),
        kyc_status=user_pb2.KycStatus.Name(borrower.kyc_status),
        agent_id=borrower.assigned_agent_id,
        branch_id=borrower.branch_id,
    )


class GrpcBorrowers:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = user_pb2_grpc.BorrowerServiceStub(channel)

    async def get(self, borrower_id: str) -> BorrowerInfo:
        try:
            reply = await self._stub.GetBorrower(user_pb2.GetBorrowerRequest(id=borrower_id))
        except aio.AioRpcError as exc:
            err = from_rpc_error(exc)
            if isinstance(err, NotFound):
                raise NotFound(f"borrower {borrower_id} not found") from exc
            raise err from exc
        return borrower_info(reply.borrower)
