"""User service use cases for staff: create, update, (de)activate, reset passwords, list.

Borrower use cases are in ``borrower_service.py``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.clock import utcnow
from shared.errors import Conflict, FailedPrecondition, InvalidArgument, PermissionDenied
from shared.identity import Caller
from shared.paging import Page
from shared.ports import Events, Session, Transactions
from user_service.adapters.staff_repository import StaffRepository, StaleStaffVersion
from user_service.domain.staff import UPDATABLE, Staff, new_staff, parse_role, validate_fields

log = logging.getLogger(__name__)


def staff_payload(staff: Staff) -> dict[str, Any]:
    return {
        "staff_id": staff.id,
        "role": staff.role.value,
        "full_name": staff.full_name,
        "email": staff.email,
        "branch_id": staff.branch_id,
        "active": staff.active,
        "version": staff.version,
    }


class Credentials(Protocol):
    async def create(
        self, *, staff_id: str, username: str, password: str, role: str, branch_id: str
    ) -> None: ...

    async def update(
        self,
        staff_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        branch_id: str | None = None,
    ) -> None: ...

    async def set_active(self, staff_id: str, active: bool) -> None: ...

    async def reset_password(self, staff_id: str, password: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NewStaff:
    role: str
    full_name: str
    email: str
    phone: str
    branch_id: str
    initial_password: str


class StaffService:
    def __init__(
        self,
        repo: StaffRepository,
        credentials: Credentials,
        transactions: Transactions,
        events: Events,
        *,
        phone_region: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._credentials = credentials
        self._tx = transactions
        self._events = events
        self._region = phone_region
        self._clock = clock

    async def _record(self, session: Session, event_type: str, staff: Staff) -> None:
        await self._events.add(
            session, [self._events.new_event(event_type, staff.id, staff_payload(staff))]
        )

    async def _update(
        self, caller: Caller, staff_id: str, version: int, changes: dict[str, Any], event: str
    ) -> Staff:
        """Compare-and-set update and its event, in one transaction."""

        async def body(session: Session) -> Staff:
            updated = await self._repo.update(
                staff_id, version, changes, caller.subject, self._clock(), session
            )
            await self._record(session, event, updated)
            return updated

        try:
            updated = await self._tx(body)
        except StaleStaffVersion as stale:
            raise Conflict(
                f"staff {staff_id} was changed concurrently (version {stale.current}, "
                f"expected {stale.expected}); reload and retry"
            ) from None
        self._events.notify()
        return updated

    async def create(self, caller: Caller, new: NewStaff) -> Staff:
        fields = validate_fields(
            role=new.role,
            full_name=new.full_name,
            email=new.email,
            phone=new.phone,
            branch_id=new.branch_id,
            phone_region=self._region,
        )
        if not new.initial_password:
            raise InvalidArgument.field("initial_password", "is required")
        now = self._clock()
        staff = new_staff(uuid.uuid4().hex, fields, actor=caller.subject, at=now)

        # The unique email index decides races; only then is a credential made.
        async def insert(session: Session) -> None:
            await self._repo.insert(staff, session)
            await self._record(session, "user.staff_created", staff)

        await self._tx(insert)
        self._events.notify()
        try:
            await self._credentials.create(
                staff_id=staff.id,
                username=staff.email,
                password=new.initial_password,
                role=staff.role.value,
                branch_id=staff.branch_id,
            )
        except BaseException:

            async def undo(session: Session) -> None:
                await self._repo.remove_unactivated(staff.id, session)
                await self._record(session, "user.staff_creation_rolled_back", staff)

            await self._tx(undo)
            self._events.notify()
            raise
        return staff

    async def get(self, caller: Caller, staff_id: str) -> Staff:
        if not caller.is_admin and caller.subject != staff_id:
            raise PermissionDenied("agents may only read their own staff record")
        return await self._repo.get(staff_id)

    async def me(self, caller: Caller) -> Staff:
        return await self._repo.get(caller.subject)

    async def list_staff(
        self, *, role: str | None, branch_id: str | None, active: bool | None, page: Page
    ) -> tuple[list[Staff], int]:
        if role:
            parse_role(role)
        return await self._repo.list(role=role, branch_id=branch_id, active=active, page=page)

    async def update(
        self,
        caller: Caller,
        staff_id: str,
        values: dict[str, str],
        paths: list[str],
        expected_version: int = 0,
    ) -> Staff:
        if not paths:
            raise InvalidArgument.field("update_mask", "names no field to update")
        unknown = [p for p in paths if p not in UPDATABLE]
        if unknown:
            raise InvalidArgument.field(
                "update_mask",
                f"cannot update {', '.join(unknown)}; allowed: {', '.join(UPDATABLE)}",
            )
        current = await self._repo.get(staff_id)
        if expected_version and expected_version != current.version:
            raise Conflict(
                f"staff {staff_id} is at version {current.version}, not {expected_version}"
            )
        merged = {
            "role": current.role.value,
            "full_name": current.full_name,
            "email": current.email,
            "phone": current.phone,
            "branch_id": current.branch_id,
        }
        merged.update({p: values.get(p, "") for p in paths})
        checked = validate_fields(phone_region=self._region, **merged)
        changes: dict[str, Any] = {p: checked[p] for p in paths}
        if "role" in changes:
            if staff_id == caller.subject and changes["role"] != current.role:
                raise FailedPrecondition("an admin cannot change their own role")
            changes["role"] = changes["role"].value
        updated = await self._update(
            caller, staff_id, current.version, changes, "user.staff_updated"
        )
        cred_changes = {
            "username": changes.get("email"),
            "role": changes.get("role"),
            "branch_id": changes.get("branch_id"),
        }
        if any(v is not None for v in cred_changes.values()):
            try:
                await self._credentials.update(staff_id, **cred_changes)
            except BaseException:
                # Put the record back so staff and credential never disagree.
                revert = {k: getattr(current, k) for k in changes}
                if "role" in revert:
                    revert["role"] = current.role.value
                await self._update(caller, staff_id, updated.version, revert, "user.staff_updated")
                raise
        return updated

    async def deactivate(self, caller: Caller, staff_id: str, reason: str) -> Staff:
        if staff_id == caller.subject:
            raise FailedPrecondition("you cannot deactivate your own account")
        if not reason.strip():
            raise InvalidArgument.field("reason", "is required")
        current = await self._repo.get(staff_id)
        if not current.active:
            raise FailedPrecondition(f"staff {staff_id} is already deactivated")
        # Credential first: a deactivated record must never keep a working login.
        await self._credentials.set_active(staff_id, False)
        return await self._update(
            caller,
            staff_id,
            current.version,
            {"active": False, "deactivation_reason": reason.strip()},
            "user.staff_deactivated",
        )

    async def reactivate(self, caller: Caller, staff_id: str) -> Staff:
        current = await self._repo.get(staff_id)
        if current.active:
            raise FailedPrecondition(f"staff {staff_id} is already active")
        updated = await self._update(
            caller,
            staff_id,
            current.version,
            {"active": True, "deactivation_reason": ""},
            "user.staff_reactivated",
        )
        await self._credentials.set_active(staff_id, True)
        return updated

    async def reset_password(self, caller: Caller, staff_id: str, password: str) -> Staff:
        # A reset needs no old password: on one's own account it would let a stolen access
        # token take the account over for good. Checked here, where the person is known:
        # auth_service is called as this service.
        if staff_id == caller.subject:
            raise FailedPrecondition(
                "you cannot reset your own password; change it with your current one"
            )
        staff = await self._repo.get(staff_id)
        await self._credentials.reset_password(staff_id, password)
        return staff
