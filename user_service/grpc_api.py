"""UserService and BorrowerService servicers, and who may call what."""

from __future__ import annotations

from typing import Any

from grpc import aio

from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from shared.grpc.access import (
    ADMIN_ONLY,
    ANY_STAFF,
    SELF_SERVICE,
    Access,
    access_table,
    merge_tables,
)
from shared.identity import current_caller
from shared.paging import page_of
from shared.protos import audit, message_of, page_info, page_request, search_page_info
from shared.validation import proto_enum_name
from user_service.adapters.borrower_repository import SORTABLE as BORROWER_ORDER_BY
from user_service.adapters.staff_repository import SORTABLE
from user_service.borrower_convert import (
    borrower_input,
    borrower_proto,
    enum_name,
    history_proto,
)
from user_service.borrower_service import BorrowerService, ListQuery
from user_service.domain.staff import Staff
from user_service.service import NewStaff, StaffService

USER_SERVICE = user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name
BORROWER_SERVICE = user_pb2.DESCRIPTOR.services_by_name["BorrowerService"].full_name

ACCESS: dict[str, Access] = merge_tables(
    [
        access_table(
            USER_SERVICE,
            {
                "CreateStaff": ADMIN_ONLY,
                "ListStaff": ADMIN_ONLY,
                "UpdateStaff": ADMIN_ONLY,
                "DeactivateStaff": ADMIN_ONLY,
                "ReactivateStaff": ADMIN_ONLY,
                "ResetStaffPassword": ADMIN_ONLY,
                "GetStaff": ANY_STAFF,
                "GetMe": SELF_SERVICE,
            },
        ),
        access_table(
            BORROWER_SERVICE,
            {
                # Agents reach only their own borrowers; the use cases scope them.
                "CreateBorrower": ANY_STAFF,
                "GetBorrower": ANY_STAFF,
                "BatchGetBorrowers": ANY_STAFF,
                "UpdateBorrower": ANY_STAFF,
                "ListBorrowers": ANY_STAFF,
                "SearchBorrowers": ANY_STAFF,
                "DeactivateBorrower": ANY_STAFF,
                "GetBorrowerHistory": ANY_STAFF,
                # Agents: their own INACTIVE borrowers / back to PENDING only (use case rules).
                "ReactivateBorrower": ANY_STAFF,
                "SetKycStatus": ANY_STAFF,
                "BlacklistBorrower": ADMIN_ONLY,
                "ReassignBorrower": ADMIN_ONLY,
            },
        ),
    ]
)

Ctx = aio.ServicerContext[Any, Any]


def staff_proto(staff: Staff) -> user_pb2.Staff:
    return message_of(
        user_pb2.Staff,
        staff,
        audit=audit(staff.created_by, staff.created_at, staff.updated_by, staff.updated_at),
    )


def _role_name(value: int, field: str = "role") -> str:

    return proto_enum_name(common_pb2.Role, value, field)


class UserServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, staff: StaffService) -> None:
        self._staff = staff

    async def CreateStaff(
        self, request: user_pb2.CreateStaffRequest, context: Ctx
    ) -> user_pb2.CreateStaffResponse:
        staff = await self._staff.create(
            current_caller(),
            NewStaff(
                role=_role_name(request.role),
                full_name=request.full_name,
                email=request.email,
                phone=request.phone,
                branch_id=request.branch_id,
                initial_password=request.initial_password,
            ),
        )
        return user_pb2.CreateStaffResponse(staff=staff_proto(staff))

    async def GetStaff(
        self, request: user_pb2.GetStaffRequest, context: Ctx
    ) -> user_pb2.GetStaffResponse:
        staff = await self._staff.get(current_caller(), request.id)
        return user_pb2.GetStaffResponse(staff=staff_proto(staff))

    async def GetMe(self, request: user_pb2.GetMeRequest, context: Ctx) -> user_pb2.GetMeResponse:
        caller = current_caller()
        staff = await self._staff.me(caller)
        return user_pb2.GetMeResponse(
            staff=staff_proto(staff), must_change_password=caller.must_change_password
        )

    async def ListStaff(
        self, request: user_pb2.ListStaffRequest, context: Ctx
    ) -> user_pb2.ListStaffResponse:
        page = page_request(request.page, SORTABLE, [("created_at", 1)])
        items, total = await self._staff.list_staff(
            role=_role_name(request.role) or None,
            branch_id=request.branch_id or None,
            active=request.active if request.HasField("active") else None,
            page=page,
        )
        return user_pb2.ListStaffResponse(
            staff=[staff_proto(s) for s in items], page=page_info(page, len(items), total)
        )

    async def UpdateStaff(
        self, request: user_pb2.UpdateStaffRequest, context: Ctx
    ) -> user_pb2.UpdateStaffResponse:
        values = {
            "full_name": request.staff.full_name,
            "email": request.staff.email,
            "phone": request.staff.phone,
            "branch_id": request.staff.branch_id,
            "role": _role_name(request.staff.role, "staff.role"),
        }
        staff = await self._staff.update(
            current_caller(),
            request.id,
            values,
            list(request.update_mask.paths),
            request.expected_version,
        )
        return user_pb2.UpdateStaffResponse(staff=staff_proto(staff))

    async def DeactivateStaff(
        self, request: user_pb2.DeactivateStaffRequest, context: Ctx
    ) -> user_pb2.DeactivateStaffResponse:
        staff = await self._staff.deactivate(current_caller(), request.id, request.reason)
        return user_pb2.DeactivateStaffResponse(staff=staff_proto(staff))

    async def ReactivateStaff(
        self, request: user_pb2.ReactivateStaffRequest, context: Ctx
    ) -> user_pb2.ReactivateStaffResponse:
        staff = await self._staff.reactivate(current_caller(), request.id)
        return user_pb2.ReactivateStaffResponse(staff=staff_proto(staff))

    async def ResetStaffPassword(
        self, request: user_pb2.ResetStaffPasswordRequest, context: Ctx
    ) -> user_pb2.ResetStaffPasswordResponse:
        staff = await self._staff.reset_password(
            current_caller(), request.id, request.temporary_password
        )
        return user_pb2.ResetStaffPasswordResponse(staff=staff_proto(staff))


