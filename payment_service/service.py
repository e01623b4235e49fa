"""Payment use cases: posting, re-driving, reversal, queries, sheets and summaries.

Posting (see docs/payments.md):

1. Check the request, then record it PENDING. The unique index on (poster,
   idempotency key) decides races: a loser is a replay (same fingerprint) or a
   409 (another body). A PENDING payment carries a lease; while it runs, the
   request that recorded it drives it.
2. Ask the loan service to apply it (``ApplyRepayment`` with the payment id,
   idempotent there), naming the poster. An agent's payment carries the agent as
   ``agent_scope``: the loan service applies it only to that agent's loan (else
   NOT_FOUND, the payment is REJECTED), checked on the loan it writes.
3. Record the answer: POSTED with the allocation and a receipt number, or
   REJECTED with the loan service's reason; in the same single-document write
   as the ``payment.posted`` / ``payment.rejected`` event, stored in the
   payment's embedded outbox (no transaction). Without an answer
   the payment stays PENDING and the recovery loop re-drives it once its lease
   runs out, with this service's own token (naming the poster, whom the loan
   records as the actor). A payment is therefore applied at
   most once and never forgotten, whatever crashes in between.

Reversal records the request first (so a crash cannot lose it), asks the loan
service (``ReverseRepayment``, idempotent), then marks the payment REVERSED,
writes a separate reversal record and the ``payment.reversed`` event (in the
payment's embedded outbox, after its ``payment.posted``) in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from payment_service.adapters.loan_client import ReversedOnLoan, ReverseOutcome
from payment_service.adapters.payment_repository import (
    NOT_MOVED,
    PAYMENTS,
    IdempotencyKeyTaken,
    PaymentFilter,
    PaymentRepository,
    ReferenceTaken,
)
from payment_service.domain.collection import (
    CashSummary,
    CollectionSheet,
    DueLoan,
    build_sheet,
    cash_summary,
)
from payment_service.domain.payment import (
    Allocation,
    Applied,
    ApplyOutcome,
    LoanFacts,
    LoanOwner,
    Payment,
    PaymentStatus,
    PosterRole,
    RawPaymentRequest,
    Refused,
    Reversal,
    ReversalRequest,
    Unsettled,
    check_reason,
    error_for,
    receipt_number,
    refusal_error,
    retry_delay_seconds,
    validate_request,
)
from payment_service.domain.receipt import Institution, ReceiptView, receipt_view
from shared.allocation import allocation_totals
from shared.clock import business_date, utcnow
from shared.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from shared.identity import Caller
from shared.metrics import PAYMENTS_PENDING_RECOVERY, PAYMENTS_RECOVERY_DUE
from shared.paging import Page
from shared.ports import Events, Session, Transactions

log = logging.getLogger(__name__)

# Settling re-reads a payment a reassignment moved meanwhile; this many tries at most.
_SETTLE_ATTEMPTS = 5

SYSTEM_ACTOR = "service:payment"


class Loans(Protocol):
    async def apply(self, payment: Payment, *, agent_scope: str = "") -> ApplyOutcome: ...

    async def owner(self, loan_id: str) -> LoanFacts | Refused | Unsettled: ...

    async def holds_payment(self, loan_id: str, payment_id: str) -> bool | Unsettled: ...

    async def reverse(self, payment: Payment, reason: str, requested_by: str) -> ReverseOutcome: ...

    async def loans_due(self, agent_id: str, on: str) -> list[DueLoan]: ...


class Users(Protocol):
    async def phones(self, borrower_ids: list[str]) -> dict[str, str]: ...

    async def staff_name(self, staff_id: str) -> str: ...


Checkpoint = Callable[[str], Awaitable[None]]


async def no_checkpoint(name: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Options:
    lease_seconds: float = 30.0
    retry_max_seconds: float = 60.0
    replay_wait_seconds: float = 3.0
    scope_grace_seconds: float = 60.0
    recovery_concurrency: int = 8


@dataclass(frozen=True, slots=True)
class PostResult:
    payment: Payment
    # The key had been used before with the same body: this is the first result.
    replayed: bool


# ------------------------------------------------------------------ event payloads


def _base_payload(p: Payment) -> dict[str, Any]:
    return {
        "payment_id": p.id,
        "loan_id": p.loan_id,
        "loan_number": p.loan.loan_number,
        "borrower_id": p.loan.borrower_id,
        "agent_id": p.loan.agent_id,
        "branch_id": p.loan.branch_id,
        "amount_minor": p.amount.amount_minor,
        "currency": p.amount.currency,
        "value_date": p.value_date.isoformat(),
        "channel": p.channel.value,
        "external_reference": p.external_reference,
        "posted_by": p.posted_by,
    }


def posted_payload(p: Payment) -> dict[str, Any]:
    return {
        **_base_payload(p),
        "receipt_number": p.receipt_number,
        "loan_transaction_id": p.loan_transaction_id,
        "recovery": p.recovery,
        "loan_closed": p.loan_closed,
        "allocation": allocation_totals(p.allocation or Allocation()),
        "posted_at": p.posted_at.isoformat() if p.posted_at else None,
    }


def rejected_payload(p: Payment) -> dict[str, Any]:
    return {**_base_payload(p), "code": p.rejection_code, "reason": p.rejection_reason}


def reversed_payload(p: Payment) -> dict[str, Any]:
    rev = p.reversal
    assert rev is not None
    return {
        **_base_payload(p),
        "receipt_number": p.receipt_number,
        "reversal_id": rev.id,
        "reason": rev.reason,
        "reversed_by": rev.reversed_by,
        "reversed_at": rev.reversed_at.isoformat(),
        "loan_transaction_id": rev.loan_transaction_id,
        "reversed_loan_transaction_id": p.loan_transaction_id,
    }


class PaymentService:
    def __init__(
        self,
        repo: PaymentRepository,
        loans: Loans,
        users: Users,
        transactions: Transactions,
        events: Events,
        *,
        institution: Institution,
        options: Options | None = None,
        clock: Callable[[], datetime] = utcnow,
        timezone: ZoneInfo | None = None,
        checkpoint: Checkpoint = no_checkpoint,
    ) -> None:
        self._repo = repo
        self._loans = loans
        self._users = users
        self._tx = transactions
        self._events = events
        # A payment's events live in its own document (one write with the state change).
        self._outbox = events.embedded(PAYMENTS)
        self._institution = institution
        self._opts = options or Options()
        self._clock = clock
        self._tz = timezone
        self._checkpoint = checkpoint
        # Payments this process is driving right now: repeats of the same key wait on these.
        self._inflight: dict[str, asyncio.Event] = {}

    def today(self) -> date:
        """The business date: today in the institution's time zone."""
        return business_date(self._clock(), self._tz)

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._opts.lease_seconds)

    # ------------------------------------------------------------------ posting
    async def post(self, caller: Caller, raw: RawPaymentRequest) -> PostResult:
        if caller.is_service:
            raise PermissionDenied("payments are posted by staff")
        request = validate_request(raw, self.today())
        now = self._clock()
        payment = Payment(
            id=uuid.uuid4().hex,
            idempotency_key=request.idempotency_key,
            fingerprint=request.fingerprint,
            loan_id=request.loan_id,
            amount=request.amount,
            value_date=request.value_date,
            channel=request.channel,
            external_reference=request.external_reference,
            note=request.note,
            status=PaymentStatus.PENDING,
            posted_by=caller.subject,
            poster_role=PosterRole.AGENT if caller.is_agent else PosterRole.ADMIN,
            created_at=now,
            updated_at=now,
            updated_by=caller.subject,
            lease_until=self._lease(now),
        )
        # Registered before the insert, so a concurrent repeat finds something to wait on.
        self._inflight[payment.id] = asyncio.Event()
        try:
            try:
                await self._repo.insert(payment)
            except IdempotencyKeyTaken:
                return await self._replay(caller, request.idempotency_key, request.fingerprint)
            except ReferenceTaken as exc:
                if await self._repo.by_key(caller.subject, request.idempotency_key):
                    return await self._replay(
                        caller, request.idempotency_key, request.fingerprint
                    )
                raise AlreadyExists(
                    f"external_reference {request.external_reference!r} was already used for "
                    f"a {request.channel.value} payment",
                    violations=[FieldViolation("external_reference", "is already used")],
                    existing_id=await self._shown(caller, exc.existing_id),
                ) from exc
            await self._checkpoint("after_pending")
            settled = await self._drive(payment, actor=caller.subject, as_service=False)
        finally:
            self._inflight.pop(payment.id).set()
        return self._answer(settled, replayed=False)

    async def _shown(self, caller: Caller, payment_id: str | None) -> str | None:
        """A payment id for an answer, only to a caller who may read that payment.

        The reference must stay unique, so the refusal itself stays; but another
        agent's payment id is told to nobody who could not look it up anyway.
        """
        if not payment_id or not caller.is_agent:
            return payment_id
        try:
            holder = await self._repo.get(payment_id)
        except NotFound:
            return None
        return payment_id if holder.visible_to_agent(caller.acting_agent_id) else None

    async def _replay(self, caller: Caller, key: str, fingerprint: str) -> PostResult:
        existing = await self._repo.by_key(caller.subject, key)
        if existing is None:
            # The winner of the race is not readable yet; the client may simply retry.
            raise Conflict("a request with this Idempotency-Key is being recorded; retry")
        if existing.fingerprint != fingerprint:
            raise AlreadyExists(
                f"Idempotency-Key {key!r} was already used with a different request "
                f"(payment {existing.id}); use a new key for a new payment",
                violations=[FieldViolation("idempotency_key", "was used with another body")],
                existing_id=existing.id,
            )
        return self._answer(await self._wait_settled(existing), replayed=True)

    async def _wait_settled(self, payment: Payment) -> Payment:
        """Wait a little for a PENDING payment that someone else is driving."""
        deadline = time.monotonic() + self._opts.replay_wait_seconds
        pause = 0.02
        while payment.status is PaymentStatus.PENDING:
            left = deadline - time.monotonic()
            if left <= 0:
                return payment
            event = self._inflight.get(payment.id)
            if event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=left)
            else:
                # Driven by another process (or nobody until the lease runs out): poll.
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, 0.25)
            payment = await self._repo.get(payment.id)
        return payment

    @staticmethod
    def _answer(payment: Payment, *, replayed: bool) -> PostResult:
        if payment.status is PaymentStatus.REJECTED:
            raise refusal_error(
                payment.rejection_code,
                payment.rejection_reason,
                payment.id,
                payment.rejection_fields,
            )
        return PostResult(payment, replayed)

    async def _check_scope(self, payment: Payment) -> Refused | Unsettled | None:
        """The recovery loop's check that an agent's payment goes only to that agent's loan.

        On the agent's own request the check is part of the posting itself
        (``ApplyRepayment`` with ``agent_scope``: NOT_FOUND if the loan is not
        theirs, decided on the loan the repayment is written against). The
        recovery loop reads the loan as the service first: if the borrower has
        been reassigned since, the loan may already hold the payment from the
        agent's own request, checked then.
        """
        owner = await self._loans.owner(payment.loan_id)
        if isinstance(owner, Refused | Unsettled):
            return owner
        if owner.agent_id == payment.posted_by:
            return None
        held = await self._loans.holds_payment(payment.loan_id, payment.id)
        if isinstance(held, Unsettled):
            return held
        if held:
            return None
        age = self._clock() - payment.created_at
        if age < timedelta(seconds=self._opts.scope_grace_seconds):
            # The agent's own call may have timed out at our end yet still be applying
            # the payment; refusing now could leave money on the loan with no receipt.
            return Unsettled("the loan belongs to another agent now; waiting before refusing")
        return Refused("NOT_FOUND", f"loan {payment.loan_id} not found")

    async def _drive(self, payment: Payment, *, actor: str, as_service: bool) -> Payment:
        """Ask the loan service once and record what it said."""
        outcome: ApplyOutcome | None = None
        agent = payment.poster_role is PosterRole.AGENT
        if agent and as_service:
            outcome = await self._check_scope(payment)
        if outcome is None:
            # On the agent's own request the loan service checks the scope in the write.
            scope = payment.posted_by if agent and not as_service else ""
            outcome = await self._loans.apply(payment, agent_scope=scope)
        if not as_service:
            await self._checkpoint("after_apply")
        if isinstance(outcome, Applied):
            return await self._settle_posted(payment, outcome, actor)
        if isinstance(outcome, Refused):
            return await self._settle_rejected(payment, outcome, actor)
        delay = retry_delay_seconds(payment.attempts + 1, cap=self._opts.retry_max_seconds)
        log.warning(
            "payment %s stays PENDING (attempt %d): %s; next try in %.0fs",
            payment.id,
            payment.attempts + 1,
            outcome.reason,
            delay,
        )
        noted = await self._repo.record_attempt(
            payment.id,
            outcome.reason,
            self._clock() + timedelta(seconds=delay),
            PaymentStatus.PENDING,
        )
        # None: another driver settled it meanwhile; read what it recorded.
        return noted or await self._repo.get(payment.id)

    async def _settle(
        self,
        settled: Payment,
        event_type: str,
        payload_of: Callable[[Payment], dict[str, Any]],
    ) -> Payment:
        """Record the outcome and its event in ONE write of the payment document.

        The event goes into the payment's embedded outbox in the same update as the
        state change (no transaction); it is handed to the relay once written. The
        compare-and-set on PENDING decides a race with another driver; a reassignment
        consumed since the insert (``follow_loan``) is kept, re-checked on the owner read.
        """
        final = settled
        expect: dict[str, Any] = {"status": PaymentStatus.PENDING.value, **NOT_MOVED}
        for _ in range(_SETTLE_ATTEMPTS):
            staged = self._outbox.stage(
                [self._outbox.new_event(event_type, final.id, payload_of(final))]
            )
            try:
                # The common case costs no read: still PENDING and not moved since recorded.
                written = await self._repo.replace_if(final, expect, also=staged.update)
            except BaseException:
                self._outbox.uncertain()
                raise
            if written:
                self._outbox.written(final.id, staged)
                return final
            current = await self._repo.get(settled.id)
            if current.status is not PaymentStatus.PENDING:
                # Another driver (the recovery loop, a process that came back) settled it.
                return current
            final = self._with_current_owner(settled, current)
            expect = {
                "status": PaymentStatus.PENDING.value,
                "agent_id": current.loan.agent_id,
                "branch_id": current.loan.branch_id,
            }
        raise Conflict(f"payment {settled.id} kept moving while being settled; retry")

    async def _settle_posted(self, payment: Payment, applied: Applied, actor: str) -> Payment:
        now = self._clock()
        number = receipt_number(now.year, await self._repo.next_receipt_sequence(now.year))
        posted = payment.posted(applied, number, now, actor)
        return await self._settle(posted, "payment.posted", posted_payload)

    async def _settle_rejected(self, payment: Payment, refusal: Refused, actor: str) -> Payment:
        rejected = payment.rejected(refusal, self._clock(), actor)
        log.info("payment %s REJECTED: %s %s", payment.id, refusal.code, refusal.reason)
        return await self._settle(rejected, "payment.rejected", rejected_payload)

    @staticmethod
    def _with_current_owner(payment: Payment, stored: Payment) -> Payment:
        """``payment`` with the owner ``stored`` was moved to by a reassignment.

        The loan facts came from loan_service before the settle's write; a
        reassignment consumed since the PENDING insert (follow_loan moved and
        marked the stored payment) must not be overwritten. A reassignment
        consumed before the insert needs nothing: the loan's answer came later.
        """
        if not payment.loan.agent_id:
            return payment
        owner = (stored.loan.agent_id, stored.loan.branch_id)
        if not owner[0] or owner == (payment.loan.agent_id, payment.loan.branch_id):
            return payment
        return replace(payment, loan=replace(payment.loan, agent_id=owner[0], branch_id=owner[1]))

    # ------------------------------------------------------------------ loans moving
    async def follow_loan(self, loan_id: str, owner: LoanOwner, session: Session) -> int:
        """A loan moved to another agent (its borrower was reassigned): so do its payments.

        Runs inside the event consumer's transaction. Agents see payments by the
        loan's current agent, and the ones they posted themselves.
        """
        if not loan_id or not owner.agent_id:
            return 0
        moved = await self._repo.follow_loan(loan_id, owner, session)
        if moved:
            log.info("%d payment(s) of loan %s now belong to agent %s", moved, loan_id,
                     owner.agent_id)
        return moved

    # ------------------------------------------------------------------ recovery
    async def sample_recovery_backlog(self) -> None:
        """The recovery gauges (shared/metrics.py): outstanding payments and reversals, and
        how many of them the recovery loop would take up now."""
        payments, reversals, due = await self._repo.recovery_backlog(self._clock())
        PAYMENTS_PENDING_RECOVERY.labels("payment").set(payments)
        PAYMENTS_PENDING_RECOVERY.labels("reversal").set(reversals)
        PAYMENTS_RECOVERY_DUE.set(due)

    async def recover_due(self, limit: int = 100) -> int:
        """Re-drive every PENDING payment and requested reversal whose lease ran out.

        Runs as this service (the caller in context is its SERVICE identity).
        Returns how many were due, so the loop knows whether to go again at once.
        """
        now = self._clock()
        due = await self._repo.due_for_recovery(now, limit)
        gate = asyncio.Semaphore(self._opts.recovery_concurrency)

        async def one(candidate: Payment) -> None:
            async with gate:
                claimed = await self._repo.claim(candidate, self._lease(self._clock()))
                if claimed is None:
                    return
                try:
                    if claimed.status is PaymentStatus.PENDING:
                        await self._drive(claimed, actor=SYSTEM_ACTOR, as_service=True)
                    elif claimed.reversal_request is not None:
                        await self._drive_reversal(claimed)
                except DomainError as exc:
                    log.warning("recovery of payment %s: %s", claimed.id, exc)
                except Exception:
                    log.exception("recovery of payment %s failed", claimed.id)

        await asyncio.gather(*(one(p) for p in due))
        return len(due)

    # ------------------------------------------------------------------ reversal
    async def reverse(self, caller: Caller, payment_id: str, reason: str) -> Payment:
        if not caller.is_admin:
            raise PermissionDenied("only admins reverse payments")
        text = check_reason(reason)
        payment = await self._repo.get(payment_id)
        pending = payment.reversal_request
        if pending is not None and payment.status is PaymentStatus.POSTED:
            if pending.reason != text:
                raise FailedPrecondition(
                    f"a reversal of payment {payment.id} is already in progress "
                    f"(asked by {pending.requested_by}: {pending.reason!r})"
                )
            # The same reversal asked again (e.g. after a 503): finish it now.
        else:
            now = self._clock()
            requested = payment.reversal_requested(
                ReversalRequest(text, caller.subject, now), self._lease(now)
            )
            expect = {"status": PaymentStatus.POSTED.value, "version": payment.version}
            if not await self._repo.replace_if(requested, expect):
                current = await self._repo.get(payment_id)
                current.reversal_requested(ReversalRequest(text, caller.subject, now), now)
                raise Conflict(f"payment {payment_id} changed concurrently; retry")
            payment = requested
        return await self._drive_reversal(payment)

    async def _drive_reversal(self, payment: Payment) -> Payment:
        request = payment.reversal_request
        assert request is not None
        outcome = await self._loans.reverse(payment, request.reason, request.requested_by)
        now = self._clock()
        if isinstance(outcome, ReversedOnLoan):
            done = payment.reversed(
                Reversal(
                    id=uuid.uuid4().hex,
                    reason=request.reason,
                    reversed_by=request.requested_by,
                    reversed_at=now,
                    loan_transaction_id=outcome.loan_transaction_id,
                ),
                now,
            )

            async def body(session: Session) -> bool:
                expect = {
                    "status": PaymentStatus.POSTED.value,
                    "reversal_request": {"$ne": None},
                }
                # The event goes into the payment's embedded outbox (after its
                # payment.posted), handed to the relay when the transaction commits.
                staged = self._outbox.stage(
                    [self._outbox.new_event("payment.reversed", done.id, reversed_payload(done))]
                )
                if not await self._repo.replace_if(done, expect, session, also=staged.update):
                    return False
                await self._repo.insert_reversal(done, session)
                self._outbox.written(done.id, staged, session)
                return True

            if await self._tx(body):
                return done
            current = await self._repo.get(payment.id)
            if current.status is PaymentStatus.REVERSED:
                return current
            raise Conflict(f"payment {payment.id} changed concurrently; retry")
        if isinstance(outcome, Refused):
            cleared = replace(
                payment,
                reversal_request=None,
                lease_until=None,
                updated_at=now,
                version=payment.version + 1,
            )
            await self._repo.replace_if(
                cleared, {"status": PaymentStatus.POSTED.value, "version": payment.version}
            )
            raise error_for(outcome.code, outcome.reason, fields=outcome.fields)
        delay = retry_delay_seconds(payment.attempts + 1, cap=self._opts.retry_max_seconds)
        await self._repo.record_attempt(
            payment.id, outcome.reason, now + timedelta(seconds=delay), PaymentStatus.POSTED
        )
        raise Unavailable(
            "the loan service could not be reached; the reversal of payment "
            f"{payment.id} is recorded and will complete automatically"
        )

    # ------------------------------------------------------------------ queries
    async def get(self, caller: Caller, payment_id: str) -> Payment:
        if not payment_id.strip():
            raise InvalidArgument.field("id", "is required")
        payment = await self._repo.get(payment_id.strip())
        if caller.is_agent and not payment.visible_to_agent(caller.acting_agent_id):
            raise NotFound(f"payment {payment_id} not found")
        return payment

    async def list_payments(
        self, caller: Caller, filters: PaymentFilter, page: Page
    ) -> tuple[list[Payment], int]:
        if filters.from_date and filters.to_date and filters.from_date > filters.to_date:
            raise InvalidArgument.field("value_date", "from_date is after to_date")
        if caller.is_agent:
            filters = replace(filters, agent_id="", visible_to_agent=caller.acting_agent_id)
        return await self._repo.list_payments(filters, page)

    async def receipt(self, caller: Caller, payment_id: str) -> ReceiptView:
        payment = await self.get(caller, payment_id)
        if not payment.has_receipt:
            raise FailedPrecondition(
                f"payment {payment.id} is {payment.status.value}; it has no receipt yet"
            )
        poster = await self._users.staff_name(payment.posted_by)
        return receipt_view(payment, self._institution, poster)

    def _agent_for(self, caller: Caller, agent_id: str) -> str:
        agent_id = agent_id.strip()
        if caller.is_admin:
            if not agent_id:
                raise InvalidArgument.field("agent_id", "is required for admins")
            return agent_id
        me = caller.acting_agent_id
        if agent_id and agent_id != me:
            raise PermissionDenied("agents see only their own collection sheet and cash summary")
        return me

    async def collection_sheet(
        self, caller: Caller, agent_id: str, on: date | None
    ) -> CollectionSheet:
        agent = self._agent_for(caller, agent_id)
        day = on or self.today()
        day_ends = datetime.combine(day + timedelta(days=1), datetime.min.time(), self._tz or UTC)
        due, collected = await asyncio.gather(
            self._loans.loans_due(agent, day.isoformat()),
            self._repo.collected_on(agent, day, day_ends),
        )
        borrower_ids = [d.borrower_id for d in due] + [c.borrower_id for c in collected]
        phones = await self._users.phones(borrower_ids)
        return build_sheet(agent, day, due, collected, phones)

    async def cash_summary(self, caller: Caller, agent_id: str, on: date | None) -> CashSummary:
        agent = self._agent_for(caller, agent_id)
        day = on or self.today()
        return cash_summary(agent, day, await self._repo.cash_groups(agent, day))
