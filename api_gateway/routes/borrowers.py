"""/api/v1/borrowers: KYC records, search, lifecycle and the audit trail.

Agents reach only their own borrowers: user_service scopes every call by the
token, and another agent's borrower is a 404, never a 403. Admins see all,
reassign, blacklist and verify KYC.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status
from google.protobuf.field_mask_pb2 import FieldMask

from api_gateway.convert import borrowers as borrower_convert
from api_gateway.convert import common as convert
from api_gateway.deps import State
from api_gateway.routes import (
    IfMatch,
    PageSize,
    PageToken,
    RecordId,
    Router,
    error_responses,
    expected_version,
    tagged,
)
from api_gateway.schemas import borrowers as s
from api_gateway.security import AdminOnly, AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2
from shared.errors import FieldViolation, InvalidArgument
from shared.validation import parse_date

router = Router(prefix="/api/v1/borrowers", tags=["borrowers"])

DateQuery = Annotated[str | None, Query(pattern=s.DATE_PATTERN, description="YYYY-MM-DD")]


def _created_range(created_from: str | None, created_to: str | None) -> common_pb2.DateRange:
    """Checked here so errors name the query parameters sent, not the proto's created.*."""
    start = parse_date(created_from, "created_from") if created_from else None
    end = parse_date(created_to, "created_to") if created_to else None
    if start and end and start > end:
        raise InvalidArgument.field("created_to", "is before created_from")
    return common_pb2.DateRange(from_date=created_from or "", to_date=created_to or "")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a borrower (agents: assigned to themselves; admins: to an active agent)",
    responses=error_responses(401, 403, 409, 422, 503),
)
async def create_borrower(
    body: s.BorrowerCreate, caller: AnyStaff, state: State, response: Response
) -> s.BorrowerOut:
    result = await state.clients.borrowers.CreateBorrower(
        user_pb2.CreateBorrowerRequest(borrower=borrower_convert.borrower_in(body))
    )
    borrower = borrower_convert.borrower(result.borrower)
    response.headers["Location"] = f"/api/v1/borrowers/{borrower.id}"
    return tagged(response, borrower)


@router.get(
    "",
    summary="Search (q: name with typos, phone in any format, ID number) or list with filters",
    responses=error_responses(401, 403, 422, 503),
)
async def list_borrowers(
    caller: AnyStaff,
    state: State,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Search text; results ranked by relevance."),
    ] = None,
    agent_id: Annotated[
        str | None, Query(max_length=64, description="Admins only; agents always see their own.")
    ] = None,
    kyc_status: Annotated[s.KycStatusName | None, Query()] = None,
    account_status: Annotated[s.AccountStatusName | None, Query()] = None,
    branch_id: Annotated[str | None, Query(max_length=64)] = None,
    created_from: DateQuery = None,
    created_to: DateQuery = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    order_by: Annotated[
        str,
        Query(max_length=200, description="created_at, last_name, first_name; `desc` allowed"),
    ] = "",
) -> s.BorrowerList:
    status_value = borrower_convert.enum_value(user_pb2.AccountStatus, account_status)
    if q is not None:
        # A search is ranked; of the list filters only account_status applies to it.
        given = {
            "agent_id": agent_id, "kyc_status": kyc_status, "branch_id": branch_id,
            "created_from": created_from, "created_to": created_to, "order_by": order_by or None,
        }
        extra = [name for name, value in given.items() if value is not None]
        if extra:
            raise InvalidArgument.fields(
                [FieldViolation(n, "cannot be combined with q (search)") for n in extra]
            )
        found = await state.clients.borrowers.SearchBorrowers(
            user_pb2.SearchBorrowersRequest(
                q=q,
                account_status=status_value,
                page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
            )
        )
        return convert.to_model(s.BorrowerList, found)
    listed = await state.clients.borrowers.ListBorrowers(
        user_pb2.ListBorrowersRequest(
            agent_id=agent_id or "",
            kyc_status=borrower_convert.enum_value(user_pb2.KycStatus, kyc_status),
            account_status=status_value,
            created=_created_range(created_from, created_to),
            branch_id=branch_id or "",
            page=common_pb2.PageRequest(
                page_size=page_size, page_token=page_token, order_by=order_by
            ),
        )
    )
    return convert.to_model(s.BorrowerList, listed)


