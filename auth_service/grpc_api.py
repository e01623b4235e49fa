"""AuthService servicer: proto <-> use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from auth_service.adapters.repository import Credential
from auth_service.domain.keys import SigningKey
from auth_service.service import AuthService, TokenPair
from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2
from shared.errors import InvalidArgument
from shared.grpc.access import (
    ADMIN_ONLY,
    PUBLIC,
    SELF_SERVICE,
    SERVICE_ONLY,
    Access,
    access_table,
)
from shared.identity import current_caller
from shared.tokens import TokenVerifier

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

ACCESS: dict[str, Access] = access_table(
    SERVICE_NAME,
    {
        "Login": PUBLIC,
        "Refresh": PUBLIC,
        "ValidateToken": PUBLIC,
        "GetPublicKeys": PUBLIC,
        "Logout": SELF_SERVICE,
        "ChangePassword": SELF_SERVICE,
        # user_service only, with its own token, after its own admin check: the staff record
        # (and its audit) is the only way to a login. An admin calling these directly
        # could make a login nobody can see in the staff list, change a role behind the
        # record's back, or let a deactivated member log in again.
        "CreateCredential": SERVICE_ONLY,
        "UpdateCredential": SERVICE_ONLY,
        "SetCredentialActive": SERVICE_ONLY,
        "ResetPassword": SERVICE_ONLY,
        "UnlockCredential": ADMIN_ONLY,
        "RotateKeys": ADMIN_ONLY,
        # Proves itself with the shared secret instead of a token.
        "IssueServiceToken": PUBLIC,
    },
)

Ctx = aio.ServicerContext[Any, Any]


def _ts(value: datetime | int | None) -> Timestamp:
    ts = Timestamp()
    if value is None:
        return ts
    if isinstance(value, int):
        ts.FromSeconds(value)
    else:
        ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def _role(value: str) -> str:
    # Protobuf accepts enum names; an unknown stored value maps to UNSPECIFIED.
    return value if value in ("ADMIN", "AGENT", "SERVICE") else "ROLE_UNSPECIFIED"


def _role_name(value: int, field: str) -> str:
    if value not in (common_pb2.ADMIN, common_pb2.AGENT):
        raise InvalidArgument.field(field, "must be ADMIN or AGENT")
    return common_pb2.Role.Name(value)


def _identity(staff_id: str, role: str, branch_id: str, username: str) -> auth_pb2.StaffIdentity:
    return auth_pb2.StaffIdentity(
        staff_id=staff_id,
        role=_role(role),
        agent_id=staff_id if role == "AGENT" else "",
        branch_id=branch_id,
        username=username,
    )


def jwk_proto(key: SigningKey) -> auth_pb2.JsonWebKey:
    jwk = key.jwk()
    return auth_pb2.JsonWebKey(
        kid=jwk["kid"], kty=jwk["kty"], alg=jwk["alg"], use=jwk["use"], crv=jwk["crv"], x=jwk["x"]
    )


def jwk_dict(key: auth_pb2.JsonWebKey) -> dict[str, str]:
    """The JWK as a JSON object, for pyjwt; only the fields that are set."""
    fields = ("kid", "kty", "alg", "use", "crv", "x", "n", "e")
    return {f: getattr(key, f) for f in fields if getattr(key, f)}


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, service: AuthService, verifier: TokenVerifier, refresh_ttl: int) -> None:
        self._service = service
        self._verifier = verifier
        self._refresh_ttl = refresh_ttl

    def _pair_fields(self, pair: TokenPair) -> dict[str, Any]:
        p = pair.principal
        return {
            "access_token": pair.access.token,
            "expires_in": pair.expires_in,
            "refresh_token": pair.refresh_token,
            "refresh_expires_in": self._refresh_ttl,
            "token_type": "Bearer",
            "identity": _identity(p.staff_id, p.role, p.branch_id, p.username),
        }

    def _credential(self, cred: Credential) -> auth_pb2.Credential:
        return auth_pb2.Credential(
            staff_id=cred.staff_id,
            username=cred.username,
            role=_role(cred.role),
            agent_id=cred.staff_id if cred.role == "AGENT" else "",
            branch_id=cred.branch_id,
            active=cred.active,
            must_change_password=cred.must_change_password,
        )

    async def Login(self, request: auth_pb2.LoginRequest, context: Ctx) -> auth_pb2.LoginResponse:
        pair = await self._service.login(
            request.username,
            request.password,
            client_ip=request.client_ip,
            user_agent=request.user_agent,
        )
        return auth_pb2.LoginResponse(
            must_change_password=pair.principal.must_change_password, **self._pair_fields(pair)
        )

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: Ctx
    ) -> auth_pb2.RefreshResponse:
        pair = await self._service.refresh(request.refresh_token)
        return auth_pb2.RefreshResponse(
            must_change_password=pair.principal.must_change_password, **self._pair_fields(pair)
        )

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: Ctx
    ) -> auth_pb2.LogoutResponse:
        await self._service.logout(
            current_caller(), request.refresh_token, all_sessions=request.all_sessions
        )
        return auth_pb2.LogoutResponse()

    async def ValidateToken(
        self, request: auth_pb2.ValidateTokenRequest, context: Ctx
    ) -> auth_pb2.ValidateTokenResponse:
        if not request.access_token:
            raise InvalidArgument.field("access_token", "is required")
        caller = await self._verifier.verify(request.access_token)
        return auth_pb2.ValidateTokenResponse(
            identity=_identity(caller.subject, caller.role.value, caller.branch_id, ""),
            jti=caller.token_id,
            issued_at=_ts(caller.issued_at),
            expires_at=_ts(caller.expires_at),
            must_change_password=caller.must_change_password,
            kid=caller.key_id,
        )

    async def ChangePassword(
        self, request: auth_pb2.ChangePasswordRequest, context: Ctx
    ) -> auth_pb2.ChangePasswordResponse:
        pair = await self._service.change_password(
            current_caller(), request.old_password, request.new_password
        )
        return auth_pb2.ChangePasswordResponse(**self._pair_fields(pair))

    async def GetPublicKeys(
        self, request: auth_pb2.GetPublicKeysRequest, context: Ctx
    ) -> auth_pb2.GetPublicKeysResponse:
        keys = await self._service.public_keys()
        current = await self._service.keyring.active()
        return auth_pb2.GetPublicKeysResponse(
            keys=[jwk_proto(k) for k in keys], current_kid=current.kid, max_age_seconds=60
        )

    async def CreateCredential(
        self, request: auth_pb2.CreateCredentialRequest, context: Ctx
    ) -> auth_pb2.CreateCredentialResponse:
        cred = await self._service.create_credential(
            staff_id=request.staff_id,
            username=request.username,
            role=_role_name(request.role, "role"),
            branch_id=request.branch_id,
            initial_password=request.initial_password,
        )
        return auth_pb2.CreateCredentialResponse(credential=self._credential(cred))

    async def UpdateCredential(
        self, request: auth_pb2.UpdateCredentialRequest, context: Ctx
    ) -> auth_pb2.UpdateCredentialResponse:
        cred = await self._service.update_credential(
            request.staff_id,
            username=request.username if request.HasField("username") else None,
            role=_role_name(request.role, "role") if request.HasField("role") else None,
            branch_id=request.branch_id if request.HasField("branch_id") else None,
        )
        return auth_pb2.UpdateCredentialResponse(credential=self._credential(cred))

    async def SetCredentialActive(
        self, request: auth_pb2.SetCredentialActiveRequest, context: Ctx
    ) -> auth_pb2.SetCredentialActiveResponse:
        cred = await self._service.update_credential(request.staff_id, active=request.active)
        return auth_pb2.SetCredentialActiveResponse(credential=self._credential(cred))

    async def ResetPassword(
        self, request: auth_pb2.ResetPasswordRequest, context: Ctx
    ) -> auth_pb2.ResetPasswordResponse:
        cred = await self._service.reset_password(
            current_caller(), request.staff_id, request.temporary_password
        )
        return auth_pb2.ResetPasswordResponse(credential=self._credential(cred))

    async def UnlockCredential(
        self, request: auth_pb2.UnlockCredentialRequest, context: Ctx
    ) -> auth_pb2.UnlockCredentialResponse:
        cred = await self._service.unlock(request.staff_id)
        return auth_pb2.UnlockCredentialResponse(credential=self._credential(cred))

    async def RotateKeys(
        self, request: auth_pb2.RotateKeysRequest, context: Ctx
    ) -> auth_pb2.RotateKeysResponse:
        key = await self._service.rotate_keys()
        keys = await self._service.public_keys()
        return auth_pb2.RotateKeysResponse(new_kid=key.kid, keys=[jwk_proto(k) for k in keys])

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: Ctx
    ) -> auth_pb2.IssueServiceTokenResponse:
        issued = await self._service.issue_service_token(request.service, request.secret)
        return auth_pb2.IssueServiceTokenResponse(
            access_token=issued.token,
            expires_in=issued.expires_at - int(datetime.now(UTC).timestamp()),
        )
