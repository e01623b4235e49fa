"""Other systems call the services directly: each one checks the token itself."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest

from auth_service.domain.keys import SigningKey
from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from tests.e2e.conftest import Login, Stack

pytestmark = pytest.mark.e2e


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forgeries(token: str) -> dict[str, str]:
    head, body, sig = token.split(".")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    stranger = SigningKey.generate(datetime.now(UTC))
    expired = {**claims, "iat": claims["iat"] - 3600, "exp": claims["iat"] - 1800}
    return {
        "forged signature": f"{head}.{body}.{sig[::-1]}",
        "alg none": f"{b64({'alg': 'none', 'kid': header['kid']})}.{body}.",
        "wrong key, same kid": jwt.encode(
            claims, stranger.private_key(), algorithm="EdDSA", headers={"kid": header["kid"]}
        ),
        "unknown key": jwt.encode(
            claims, stranger.private_key(), algorithm="EdDSA", headers={"kid": stranger.kid}
        ),
        "tampered role": f"{head}.{b64({**claims, 'role': 'ADMIN'})}.{sig}",
        "expired (re-signed by a stranger)": jwt.encode(
            expired, stranger.private_key(), algorithm="EdDSA", headers={"kid": header["kid"]}
        ),
    }


async def test_bad_tokens_are_refused_by_a_service_called_directly(
    stack: Stack, admin: Login
) -> None:
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        users = user_pb2_grpc.UserServiceStub(channel)
        # The genuine token works directly, without the gateway.
        me = await users.GetMe(user_pb2.GetMeRequest(), metadata=md(admin.access_token))
        assert me.staff.id == admin.staff_id
        for name, bad in forgeries(admin.access_token).items():
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await users.ListStaff(user_pb2.ListStaffRequest(), metadata=md(bad))
            assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED, name
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await users.ListStaff(user_pb2.ListStaffRequest())
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_an_expired_genuine_token_is_refused(stack: Stack) -> None:
    # Sign with the real key (read from the auth service's own key ring).
    auth_infra = stack.infra["auth"]
    from auth_service.adapters.repository import AuthRepository

    keys = await AuthRepository(auth_infra.db).list_keys()
    active = [k for k in keys if k.retired_at is None][-1]
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode(
        {
            "iss": stack.settings.jwt_issuer,
            "sub": "someone",
            "role": "ADMIN",
            "jti": "x1",
            "iat": int(past.timestamp()),
            "exp": int((past + timedelta(minutes=15)).timestamp()),
            "typ": "access",
        },
        active.private_key(),
        algorithm="EdDSA",
        headers={"kid": active.kid},
    )
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await user_pb2_grpc.UserServiceStub(channel).ListStaff(
                user_pb2.ListStaffRequest(), metadata=md(token)
            )
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in (err.value.details() or "")


async def test_an_agent_calling_admin_rpcs_directly_is_denied(stack: Stack, admin: Login) -> None:
    agent = await stack.ready_staff(admin)
    async with (
        grpc.aio.insecure_channel(stack.hosts["user"].address) as user_channel,
        grpc.aio.insecure_channel(stack.hosts["auth"].address) as auth_channel,
    ):
        users = user_pb2_grpc.UserServiceStub(user_channel)
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        calls = {
            "ListStaff": users.ListStaff(
                user_pb2.ListStaffRequest(), metadata=md(agent.access_token)
            ),
            "CreateStaff": users.CreateStaff(
                user_pb2.CreateStaffRequest(), metadata=md(agent.access_token)
            ),
            "GetStaff (someone else)": users.GetStaff(
                user_pb2.GetStaffRequest(id=admin.staff_id), metadata=md(agent.access_token)
            ),
            "RotateKeys": auth.RotateKeys(
                auth_pb2.RotateKeysRequest(), metadata=md(agent.access_token)
            ),
            "CreateCredential": auth.CreateCredential(
                auth_pb2.CreateCredentialRequest(), metadata=md(agent.access_token)
            ),
        }
        for name, call in calls.items():
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED, name
        own = await users.GetStaff(
            user_pb2.GetStaffRequest(id=agent.staff_id), metadata=md(agent.access_token)
        )
        assert own.staff.email == agent.email


async def test_duplicate_staff_email_names_the_existing_record(stack: Stack, admin: Login) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    record, _ = await stack.create_staff(admin)
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await user_pb2_grpc.UserServiceStub(channel).CreateStaff(
                user_pb2.CreateStaffRequest(
                    role="AGENT",
                    full_name="Someone Else",
                    email=record["email"].upper(),
                    branch_id="BR-01",
                    initial_password="another-password-1",
                ),
                metadata=md(admin.access_token),
            )
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ResourceInfo.DESCRIPTOR)]
    info = error_details_pb2.ResourceInfo()
    infos[0].Unpack(info)
    assert info.resource_name == record["id"]


async def test_deactivated_agent_loses_refresh_and_login(stack: Stack, admin: Login) -> None:
    agent = await stack.ready_staff(admin)
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        users = user_pb2_grpc.UserServiceStub(channel)
        reply = await users.DeactivateStaff(
            user_pb2.DeactivateStaffRequest(id=agent.staff_id, reason="left the institution"),
            metadata=md(admin.access_token),
        )
        assert not reply.staff.active
        # The access token already handed out stops working too, not only refresh.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await users.GetMe(user_pb2.GetMeRequest(), metadata=md(agent.access_token))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await users.DeactivateStaff(
                user_pb2.DeactivateStaffRequest(id=admin.staff_id, reason="oops"),
                metadata=md(admin.access_token),
            )
        assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    async with grpc.aio.insecure_channel(stack.hosts["auth"].address) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=agent.refresh_token))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.Login(auth_pb2.LoginRequest(username=agent.email, password=agent.password))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_logins_change_only_through_the_staff_record(stack: Stack, admin: Login) -> None:
    """An admin's own token cannot reach the credential RPCs user_service uses.

    Otherwise an admin could create a login that no staff record shows, promote an
    agent behind the record's back, or let a deactivated member log in again.
    """
    agent = await stack.ready_staff(admin)
    async with (
        grpc.aio.insecure_channel(stack.hosts["user"].address) as user_channel,
        grpc.aio.insecure_channel(stack.hosts["auth"].address) as auth_channel,
    ):
        users = user_pb2_grpc.UserServiceStub(user_channel)
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        await users.DeactivateStaff(
            user_pb2.DeactivateStaffRequest(id=agent.staff_id, reason="left"),
            metadata=md(admin.access_token),
        )
        hidden = f"hidden-{agent.staff_id}@mfi-e2e.org"
        calls = {
            "CreateCredential": auth.CreateCredential(
                auth_pb2.CreateCredentialRequest(
                    staff_id=f"ghost-{agent.staff_id}",
                    username=hidden,
                    initial_password="Ghost-password-2026",
                    role=common_pb2.ADMIN,
                    branch_id="BR-01",
                ),
                metadata=md(admin.access_token),
            ),
            "UpdateCredential": auth.UpdateCredential(
                auth_pb2.UpdateCredentialRequest(staff_id=agent.staff_id, role=common_pb2.ADMIN),
                metadata=md(admin.access_token),
            ),
            "SetCredentialActive": auth.SetCredentialActive(
                auth_pb2.SetCredentialActiveRequest(staff_id=agent.staff_id, active=True),
                metadata=md(admin.access_token),
            ),
            "ResetPassword": auth.ResetPassword(
                auth_pb2.ResetPasswordRequest(
                    staff_id=agent.staff_id, temporary_password="Back-door-password-1"
                ),
                metadata=md(admin.access_token),
            ),
        }
        for name, call in calls.items():
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED, name
        # Nothing happened: the deactivated agent still cannot log in, the hidden one
        # does not exist.
        for username, password in ((agent.email, agent.password), (hidden, "Ghost-password-2026")):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await auth.Login(auth_pb2.LoginRequest(username=username, password=password))
            assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # The staff record's way still works (user_service calls with its own token).
        await users.ReactivateStaff(
            user_pb2.ReactivateStaffRequest(id=agent.staff_id), metadata=md(admin.access_token)
        )
        back = await auth.Login(
            auth_pb2.LoginRequest(username=agent.email, password=agent.password)
        )
        assert back.identity.staff_id == agent.staff_id


async def test_unknown_enum_numbers_are_invalid_argument(stack: Stack, admin: Login) -> None:
    # Protobuf keeps enum numbers it does not know; a direct caller can send one.
    from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc

    async with (
        grpc.aio.insecure_channel(stack.hosts["user"].address) as user_channel,
        grpc.aio.insecure_channel(stack.hosts["payment"].address) as payment_channel,
    ):
        users = user_pb2_grpc.UserServiceStub(user_channel)
        payments = payment_pb2_grpc.PaymentServiceStub(payment_channel)
        token = md(admin.access_token)
        staff = user_pb2.ListStaffRequest()
        staff.role = 99  # type: ignore[assignment]
        by_channel = payment_pb2.ListPaymentsRequest()
        by_channel.channel = 99  # type: ignore[assignment]
        by_status = payment_pb2.ListPaymentsRequest()
        by_status.status = 42  # type: ignore[assignment]
        calls = [
            ("role", users.ListStaff(staff, metadata=token)),
            ("channel", payments.ListPayments(by_channel, metadata=token)),
            ("status", payments.ListPayments(by_status, metadata=token)),
        ]
        for field, call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            assert field in (err.value.details() or "")


async def test_reuse_detection_voids_the_family_access_tokens_for_direct_callers(
    stack: Stack, admin: Login
) -> None:
    agent = await stack.ready_staff(admin)
    async with (
        grpc.aio.insecure_channel(stack.hosts["auth"].address) as auth_channel,
        grpc.aio.insecure_channel(stack.hosts["user"].address) as user_channel,
    ):
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        users = user_pb2_grpc.UserServiceStub(user_channel)
        victim = await auth.Login(
            auth_pb2.LoginRequest(username=agent.email, password=agent.password)
        )
        thief = await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=victim.refresh_token))
        me = await users.GetMe(user_pb2.GetMeRequest(), metadata=md(thief.access_token))
        assert me.staff.id == agent.staff_id

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=victim.refresh_token))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        for token in (thief.access_token, victim.access_token):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await users.GetMe(user_pb2.GetMeRequest(), metadata=md(token))
            assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert "revoked" in (err.value.details() or "")
        # The agent's other session is another family and keeps working.
        me = await users.GetMe(user_pb2.GetMeRequest(), metadata=md(agent.access_token))
        assert me.staff.id == agent.staff_id