@router.get(
    "/{borrower_id}",
    summary="One borrower (cached)",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_borrower(
    borrower_id: RecordId, caller: AnyStaff, state: State, response: Response
) -> s.BorrowerOut:
    result = await state.clients.borrowers.GetBorrower(
        user_pb2.GetBorrowerRequest(id=borrower_id)
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.patch(
    "/{borrower_id}",
    summary="Change the given fields (JSON merge); audited; If-Match guards races",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def update_borrower(
    borrower_id: RecordId,
    body: s.BorrowerPatch,
    caller: AnyStaff,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> s.BorrowerOut:
    paths = body.mask()
    if not paths:
        raise InvalidArgument.field("body", "names no field to change")
    result = await state.clients.borrowers.UpdateBorrower(
        user_pb2.UpdateBorrowerRequest(
            id=borrower_id,
            borrower=borrower_convert.borrower_in(body),
            update_mask=FieldMask(paths=paths),
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.post(
    "/{borrower_id}/deactivate",
    summary="ACTIVE -> INACTIVE with a reason (there is no delete)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def deactivate_borrower(
    borrower_id: RecordId, body: s.ReasonIn, caller: AnyStaff, state: State,
    response: Response,
) -> s.BorrowerOut:
    result = await state.clients.borrowers.DeactivateBorrower(
        user_pb2.DeactivateBorrowerRequest(id=borrower_id, reason=body.reason)
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.post(
    "/{borrower_id}/reactivate",
    summary="Back to ACTIVE (agents: their own INACTIVE borrowers; admins: any)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reactivate_borrower(
    borrower_id: RecordId, caller: AnyStaff, state: State, response: Response,
    body: s.NoteIn | None = None,
) -> s.BorrowerOut:
    result = await state.clients.borrowers.ReactivateBorrower(
        user_pb2.ReactivateBorrowerRequest(id=borrower_id, note=body.note if body else "")
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.post(
    "/{borrower_id}/blacklist",
    summary="Blacklist with a reason (admin)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def blacklist_borrower(
    borrower_id: RecordId, body: s.ReasonIn, caller: AdminOnly, state: State,
    response: Response,
) -> s.BorrowerOut:
    result = await state.clients.borrowers.BlacklistBorrower(
        user_pb2.BlacklistBorrowerRequest(id=borrower_id, reason=body.reason)
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.post(
    "/{borrower_id}/reassign",
    summary="Move the borrower to another active agent (admin)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reassign_borrower(
    borrower_id: RecordId, body: s.ReassignIn, caller: AdminOnly, state: State,
    response: Response,
) -> s.BorrowerOut:
    result = await state.clients.borrowers.ReassignBorrower(
        user_pb2.ReassignBorrowerRequest(
            id=borrower_id, new_agent_id=body.agent_id, reason=body.reason
        )
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.post(
    "/{borrower_id}/kyc",
    summary="Set the KYC status with a note (VERIFIED/REJECTED: admin)",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def set_kyc_status(
    borrower_id: RecordId, body: s.KycIn, caller: AnyStaff, state: State, response: Response
) -> s.BorrowerOut:
    result = await state.clients.borrowers.SetKycStatus(
        user_pb2.SetKycStatusRequest(
            id=borrower_id,
            status=borrower_convert.enum_value(user_pb2.KycStatus, body.status),
            note=body.note,
        )
    )
    return tagged(response, borrower_convert.borrower(result.borrower))


@router.get(
    "/{borrower_id}/history",
    summary="The audit trail: who changed which fields, when (newest first)",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def borrower_history(
    borrower_id: RecordId,
    caller: AnyStaff,
    state: State,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> s.HistoryList:
    result = await state.clients.borrowers.GetBorrowerHistory(
        user_pb2.GetBorrowerHistoryRequest(
            id=borrower_id,
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
        )
    )
    return convert.to_model(s.HistoryList, result)
