"""Calls to auth_service for the credentials that go with staff records.

user_service checks that an admin is asking, records the change on the staff
record, then calls with its own SERVICE token: auth_service takes credential
changes from no one else, so no login exists or changes without its record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
from grpc import aio

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from shared.errors import FieldViolation
from shared.grpc.status import from_rpc_error
from shared.service_identity import ServiceIdentity

Metadata = tuple[tuple[str, str], ...]


class GrpcCredentials:
    def __init__(self, channel: aio.Channel, identity: ServiceIdentity) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._identity = identity

    async def _as_service(self) -> Metadata:
        try:
            token = await self._identity.token()
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        return (("authorization", f"Bearer {token}"),)

    async def _call(
        self, call: Callable[[Metadata], Awaitable[object]], rename: dict[str, str] | None = None
    ) -> None:
        """``call`` with this service's token; its errors become domain errors, with the
        fields ``rename`` maps named as our callers know them."""
        try:
            await call(await self._as_service())
        except aio.AioRpcError as exc:
            raise _translate(exc, rename) from exc

    async def create(
        self, *, staff_id: str, username: str, password: str, role: str, branch_id: str
    ) -> None:
        request = auth_pb2.CreateCredentialRequest(
            staff_id=staff_id,
            username=username,
            initial_password=password,
            role=role,
            agent_id=staff_id if role == "AGENT" else "",
            branch_id=branch_id,
        )
        await self._call(
            lambda metadata: self._stub.CreateCredential(request, metadata=metadata),
            {"initial_password": "initial_password"},
        )

    async def update(
        self,
        staff_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        branch_id: str | None = None,
    ) -> None:
        request = auth_pb2.UpdateCredentialRequest(staff_id=staff_id)
        if username is not None:
            request.username = username
        if role is not None:
            request.role = role  # type: ignore[assignment]
            request.agent_id = staff_id if role == "AGENT" else ""
        if branch_id is not None:
            request.branch_id = branch_id
        await self._call(lambda metadata: self._stub.UpdateCredential(request, metadata=metadata))

    async def set_active(self, staff_id: str, active: bool) -> None:
        request = auth_pb2.SetCredentialActiveRequest(staff_id=staff_id, active=active)
        await self._call(
            lambda metadata: self._stub.SetCredentialActive(request, metadata=metadata)
        )

    async def reset_password(self, staff_id: str, password: str) -> None:
        request = auth_pb2.ResetPasswordRequest(staff_id=staff_id, temporary_password=password)
        await self._call(
            lambda metadata: self._stub.ResetPassword(request, metadata=metadata),
            {"new_password": "temporary_password"},
        )


def _translate(exc: aio.AioRpcError, rename: dict[str, str] | None = None) -> Exception:
    err = from_rpc_error(exc)
    if rename and err.violations:
        renamed = [
            FieldViolation(rename.get(v.field, v.field), v.description) for v in err.violations
        ]
        err = type(err)(
            "; ".join(f"{v.field}: {v.description}" for v in renamed), violations=renamed
        )
    return err
