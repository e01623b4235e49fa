"""Protobuf messages to the JSON models of the HTTP API, and back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf.timestamp_pb2 import Timestamp

from api_gateway.schemas import common as schemas
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2


def instant(message: Any, field: str) -> datetime | None:
    """An unset Timestamp is "not set", not 1970."""
    if not message.HasField(field):
        return None
    ts: Timestamp = getattr(message, field)
    return ts.ToDatetime(tzinfo=UTC)


def role_name(value: int) -> schemas.RoleName | None:
    if value == common_pb2.ROLE_UNSPECIFIED:
        return None
    try:
        return schemas.RoleName(common_pb2.Role.Name(value))
    except ValueError:
        return None


def role_value(role: schemas.RoleName | None) -> common_pb2.Role:
    if role is None:
        return common_pb2.ROLE_UNSPECIFIED
    return cast(common_pb2.Role, common_pb2.Role.Value(role.value))


def money(value: common_pb2.Money) -> schemas.Money:
    return schemas.Money(amount_minor=value.amount_minor, currency=value.currency)


def audit(value: common_pb2.Audit) -> schemas.Audit:
    return schemas.Audit(
        created_by=value.created_by,
        created_at=instant(value, "created_at"),
        updated_by=value.updated_by,
        updated_at=instant(value, "updated_at"),
    )


def page_info(value: common_pb2.PageInfo) -> schemas.PageInfo:
    return schemas.PageInfo(next_page_token=value.next_page_token, total_size=value.total_size)


def identity(value: Any) -> schemas.Identity:
    return schemas.Identity(
        staff_id=value.staff_id,
        role=role_name(value.role),
        agent_id=value.agent_id,
        branch_id=value.branch_id,
        username=value.username,
    )


def tokens(value: Any, *, must_change_password: bool) -> schemas.TokenResponse:
    """LoginResponse, RefreshResponse and ChangePasswordResponse share these fields."""
    return schemas.TokenResponse(
        access_token=value.access_token,
        token_type=value.token_type or "Bearer",
        expires_in=value.expires_in,
        refresh_token=value.refresh_token,
        refresh_expires_in=value.refresh_expires_in,
        must_change_password=must_change_password,
        identity=identity(value.identity),
    )


def staff(value: user_pb2.Staff) -> schemas.StaffOut:
    return schemas.StaffOut(
        id=value.id,
        role=role_name(value.role),
        full_name=value.full_name,
        email=value.email,
        phone=value.phone,
        branch_id=value.branch_id,
        active=value.active,
        deactivation_reason=value.deactivation_reason,
        audit=audit(value.audit),
        version=value.version,
    )
