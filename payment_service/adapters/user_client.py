"""user_service, as payment_service needs it: borrower phones and staff names."""

from __future__ import annotations

import logging

import grpc
from grpc import aio

from microfinance.user.v1 import user_pb2, user_pb2_grpc
from shared.grpc.status import from_rpc_error

log = logging.getLogger(__name__)

BATCH = 500  # BatchGetBorrowers takes at most this many ids


class UserClient:
    def __init__(self, channel: aio.Channel) -> None:
        self._borrowers = user_pb2_grpc.BorrowerServiceStub(channel)
        self._staff = user_pb2_grpc.UserServiceStub(channel)

    async def phones(self, borrower_ids: list[str]) -> dict[str, str]:
        """Borrower id -> phone, in the caller's scope.

        A sheet without phones is still worth printing: while user_service is
        unreachable the phones are left blank rather than failing the sheet.
        """
        out: dict[str, str] = {}
        ids = sorted({i for i in borrower_ids if i})
        for start in range(0, len(ids), BATCH):
            try:
                reply = await self._borrowers.BatchGetBorrowers(
                    user_pb2.BatchGetBorrowersRequest(ids=ids[start : start + BATCH])
                )
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, aio.AioRpcError) else None
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    log.warning("borrower phones unavailable: %s", code.name if code else exc)
                    return out
                raise from_rpc_error(exc) from exc
            out.update({b.id: b.phone for b in reply.borrowers})
        return out

    async def staff_name(self, staff_id: str) -> str:
        """The staff member's name, or "" when the caller may not read it or it is gone."""
        if not staff_id:
            return ""
        try:
            reply = await self._staff.GetStaff(user_pb2.GetStaffRequest(id=staff_id))
        except grpc.RpcError:
            return ""
        return str(reply.staff.full_name)
