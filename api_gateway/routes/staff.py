"""/api/v1/staff: staff management, admin only (checked here and in user_service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response, status
from google.protobuf.field_mask_pb2 import FieldMask

from api_gateway.convert import common as convert
from api_gateway.deps import State
from api_gateway.routes import (
    PageSize,
    PageToken,
    RecordId,
    Router,
    error_responses,
    expected_version,
    tagged,
)
from api_gateway.schemas import common as schemas
from api_gateway.security import AdminOnly
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2
from shared.errors import InvalidArgument

router = Router(prefix="/api/v1/staff", tags=["staff"])



@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a staff member and their login (initial password, must change)",
    responses=error_responses(401, 403, 409, 422, 503),
)
async def create_staff(
    body: schemas.CreateStaffRequest, caller: AdminOnly, state: State, response: Response
) -> schemas.StaffOut:
    result = await state.clients.users.CreateStaff(
        user_pb2.CreateStaffRequest(
            role=convert.role_value(body.role),
            full_name=body.full_name,
            email=body.email,
            phone=body.phone,
            branch_id=body.branch_id,
            initial_password=body.initial_password,
        )
    )
    staff = convert.staff(result.staff)
    response.headers["Location"] = f"/api/v1/staff/{staff.id}"
    return tagged(response, staff)


@router.get(
    "",
    summary="List staff",
    responses=error_responses(401, 403, 422, 503),
)
async def list_staff(
    caller: AdminOnly,
    state: State,
    role: Annotated[schemas.RoleName | None, Query()] = None,
    branch_id: Annotated[str | None, Query(max_length=64)] = None,
    active: Annotated[bool | None, Query()] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    order_by: Annotated[
        str, Query(max_length=200, description="created_at, full_name, email; `desc` allowed")
    ] = "",
) -> schemas.StaffList:
    request = user_pb2.ListStaffRequest(
        role=convert.role_value(role),
        branch_id=branch_id or "",
        page=common_pb2.PageRequest(
            page_size=page_size, page_token=page_token, order_by=order_by
        ),
    )
    if active is not None:
        request.active = active
    result = await state.clients.users.ListStaff(request)
    return convert.to_model(schemas.StaffList, result)


@router.get(
    "/{staff_id}",
    summary="One staff member",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_staff(
    staff_id: RecordId, caller: AdminOnly, state: State, response: Response
) -> schemas.StaffOut:
    result = await state.clients.users.GetStaff(user_pb2.GetStaffRequest(id=staff_id))
    return tagged(response, convert.staff(result.staff))


@router.patch(
    "/{staff_id}",
    summary="Change the given fields (JSON merge); If-Match or expected_version guards races",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def update_staff(
    staff_id: RecordId,
    body: schemas.UpdateStaffRequest,
    caller: AdminOnly,
    state: State,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag of a read, e.g. "3"')] = None,
) -> schemas.StaffOut:
    changes = body.changed_fields()
    if not changes:
        raise InvalidArgument.field(
            "body", "names no field to change (full_name, email, phone, branch_id, role)"
        )
    values = user_pb2.Staff(
        full_name=changes.get("full_name", ""),
        email=changes.get("email", ""),
        phone=changes.get("phone", ""),
        branch_id=changes.get("branch_id", ""),
        role=convert.role_value(changes.get("role")),
    )
    result = await state.clients.users.UpdateStaff(
        user_pb2.UpdateStaffRequest(
            id=staff_id,
            staff=values,
            update_mask=FieldMask(paths=sorted(changes)),
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, convert.staff(result.staff))


@router.post(
    "/{staff_id}/deactivate",
    summary="Block login and end every session of this staff member",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def deactivate_staff(
    staff_id: RecordId, body: schemas.DeactivateStaffRequest, caller: AdminOnly, state: State
) -> schemas.StaffOut:
    result = await state.clients.users.DeactivateStaff(
        user_pb2.DeactivateStaffRequest(id=staff_id, reason=body.reason)
    )
    return convert.staff(result.staff)


@router.post(
    "/{staff_id}/reactivate",
    summary="Let a deactivated staff member log in again",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reactivate_staff(staff_id: RecordId, caller: AdminOnly, state: State) -> schemas.StaffOut:
    result = await state.clients.users.ReactivateStaff(
        user_pb2.ReactivateStaffRequest(id=staff_id)
    )
    return convert.staff(result.staff)


@router.post(
    "/{staff_id}/reset-password",
    summary="Set a temporary password that must be changed at next login",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reset_staff_password(
    staff_id: RecordId, body: schemas.ResetPasswordRequest, caller: AdminOnly, state: State
) -> schemas.StaffOut:
    result = await state.clients.users.ResetStaffPassword(
        user_pb2.ResetStaffPasswordRequest(id=staff_id, temporary_password=body.temporary_password)
    )
    return convert.staff(result.staff)
