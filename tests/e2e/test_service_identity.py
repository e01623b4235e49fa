"""Services doing background work call others with their own SERVICE token."""

from __future__ import annotations

import grpc
import pytest

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from shared.identity import Role
from shared.runtime import service_identity
from tests.e2e.conftest import Login, Stack

pytestmark = pytest.mark.e2e


async def test_a_service_gets_a_token_that_verifies_as_service(stack: Stack) -> None:
    identity = service_identity(stack.infra["user"])
    token = await identity.token()
    assert await identity.token() == token  # cached until close to expiry
    async with grpc.aio.insecure_channel(stack.hosts["auth"].address) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).ValidateToken(
            auth_pb2.ValidateTokenRequest(access_token=token)
        )
    assert reply.identity.staff_id == "service:user"
    assert common_pb2.Role.Name(reply.identity.role) == Role.SERVICE.value
    caller = await identity.caller()
    assert caller.is_service


async def test_a_wrong_secret_or_unknown_service_is_refused(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.hosts["auth"].address) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(service="payment", secret="guess")
            )
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(service="bank", secret="guess")
            )
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_service_token_only_opens_what_the_tables_allow(stack: Stack) -> None:
    token = await service_identity(stack.infra["loan" if "loan" in stack.infra else "user"]).token()
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        users = user_pb2_grpc.UserServiceStub(channel)
        for call in (
            users.ListStaff(
                user_pb2.ListStaffRequest(), metadata=(("authorization", f"Bearer {token}"),)
            ),
            users.GetMe(user_pb2.GetMeRequest(), metadata=(("authorization", f"Bearer {token}"),)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    # The REST API is for staff: a service token opens none of it, not even reads.
    headers = {"Authorization": f"Bearer {token}"}
    for url in ("/api/v1/me", "/api/v1/loans", "/api/v1/borrowers", "/api/v1/payments"):
        r = await stack.client.get(url, headers=headers)
        assert r.status_code == 403, (url, r.text)


async def test_staff_cannot_be_given_the_service_role(stack: Stack, admin: Login) -> None:
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await user_pb2_grpc.UserServiceStub(channel).CreateStaff(
                user_pb2.CreateStaffRequest(
                    role="SERVICE",
                    full_name="Robot",
                    email="robot@mfi-e2e.org",
                    branch_id="BR-01",
                    initial_password="robot-password-1",
                ),
                metadata=(("authorization", f"Bearer {admin.access_token}"),),
            )
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    r = await stack.client.post(
        "/api/v1/staff",
        json={
            "role": "SERVICE",
            "full_name": "Robot",
            "email": "robot2@mfi-e2e.org",
            "branch_id": "BR-01",
            "initial_password": "robot-password-1",
        },
        headers=admin.headers,
    )
    assert r.status_code == 422
