"""Borrower use cases: load, check scope, apply the domain rules, save with history and event.

Every write is one MongoDB transaction holding the borrower, its identity keys,
its history entry and its outbox event; the search index and the cache follow
from there (the index through the event, the cache by a versioned tombstone after commit).
Agents reach only the borrowers assigned to them and get NOT_FOUND for any
other id, so ids of other agents' borrowers never leak through an error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.clock import business_date as local_date
from shared.clock import utcnow
from shared.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from shared.identity import Caller, Role
from shared.paging import Page
from shared.ports import Events, Session, Transactions
from shared.records import created
from shared.validation import parse_date
from user_service.adapters.borrower_cache import BorrowerCache
from user_service.adapters.borrower_repository import (
    BorrowerFilter,
    BorrowerRepository,
    DuplicateIdentity,
    StaleVersion,
)
from user_service.adapters.borrower_search import BorrowerSearch, check_query
from user_service.adapters.staff_repository import StaffRepository
from user_service.domain import borrower as rules
from user_service.domain.borrower import (
    AccountStatus,
    Borrower,
    BorrowerInput,
    HistoryAction,
    HistoryEntry,
    KycStatus,
    RiskProfile,
)

log = logging.getLogger(__name__)

MAX_BATCH = 500
# Re-read and re-apply an update this many times when another writer got in first.
UPDATE_ATTEMPTS = 3

EVENT_FOR = {
    HistoryAction.CREATED: "borrower.created",
    HistoryAction.UPDATED: "borrower.updated",
    HistoryAction.DEACTIVATED: "borrower.deactivated",
    HistoryAction.REACTIVATED: "borrower.reactivated",
    HistoryAction.BLACKLISTED: "borrower.blacklisted",
    HistoryAction.REASSIGNED: "borrower.reassigned",
    HistoryAction.KYC_STATUS_CHANGED: "borrower.kyc_status_changed",
}
EVENT_TYPES = tuple(EVENT_FOR.values())


def borrower_payload(b: Borrower, changed: Sequence[str] = ()) -> dict[str, Any]:
    """What other services need to know; no contact details or document numbers."""
    return {
        "borrower_id": b.id,
        "version": b.version,
        "full_name": b.profile.full_name,
        "assigned_agent_id": b.assigned_agent_id,
        "branch_id": b.branch_id,
        "kyc_status": b.kyc_status.value,
        "account_status": b.account_status.value,
        "risk_profile": b.risk_profile.value if b.risk_profile else "",
        "changed_fields": list(changed),
    }


@dataclass(frozen=True, slots=True)
class ListQuery:
    agent_id: str = ""
    kyc_status: str = ""
    account_status: str = ""
    branch_id: str = ""
    created_from: str = ""
    created_to: str = ""


class BorrowerService:
    def __init__(
        self,
        repo: BorrowerRepository,
        staff: StaffRepository,
        cache: BorrowerCache,
        search: BorrowerSearch,
        transactions: Transactions,
        events: Events,
        *,
        phone_region: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        business_date: Callable[[], date] | None = None,
        timezone: ZoneInfo | None = None,
    ) -> None:
        self._repo = repo
        self._staff = staff
        self._cache = cache
        self._search = search
        self._tx = transactions
        self._events = events
        self._region = phone_region
        self._clock = clock
        self._today = business_date or (lambda: local_date(self._clock(), timezone))

    # ------------------------------------------------------------ helpers

    async def _visible(self, caller: Caller, borrower_id: str, session: Session = None) -> Borrower:
        """The borrower, or NOT_FOUND when it does not exist *or* is not the caller's."""
        borrower = await self._repo.find(borrower_id, session) if borrower_id else None
        if borrower is None or not rules.visible_to(borrower, caller):
            raise NotFound(f"borrower {borrower_id} not found")
        return borrower

    async def _active_agent(self, agent_id: str, field: str) -> str:
        agent_id = agent_id.strip()
        if not agent_id:
            raise InvalidArgument.field(field, "is required")
        try:
            staff = await self._staff.get(agent_id)
        except NotFound:
            raise InvalidArgument.field(field, f"no staff member has the id {agent_id}") from None
        if staff.role is not Role.AGENT:
            raise InvalidArgument.field(field, f"staff member {agent_id} is not an AGENT")
        if not staff.active:
            raise FailedPrecondition(f"agent {agent_id} is deactivated")
        return agent_id

    def _entry(
        self,
        caller: Caller,
        action: HistoryAction,
        old: Borrower | None,
        new: Borrower,
        reason: str = "",
    ) -> HistoryEntry:
        assert new.updated_at is not None
        return HistoryEntry(
            id=uuid.uuid4().hex,
            borrower_id=new.id,
            actor=caller.subject,
            at=new.updated_at,
            action=action,
            changes=rules.diff(old, new),
            reason=reason,
            version=new.version,
        )

    async def _record(self, session: Session, entry: HistoryEntry, borrower: Borrower) -> None:
        await self._repo.add_history(entry, session)
        payload = borrower_payload(borrower, [c.field for c in entry.changes])
        await self._events.add(
            session, [self._events.new_event(EVENT_FOR[entry.action], borrower.id, payload)]
        )

    async def _duplicate(
        self, key: str, documents: Sequence[rules.IdentityDocument]
    ) -> AlreadyExists:
        existing = await self._repo.owner_of(key)
        index = next((i for i, d in enumerate(documents) if d.key == key), 0)
        kind = key.partition(":")[0]
        message = f"a borrower with this {kind} number already exists"
        if existing:
            message += f": {existing}"
        return AlreadyExists(
            message,
            violations=[
                FieldViolation(f"identity_documents[{index}].number", "already exists")
            ],
            existing_id=existing,
        )

    async def _write(
        self,
        caller: Caller,
        action: HistoryAction,
        current: Borrower,
        change: Callable[[Borrower], Borrower],
        *,
        reason: str = "",
        expected_version: int = 0,
    ) -> Borrower:
        """Apply ``change`` to the current record and save it with its history and event.

        If another writer got in first, re-read and re-apply (a few times) unless the
        caller pinned ``expected_version``, which then answers ABORTED.
        """
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            if expected_version and current.version != expected_version:
                raise Conflict(
                    f"borrower {current.id} is at version {current.version}, not "
                    f"{expected_version}; reload and retry"
                )
            changed = change(current)
            now = self._clock()
            new = replace(
                changed, updated_by=caller.subject, updated_at=now, version=current.version + 1
            )
            entry = self._entry(caller, action, current, new, reason)
            if not entry.changes and action is HistoryAction.UPDATED:
                return current  # nothing to write: no version bump, no event
            base = current

            async def body(session: Session, new: Borrower = new, base: Borrower = base,
                           entry: HistoryEntry = entry) -> None:
                await self._repo.replace(new, base.version, base.profile.identity_keys, session)
                await self._record(session, entry, new)

            try:
                await self._tx(body)
            except DuplicateIdentity as dup:
                raise await self._duplicate(dup.key, new.profile.identity_documents) from None
            except StaleVersion:
                if expected_version or attempt == UPDATE_ATTEMPTS:
                    raise Conflict(
                        f"borrower {current.id} was changed concurrently; reload and retry"
                    ) from None
                current = await self._visible(caller, current.id)
                continue
            self._events.notify()
            await self._cache.invalidate(new.id, new.version)
            return new
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ use cases

    async def create(self, caller: Caller, inp: BorrowerInput) -> Borrower:
        profile = rules.validate_input(inp, today=self._today(), phone_region=self._region)
        if caller.is_admin:
            agent_id = await self._active_agent(inp.assigned_agent_id, "assigned_agent_id")
        else:
            agent_id = caller.acting_agent_id
            if inp.assigned_agent_id.strip() and inp.assigned_agent_id.strip() != agent_id:
                raise PermissionDenied("an agent registers borrowers for themselves only")
        risk = rules.parse_enum(RiskProfile, inp.risk_profile, "risk_profile")
        if risk is not None and not caller.is_admin:
            raise PermissionDenied("only an admin may set risk_profile")
        branch = rules.check_branch(inp.branch_id) or caller.branch_id
        now = self._clock()
        borrower = Borrower(
            id=uuid.uuid4().hex,
            profile=profile,
            assigned_agent_id=agent_id,
            branch_id=branch,
            kyc_status=KycStatus.PENDING,
            risk_profile=risk,
            account_status=AccountStatus.ACTIVE,
            **created(caller.subject, now),
        )
        entry = self._entry(caller, HistoryAction.CREATED, None, borrower)

        async def body(session: Session) -> None:
            await self._repo.insert(borrower, session)
            await self._record(session, entry, borrower)

        try:
            await self._tx(body)
        except DuplicateIdentity as dup:
            raise await self._duplicate(dup.key, profile.identity_documents) from None
        self._events.notify()
        return borrower

    async def get(self, caller: Caller, borrower_id: str) -> Borrower:
        """Read-through cached; the scope check runs on every read, cached or not."""
        borrower = await self._cache.get(borrower_id) if borrower_id else None
        if borrower is None:
            borrower = await self._repo.find(borrower_id) if borrower_id else None
            if borrower is not None:
                await self._cache.put(borrower)
        if borrower is None or not rules.visible_to(borrower, caller):
            raise NotFound(f"borrower {borrower_id} not found")
        return borrower

    async def batch_get(self, caller: Caller, ids: Sequence[str]) -> list[Borrower]:
        if len(ids) > MAX_BATCH:
            raise InvalidArgument.field("ids", f"at most {MAX_BATCH} ids per call")
        found = await self._repo.get_many(list(dict.fromkeys(i for i in ids if i)))
        return [
            found[i] for i in ids if i in found and rules.visible_to(found[i], caller)
        ]

    async def update(
        self,
        caller: Caller,
        borrower_id: str,
        given: BorrowerInput,
        paths: Sequence[str],
        expected_version: int = 0,
    ) -> Borrower:
        mask = rules.check_mask(paths, caller)
        current = await self._visible(caller, borrower_id)
        today = self._today()

        def change(b: Borrower) -> Borrower:
            merged = rules.overlay(rules.to_input(b), given, mask)
            profile = rules.validate_input(merged, today=today, phone_region=self._region)
            out = rules.apply_profile(b, profile)
            if "branch_id" in mask:
                out = replace(out, branch_id=rules.check_branch(merged.branch_id))
            if "risk_profile" in mask:
                out = replace(
                    out, risk_profile=rules.parse_enum(
                        RiskProfile, merged.risk_profile, "risk_profile"
                    )
                )
            return out

        return await self._write(
            caller, HistoryAction.UPDATED, current, change, expected_version=expected_version
        )

    async def list_borrowers(
        self, caller: Caller, query: ListQuery, page: Page
    ) -> tuple[list[Borrower], int]:
        kyc = rules.parse_enum(KycStatus, query.kyc_status, "kyc_status")
        status = rules.parse_enum(AccountStatus, query.account_status, "account_status")
        start = parse_date(query.created_from, "created.from_date") if query.created_from else None
        end = parse_date(query.created_to, "created.to_date") if query.created_to else None
        if start and end and start > end:
            raise InvalidArgument.field("created.to_date", "is before created.from_date")
        flt = BorrowerFilter(
            # Agents always see their own, whatever they ask for.
            agent_id=query.agent_id.strip() if caller.is_admin else caller.acting_agent_id,
            kyc_status=kyc.value if kyc else "",
            account_status=status.value if status else "",
            branch_id=query.branch_id.strip(),
            created_from=datetime.combine(start, time.min, UTC) if start else None,
            created_before=datetime.combine(end + timedelta(days=1), time.min, UTC)
            if end
            else None,
        )
        return await self._repo.list_page(flt, page)

    async def search(
        self, caller: Caller, q: str, page: Page, account_status: str = ""
    ) -> tuple[list[Borrower], int]:
        """Ranked ids from Elasticsearch, records from MongoDB (current, and re-scoped)."""
        text = check_query(q)
        status = rules.parse_enum(AccountStatus, account_status, "account_status")
        ids, total = await self._search.search(
            text,
            agent_id=None if caller.is_admin else caller.acting_agent_id,
            account_status=status.value if status else None,
            offset=page.offset,
            size=page.size,
        )
        found = await self._repo.get_many(ids)
        # A reassignment or status change the index has not caught up with yet must not show.
        return [
            found[i]
            for i in ids
            if i in found
            and rules.visible_to(found[i], caller)
            and (status is None or found[i].account_status is status)
        ], total

    async def deactivate(self, caller: Caller, borrower_id: str, reason: str) -> Borrower:
        text = rules.check_reason(reason)
        current = await self._visible(caller, borrower_id)
        return await self._write(
            caller, HistoryAction.DEACTIVATED, current,
            lambda b: rules.deactivate(b, text), reason=text,
        )

    async def reactivate(self, caller: Caller, borrower_id: str, note: str = "") -> Borrower:
        text = rules.check_reason(note, "note", required=False)
        current = await self._visible(caller, borrower_id)
        return await self._write(
            caller, HistoryAction.REACTIVATED, current,
            lambda b: rules.reactivate(b, caller), reason=text,
        )

    async def blacklist(self, caller: Caller, borrower_id: str, reason: str) -> Borrower:
        self._admin(caller, "blacklist a borrower")
        text = rules.check_reason(reason)
        current = await self._visible(caller, borrower_id)
        return await self._write(
            caller, HistoryAction.BLACKLISTED, current,
            lambda b: rules.blacklist(b, text), reason=text,
        )

    async def reassign(
        self, caller: Caller, borrower_id: str, agent_id: str, reason: str = ""
    ) -> Borrower:
        self._admin(caller, "reassign a borrower")
        text = rules.check_reason(reason, required=False)
        current = await self._visible(caller, borrower_id)
        agent = await self._active_agent(agent_id, "new_agent_id")
        return await self._write(
            caller, HistoryAction.REASSIGNED, current,
            lambda b: rules.reassign(b, agent), reason=text,
        )

    async def set_kyc_status(
        self, caller: Caller, borrower_id: str, status: str, note: str
    ) -> Borrower:
        current = await self._visible(caller, borrower_id)
        # Validate before writing (and again on a retry, against the fresh record).
        rules.set_kyc_status(current, status, note, caller)
        return await self._write(
            caller, HistoryAction.KYC_STATUS_CHANGED, current,
            lambda b: rules.set_kyc_status(b, status, note, caller),
            reason=rules.clean_text(note),
        )

    async def history(
        self, caller: Caller, borrower_id: str, page: Page
    ) -> tuple[list[HistoryEntry], int]:
        await self._visible(caller, borrower_id)
        return await self._repo.history(borrower_id, page)

    @staticmethod
    def _admin(caller: Caller, what: str) -> None:
        # The access table already says so; the use case does not rely on it.
        if not caller.is_admin:
            raise PermissionDenied(f"only an admin may {what}")