class BorrowerServicer(user_pb2_grpc.BorrowerServiceServicer):
    """Borrowers: proto <-> domain; scoping and rules live in BorrowerService."""

    def __init__(self, borrowers: BorrowerService) -> None:
        self._borrowers = borrowers

    async def CreateBorrower(
        self, request: user_pb2.CreateBorrowerRequest, context: Ctx
    ) -> user_pb2.CreateBorrowerResponse:
        borrower = await self._borrowers.create(
            current_caller(), borrower_input(request.borrower)
        )
        return user_pb2.CreateBorrowerResponse(borrower=borrower_proto(borrower))

    async def GetBorrower(
        self, request: user_pb2.GetBorrowerRequest, context: Ctx
    ) -> user_pb2.GetBorrowerResponse:
        borrower = await self._borrowers.get(current_caller(), request.id)
        return user_pb2.GetBorrowerResponse(borrower=borrower_proto(borrower))

    async def BatchGetBorrowers(
        self, request: user_pb2.BatchGetBorrowersRequest, context: Ctx
    ) -> user_pb2.BatchGetBorrowersResponse:
        found = await self._borrowers.batch_get(current_caller(), list(request.ids))
        return user_pb2.BatchGetBorrowersResponse(borrowers=[borrower_proto(b) for b in found])

    async def UpdateBorrower(
        self, request: user_pb2.UpdateBorrowerRequest, context: Ctx
    ) -> user_pb2.UpdateBorrowerResponse:
        borrower = await self._borrowers.update(
            current_caller(),
            request.id,
            borrower_input(request.borrower),
            list(request.update_mask.paths),
            request.expected_version,
        )
        return user_pb2.UpdateBorrowerResponse(borrower=borrower_proto(borrower))

    async def ListBorrowers(
        self, request: user_pb2.ListBorrowersRequest, context: Ctx
    ) -> user_pb2.ListBorrowersResponse:
        page = page_request(request.page, BORROWER_ORDER_BY, [("created_at", -1)])
        items, total = await self._borrowers.list_borrowers(
            current_caller(),
            ListQuery(
                agent_id=request.agent_id,
                kyc_status=enum_name(user_pb2.KycStatus, request.kyc_status),
                account_status=enum_name(user_pb2.AccountStatus, request.account_status),
                branch_id=request.branch_id,
                created_from=request.created.from_date,
                created_to=request.created.to_date,
            ),
            page,
        )
        return user_pb2.ListBorrowersResponse(
            borrowers=[borrower_proto(b) for b in items], page=page_info(page, len(items), total)
        )

    async def SearchBorrowers(
        self, request: user_pb2.SearchBorrowersRequest, context: Ctx
    ) -> user_pb2.SearchBorrowersResponse:
        # Ranked by relevance: order_by is ignored, as the contract says.
        page = page_of(request.page.page_size, request.page.page_token, "", {}, [])
        items, total = await self._borrowers.search(
            current_caller(),
            request.q,
            page,
            enum_name(user_pb2.AccountStatus, request.account_status),
        )
        return user_pb2.SearchBorrowersResponse(
            borrowers=[borrower_proto(b) for b in items], page=search_page_info(page, total)
        )

    async def DeactivateBorrower(
        self, request: user_pb2.DeactivateBorrowerRequest, context: Ctx
    ) -> user_pb2.DeactivateBorrowerResponse:
        borrower = await self._borrowers.deactivate(current_caller(), request.id, request.reason)
        return user_pb2.DeactivateBorrowerResponse(borrower=borrower_proto(borrower))

    async def ReactivateBorrower(
        self, request: user_pb2.ReactivateBorrowerRequest, context: Ctx
    ) -> user_pb2.ReactivateBorrowerResponse:
        borrower = await self._borrowers.reactivate(current_caller(), request.id, request.note)
        return user_pb2.ReactivateBorrowerResponse(borrower=borrower_proto(borrower))

    async def BlacklistBorrower(
        self, request: user_pb2.BlacklistBorrowerRequest, context: Ctx
    ) -> user_pb2.BlacklistBorrowerResponse:
        borrower = await self._borrowers.blacklist(current_caller(), request.id, request.reason)
        return user_pb2.BlacklistBorrowerResponse(borrower=borrower_proto(borrower))

    async def ReassignBorrower(
        self, request: user_pb2.ReassignBorrowerRequest, context: Ctx
    ) -> user_pb2.ReassignBorrowerResponse:
        borrower = await self._borrowers.reassign(
            current_caller(), request.id, request.new_agent_id, request.reason
        )
        return user_pb2.ReassignBorrowerResponse(borrower=borrower_proto(borrower))

    async def SetKycStatus(
        self, request: user_pb2.SetKycStatusRequest, context: Ctx
    ) -> user_pb2.SetKycStatusResponse:
        borrower = await self._borrowers.set_kyc_status(
            current_caller(),
            request.id,
            enum_name(user_pb2.KycStatus, request.status),
            request.note,
        )
        return user_pb2.SetKycStatusResponse(borrower=borrower_proto(borrower))

    async def GetBorrowerHistory(
        self, request: user_pb2.GetBorrowerHistoryRequest, context: Ctx
    ) -> user_pb2.GetBorrowerHistoryResponse:
        # Newest first, always: order_by is not offered here.
        page = page_of(request.page.page_size, request.page.page_token, "", {}, [])
        entries, total = await self._borrowers.history(current_caller(), request.id, page)
        return user_pb2.GetBorrowerHistoryResponse(
            entries=[history_proto(e) for e in entries], page=page_info(page, len(entries), total)
        )
