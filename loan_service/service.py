"""Loan use cases: load the loan, call the domain, store it, record the events.

Loan products' use cases are in ``product_service``; each event's fields in ``payloads``.

Every state change and its events are written in one Mongo transaction, and
``Outbox.notify()`` runs after the commit. A loan's own events (every event of
``_change`` and the submission's) live in the loan document until published (its
embedded outbox, ``Outbox.embedded(LOANS, drop_sent=True)``): the write of the
loan carries them, so a loan write is the end-of-day guard's read, one update and
the commit. The transaction stays for the end-of-day exclusion (``after_write``,
``EndOfDay.rederive``). Loans are
written by compare-and-set on ``version``: a use case that loses a race
re-reads the loan and runs its domain step again (which re-validates
against the new state), unless the client pinned ``expected_version``, in
which case the answer is ABORTED. Within one process, writes to one loan
also queue on a per-loan lock, so replicas are the only source of
conflicts and a busy loan does not spin.

The business date is today in ``MF_BUSINESS_TIMEZONE``, from the injectable ``clock``.
Agents reach only loans whose ``agent_id`` is theirs; anything else is
NOT_FOUND, as if it did not exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loan_service import payloads
from loan_service.adapters.borrower_client import BorrowerInfo
from loan_service.adapters.loan_repository import (
    LOANS,
    LoanFilter,
    LoanRepository,
    PaymentTaken,
    VersionConflict,
)
from loan_service.adapters.product_repository import ProductRepository
from loan_service.adapters.search import LoanSearch
from loan_service.domain import ledger
from loan_service.domain.ledger import (
    Allocation,
    LoanState,
    PayoffQuote,
    Transaction,
    TransactionType,
)
from loan_service.domain.lifecycle import (
    OPEN_STATUSES,
    LoanAction,
    LoanStatus,
    check_maker_checker,
    format_loan_number,
)
from loan_service.domain.loan import (
    MAX_PURPOSE,
    Loan,
    LoanFacts,
    check_reason,
    facts_of,
    status_after_replay,
    with_facts,
)
from loan_service.domain.schedule import Schedule, generate_schedule
from loan_service.payloads import LoanEvent
from shared.clock import business_date, utcnow
from shared.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from shared.identity import Caller
from shared.money import Money
from shared.paging import Page
from shared.ports import Events, Session, Transactions

log = logging.getLogger(__name__)

MAX_NOTE = 1000
MAX_PAYMENT_ID = 128
MAX_CHANNEL = 40


class Borrowers(Protocol):
    async def get(self, borrower_id: str) -> BorrowerInfo: ...


def sees_everything(caller: Caller) -> bool:
    """Admins, and services acting for the system, are not scoped to one agent."""
    return caller.role.value in ("ADMIN", "SERVICE")


def _actor(caller: Caller, on_behalf_of: str) -> str:
    """Who a ledger entry is recorded for: a SERVICE relaying a staff member's
    request (payment_service) must name that person, so every movement of money
    has one; staff are always themselves, whatever they name."""
    person = _text(on_behalf_of, "on_behalf_of", MAX_PAYMENT_ID)
    if not caller.is_service:
        return caller.subject
    if not person:
        raise InvalidArgument.field("on_behalf_of", "is required: the staff member it is for")
    return person


def _text(value: str, field_name: str, max_length: int) -> str:
    text = value.strip()
    if len(text) > max_length:
        raise InvalidArgument.field(field_name, f"must be at most {max_length} characters")
    return text


def _payment_id(value: str) -> str:
    """The payment id a repayment or its reversal names, stripped; it is required."""
    payment_id = value.strip()
    if not payment_id:
        raise InvalidArgument.field("payment_id", "is required")
    return payment_id


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


# ------------------------------------------------------------------ requests and answers


@dataclass(frozen=True, slots=True)
class SubmitLoan:
    borrower_id: str
    product_id: str
    principal: Money
    installments: int
    purpose: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class LoanView:
    """A loan and its replayed state as of a date (None before disbursement)."""

    loan: Loan
    state: LoanState | None


@dataclass(frozen=True, slots=True)
class TransactionView:
    transaction: Transaction
    # What it paid or waived (negated for a REVERSAL); None for other types.
    allocation: Allocation | None
    reversed: bool


@dataclass(frozen=True, slots=True)
class Disbursed:
    view: LoanView
    schedule: Schedule


@dataclass(frozen=True, slots=True)
class RepaymentOutcome:
    view: LoanView
    transaction: Transaction
    allocation: Allocation
    closed: bool
    replayed: bool
    recovery: bool


@dataclass(frozen=True, slots=True)
class ReversalOutcome:
    view: LoanView
    reversal: Transaction
    replayed: bool


@dataclass(frozen=True, slots=True)
class WaiverOutcome:
    view: LoanView
    transaction: Transaction
    allocation: Allocation


@dataclass(frozen=True, slots=True)
class WriteOffOutcome:
    view: LoanView
    written_off_amount: int


@dataclass(frozen=True, slots=True)
class DueLoan:
    loan: Loan
    oldest_due_date: date
    installment_numbers: tuple[int, ...]
    amount_due: int
    arrears_amount: int
    days_past_due: int


@dataclass(frozen=True, slots=True)
class DuePage:
    loans: list[DueLoan]
    next_page_token: str
    # Loans matching the stored figures; for a past date an upper bound (loans
    # written since that day are counted whether or not something was due).
    total: int


def encode_due_token(key: tuple[str, str]) -> str:
    raw = json.dumps({"n": key[0], "l": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_due_token(token: str) -> tuple[str, str] | None:
    """The (borrower name, loan number) a GetLoansDue page ended at."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        name, number = data["n"], data["l"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidArgument.field("page.page_token", "is not a valid page token") from exc
    if not isinstance(name, str) or not isinstance(number, str):
        raise InvalidArgument.field("page.page_token", "is not a valid page token")
    return name, number


@dataclass
class _Change:
    """What a domain step decided: the next loan, its events, and the use case's answer."""

    loan: Loan | None
    result: Any
    # (event type, extra payload) pairs; the common loan payload is added at commit.
    events: list[LoanEvent] = field(default_factory=list)
    # (payment id, transaction id) the write adds; the loan's unique payment_ids index
    # refuses the id if another loan holds it (PaymentTaken).
    payment: tuple[str, str] | None = None
    # The new loan's state as of today, when the step already replayed it (saves a replay).
    state: LoanState | None = None


Step = Callable[[Loan, date, datetime], _Change]
# Called with the loan before and after a change, inside the change's transaction.
AfterWrite = Callable[[Loan, Loan, Session], Awaitable[Any]]


def negate(allocation: Allocation) -> Allocation:
    return Allocation(
        penalty=-allocation.penalty,
        fee=-allocation.fee,
        interest=-allocation.interest,
        principal=-allocation.principal,
        recovery=-allocation.recovery,
        interest_waived=-allocation.interest_waived,
        installments=tuple(
            replace(
                part,
                penalty=-part.penalty,
                fee=-part.fee,
                interest=-part.interest,
                principal=-part.principal,
            )
            for part in allocation.installments
        ),
    )


class LoanService:
    def __init__(
        self,
        products: ProductRepository,
        loans: LoanRepository,
        borrowers: Borrowers,
        transactions: Transactions,
        events: Events,
        *,
        search: LoanSearch | None = None,
        clock: Callable[[], datetime] = utcnow,
        timezone: ZoneInfo | None = None,
        max_attempts: int = 50,
        after_write: AfterWrite | None = None,
    ) -> None:
        self._products = products
        self._loans = loans
        self._borrowers = borrowers
        self._tx = transactions
        self._events = events
        # The loan's own events, in its document; sent ones leave it (it would keep growing).
        self._outbox = events.embedded(LOANS, drop_sent=True)
        self._search = search
        self._clock = clock
        self._tz = timezone
        self._max_attempts = max_attempts
        self._locks = KeyedLocks()
        # End of day's re-derivation of closed dates (backdated money), in the same transaction.
        self.after_write = after_write

    def today(self) -> date:
        """The business date: today in the institution's time zone."""
        return business_date(self._clock(), self._tz)

    # -- reading -------------------------------------------------------------------
    async def _in_scope(self, caller: Caller, loan_id: str) -> bool:
        if sees_everything(caller):
            return True
        try:
            await self._scoped(caller, loan_id)
        except NotFound:
            return False
        return True

    async def _scoped(self, caller: Caller, loan_id: str) -> Loan:
        if not loan_id:
            raise InvalidArgument.field("id", "is required")
        loan = await self._loans.get(loan_id)
        if not sees_everything(caller) and loan.agent_id != caller.acting_agent_id:
            raise NotFound(f"loan {loan_id} not found")
        return loan

    @staticmethod
    def _state(loan: Loan, as_of: date) -> LoanState | None:
        if loan.schedule is None:
            return None
        return ledger.replay(loan.terms, loan.schedule, loan.transactions, as_of)

    def _view(self, loan: Loan, as_of: date | None = None) -> LoanView:
        return LoanView(loan, self._state(loan, as_of or self.today()))

    async def get(self, caller: Caller, loan_id: str, as_of: date | None = None) -> LoanView:
        return self._view(await self._scoped(caller, loan_id), as_of)

    async def list_loans(
        self, caller: Caller, flt: LoanFilter, page: Page
    ) -> tuple[list[LoanView], int]:
        for name in ("dpd_min", "dpd_max"):
            value = getattr(flt, name)
            if value is not None and value < 0:
                raise InvalidArgument.field(name, "must not be negative")
        if flt.dpd_min is not None and flt.dpd_max is not None and flt.dpd_max < flt.dpd_min:
            raise InvalidArgument.field("dpd_max", "must not be below dpd_min")
        if flt.disbursed_from and flt.disbursed_to and flt.disbursed_to < flt.disbursed_from:
            raise InvalidArgument.field("disbursed.to_date", "must not be before from_date")
        if not sees_everything(caller):
            flt = replace(flt, agent_id=caller.acting_agent_id)
        flt = replace(flt, business_date=self.today())
        loans, total = await self._loans.page(flt, page)
        return [self._view(loan) for loan in loans], total

    async def search(
        self, caller: Caller, q: str, status: LoanStatus | None, page: Page
    ) -> tuple[list[LoanView], int]:
        if self._search is None:
            raise FailedPrecondition("loan search is not configured")
        agent = None if sees_everything(caller) else caller.acting_agent_id
        ids, total = await self._search.search(
            q=q, status=status, agent_id=agent, offset=page.offset, size=page.size
        )
        found = await self._loans.get_many(ids)
        views: list[LoanView] = []
        for loan_id in ids:
            loan = found.get(loan_id)
            # The index may lag a reassignment: Mongo has the last word on scope.
            if loan is not None and (agent is None or loan.agent_id == agent):
                views.append(self._view(loan))
        return views, total

    async def schedule(
        self, caller: Caller, loan_id: str, as_of: date | None = None
    ) -> tuple[Loan, Schedule, LoanState | None]:
        """The frozen schedule and its state; before disbursement a preview from today."""
        loan = await self._scoped(caller, loan_id)
        if loan.schedule is not None:
            return loan, loan.schedule, self._state(loan, as_of or self.today())
        preview = generate_schedule(
            loan.terms, loan.principal, loan.installments, self.today(), check_ranges=False
        )
        return loan, preview, None

    async def transactions(
        self, caller: Caller, loan_id: str
    ) -> tuple[Loan, list[TransactionView]]:
        loan = await self._scoped(caller, loan_id)
        return loan, self.transaction_views(loan)

    def transaction_views(self, loan: Loan) -> list[TransactionView]:
        txns = loan.transactions
        if loan.schedule is None or not txns:
            return []
        latest = max(max(t.value_date for t in txns), self.today())
        now = ledger.replay(loan.terms, loan.schedule, txns, latest)
        reversals = {t.reverses: t for t in txns if t.type is TransactionType.REVERSAL}
        # What a reversed payment had paid: replay without its reversal.
        undone: dict[str, Allocation] = {}
        for target, reversal in reversals.items():
            without = [t for t in txns if t.id != reversal.id]
            then = ledger.replay(loan.terms, loan.schedule, without, latest)
            undone[target] = then.allocations.get(target, Allocation())
        views: list[TransactionView] = []
        for txn in sorted(txns, key=lambda t: (t.value_date, t.sequence)):
            allocation: Allocation | None = None
            if txn.type is TransactionType.REVERSAL:
                allocation = negate(undone.get(txn.reverses, Allocation()))
            elif txn.id in reversals:
                allocation = undone.get(txn.id)
            elif txn.type in (
                TransactionType.REPAYMENT,
                TransactionType.RECOVERY,
                TransactionType.WAIVER,
            ):
                allocation = now.allocations.get(txn.id, Allocation())
            views.append(TransactionView(txn, allocation, txn.id in reversals))
        return views

    async def payoff_quote(
        self, caller: Caller, loan_id: str, on: date | None = None
    ) -> tuple[Loan, PayoffQuote]:
        loan = await self._scoped(caller, loan_id)
        if loan.status is not LoanStatus.ACTIVE or loan.schedule is None:
            raise FailedPrecondition(
                f"loan is {loan.status.value}; only an ACTIVE loan has a payoff quote"
            )
        day = on or self.today()
        return loan, ledger.quote_payoff(loan.terms, loan.schedule, loan.transactions, day)

    async def loans_due(
        self, caller: Caller, agent_id: str, on: date | None, size: int, page_token: str
    ) -> DuePage:
        """One page of the agent's loans with something due on or before ``on``.

        Keyset paging on (borrower name, loan number): a page is full whenever
        more loans follow, and a loan settled between pages moves nothing. Each
        candidate is replayed as of the date; the ones with nothing due are
        skipped without shortening the page.
        """
        if sees_everything(caller):
            if not agent_id:
                raise InvalidArgument.field("agent_id", "is required for admins")
        else:
            agent_id = caller.acting_agent_id
        after = decode_due_token(page_token)
        day = on or self.today()
        # Stored facts are current; loans written since a past business day began need a
        # replay (that day's midnight in the institution's zone).
        changed_since = (
            datetime.combine(day, time.min, tzinfo=self._tz or UTC) if day < self.today() else None
        )
        out: list[DueLoan] = []
        last = after
        more = False
        scan = after
        while not more:
            batch = await self._loans.due(agent_id, day, scan, size + 1, changed_since)
            for loan in batch:
                scan = (loan.borrower_name, loan.loan_number)
                row = self._due_row(loan, day)
                if row is None:
                    continue
                if len(out) == size:
                    more = True
                    break
                out.append(row)
                last = scan
            if len(batch) <= size:
                break
        total = await self._loans.count_due(agent_id, day, changed_since)
        token = encode_due_token(last) if more and last is not None else ""
        return DuePage(out, token, max(total, len(out)))

    def _due_row(self, loan: Loan, day: date) -> DueLoan | None:
        state = self._state(loan, day)
        if state is None or state.closed or state.written_off:
            return None
        rows = [r for r in state.installments if r.unpaid > 0 and r.due_date <= day]
        if not rows:
            return None
        return DueLoan(
            loan=loan,
            oldest_due_date=min(r.due_date for r in rows),
            installment_numbers=tuple(r.number for r in rows),
            amount_due=sum(r.unpaid for r in rows if r.due_date == day),
            arrears_amount=sum(r.unpaid for r in rows if r.due_date < day),
            days_past_due=state.days_past_due,
        )

    # -- writing -------------------------------------------------------------------

    async def _change(self, caller: Caller, loan_id: str, expected_version: int, step: Step) -> Any:
        """Read, decide (``step``), compare-and-set with the events; retry a lost race."""
        async with self._locks.hold(loan_id):
            for attempt in range(1, self._max_attempts + 1):
                loan = await self._scoped(caller, loan_id)
                if expected_version and loan.version != expected_version:
                    raise Conflict(
                        f"loan {loan.loan_number} is at version {loan.version}, "
                        f"not {expected_version}; reload and retry"
                    )
                now = self._clock()
                today = business_date(now, self._tz)
                change = step(loan, today, now)
                if change.loan is None:
                    return change.result
                figured = (
                    replace(change.loan, facts=facts_of(change.state))
                    if change.state is not None
                    else with_facts(change.loan, today)
                )
                updated = replace(
                    figured,
                    version=loan.version + 1,
                    updated_by=caller.subject,
                    updated_at=now,
                )
                try:
                    await self._tx(self._writer(updated, loan, change))
                except PaymentTaken:
                    # Recorded by someone else meanwhile: on this loan the re-read finds
                    # it (a replay); on another loan the id was reused.
                    assert change.payment is not None
                    owner = await self._loans.payment_loan(change.payment[0])
                    if owner is not None and owner != loan.id:
                        # The other loan's id only for a caller who may see that loan.
                        shown = owner if await self._in_scope(caller, owner) else ""
                        raise AlreadyExists(
                            f"payment {change.payment[0]} was already applied to another loan",
                            existing_id=shown,
                        ) from None
                    continue
                except (VersionConflict, Conflict):
                    if expected_version:
                        raise Conflict(
                            f"loan {loan.loan_number} was changed concurrently; reload and retry"
                        ) from None
                    # Jittered, growing pause so racing replicas do not collide in lockstep.
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
                    continue
                self._events.notify()
                result = change.result
                return result(updated) if callable(result) else result
        raise Conflict(f"loan {loan_id} is busy; retry")

    def _writer(
        self, updated: Loan, before: Loan, change: _Change
    ) -> Callable[[Session], Awaitable[None]]:
        base = payloads.loan_payload(updated)

        async def body(session: Session) -> None:
            # The events go into the loan document with the change: ONE update of the loan
            # (compare-and-set on its version), handed to the relay at the commit. A payment
            # id another loan holds is refused by this write itself (PaymentTaken).
            staged = self._outbox.stage(
                self._outbox.new_event(kind, updated.id, {**base, **extra})
                for kind, extra in change.events
            )
            await self._loans.update(updated, before.version, session, also=staged.update)
            self._outbox.written(updated.id, staged, session)
            if self.after_write is not None:
                await self.after_write(before, updated, session)

        return body

    # -- submit --------------------------------------------------------------------
    async def submit(self, caller: Caller, request: SubmitLoan) -> LoanView:
        if not request.borrower_id:
            raise InvalidArgument.field("borrower_id", "is required")
        if not request.product_id:
            raise InvalidArgument.field("product_id", "is required")
        # Checked before the lookup: no product makes a count below one valid.
        if request.installments < 1:
            raise InvalidArgument.field("installments", "must be at least 1")
        purpose = _text(request.purpose, "purpose", MAX_PURPOSE)
        note = _text(request.note, "note", MAX_NOTE)
        product = await self._products.get(request.product_id)
        if not product.active:
            raise FailedPrecondition(f"loan product {product.code} is inactive; no new loans")
        product.terms.check_request(
            request.principal.amount_minor,
            request.installments,
            currency=request.principal.currency,
        )
        # Scoped by the caller's token: another agent's borrower is NOT_FOUND.
        borrower = await self._borrowers.get(request.borrower_id)
        if borrower.account_status != "ACTIVE":
            raise FailedPrecondition(
                f"borrower is {borrower.account_status}; only ACTIVE borrowers can get new loans"
            )
        if not sees_everything(caller) and borrower.agent_id != caller.acting_agent_id:
            raise NotFound(f"borrower {request.borrower_id} not found")
        now = self._clock()
        today = business_date(now, self._tz)
        sequence = await self._loans.next_sequence(f"LN-{today.year}")
        loan = Loan(
            id=uuid.uuid4().hex,
            loan_number=format_loan_number(today.year, sequence),
            borrower_id=borrower.id,
            borrower_name=borrower.full_name,
            agent_id=borrower.agent_id,
            branch_id=borrower.branch_id,
            product_id=product.id,
            product=product,
            status=LoanStatus.SUBMITTED,
            principal=request.principal.amount_minor,
            installments=request.installments,
            purpose=purpose,
            note=note,
            submitted_date=today,
            submitted_by=caller.subject,
            submitted_at=now,
            facts=LoanFacts(as_of=today),
            updated_by=caller.subject,
            updated_at=now,
        )

        async def body(session: Session) -> None:
            # The guard write makes concurrent submissions for this borrower conflict,
            # so the count below always sees the other one's committed loan.
            await self._loans.touch_borrower(borrower.id, session)
            open_loans = await self._loans.count_open(
                borrower.id, product.id, sorted(OPEN_STATUSES), session
            )
            product.terms.check_active_loan_limit(open_loans)
            kind, extra = payloads.submitted(caller.subject)
            # The loan's first event is inserted with it, in its embedded outbox.
            staged = self._outbox.stage(
                [self._outbox.new_event(kind, loan.id, {**payloads.loan_payload(loan), **extra})]
            )
            await self._loans.insert(loan, session, also=staged.fields())
            self._outbox.written(loan.id, staged, session)

        await self._tx(body)
        self._events.notify()
        return LoanView(loan, None)

    # -- decisions -------------------------------------------------------------------
    async def _decide(
        self,
        caller: Caller,
        loan_id: str,
        expected_version: int,
        action: LoanAction,
        decide: Callable[[Loan, datetime], tuple[Loan, LoanEvent]],
    ) -> LoanView:
        """A decision before disbursement: ``action`` moves the status, ``decide`` checks the
        loan as it was and stamps who decided, when and why, with the event to record."""

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            status = loan.moved(action)
            decided, event = decide(loan, now)
            return _Change(replace(decided, status=status), self._view, [event])

        view: LoanView = await self._change(caller, loan_id, expected_version, step)
        return view

    async def approve(
        self, caller: Caller, loan_id: str, note: str = "", expected_version: int = 0
    ) -> LoanView:
        text = _text(note, "note", MAX_NOTE)

        def decide(loan: Loan, now: datetime) -> tuple[Loan, LoanEvent]:
            check_maker_checker(loan.submitted_by, caller.subject)
            approved = replace(
                loan, approved_by=caller.subject, approved_at=now, approval_note=text
            )
            return approved, payloads.approved(caller.subject, text)

        return await self._decide(caller, loan_id, expected_version, LoanAction.APPROVE, decide)

    async def reject(
        self, caller: Caller, loan_id: str, reason: str, expected_version: int = 0
    ) -> LoanView:
        text = check_reason(reason)

        def decide(loan: Loan, now: datetime) -> tuple[Loan, LoanEvent]:
            rejected = replace(
                loan, rejected_by=caller.subject, rejected_at=now, rejection_reason=text
            )
            return rejected, payloads.rejected(caller.subject, text, loan.status.value)

        return await self._decide(caller, loan_id, expected_version, LoanAction.REJECT, decide)

    async def withdraw(
        self, caller: Caller, loan_id: str, reason: str, expected_version: int = 0
    ) -> LoanView:
        text = check_reason(reason)

        def decide(loan: Loan, now: datetime) -> tuple[Loan, LoanEvent]:
            withdrawn = replace(
                loan, withdrawn_by=caller.subject, withdrawn_at=now, withdrawal_reason=text
            )
            return withdrawn, payloads.withdrawn(caller.subject, text)

        return await self._decide(caller, loan_id, expected_version, LoanAction.WITHDRAW, decide)

    async def disburse(
        self,
        caller: Caller,
        loan_id: str,
        *,
        disbursement_date: date | None = None,
        first_repayment_date: date | None = None,
        note: str = "",
        expected_version: int = 0,
    ) -> Disbursed:
        text = _text(note, "note", MAX_NOTE)
        current = await self._scoped(caller, loan_id)
        current.moved(LoanAction.DISBURSE)  # the state error comes before the borrower check
        borrower = await self._borrowers.get(current.borrower_id)
        if borrower.kyc_status != "VERIFIED":
            raise FailedPrecondition(
                f"borrower KYC is {borrower.kyc_status}; disbursement needs KYC VERIFIED"
            )
        if borrower.account_status != "ACTIVE":
            raise FailedPrecondition(
                f"borrower is {borrower.account_status}; only ACTIVE borrowers are disbursed to"
            )

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            status = loan.moved(LoanAction.DISBURSE)
            on = disbursement_date or today
            done = ledger.disburse(
                loan.terms,
                loan.principal,
                loan.installments,
                disbursement_date=on,
                business_date=today,
                first_repayment_date=first_repayment_date,
                actor=caller.subject,
                txn_id=uuid.uuid4().hex,
                created_at=now,
            )
            schedule = done.schedule
            updated = replace(
                loan,
                status=status,
                disbursed_by=caller.subject,
                disbursed_at=now,
                disbursement_note=text,
                disbursement_date=on,
                schedule=schedule,
                transactions=(done.transaction,),
            )
            return _Change(
                updated,
                lambda stored: Disbursed(self._view(stored), schedule),
                [payloads.disbursed(caller.subject, done.transaction.id, schedule)],
            )

        result: Disbursed = await self._change(caller, loan_id, expected_version, step)
        return result

    async def write_off(
        self,
        caller: Caller,
        loan_id: str,
        reason: str,
        *,
        write_off_date: date | None = None,
        expected_version: int = 0,
    ) -> WriteOffOutcome:
        text = check_reason(reason)

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            status = loan.moved(LoanAction.WRITE_OFF)
            assert loan.schedule is not None
            done = ledger.write_off(
                loan.terms,
                loan.schedule,
                loan.transactions,
                reason=text,
                actor=caller.subject,
                business_date=today,
                value_date=write_off_date,
                txn_id=uuid.uuid4().hex,
                created_at=now,
            )
            updated = replace(
                loan,
                status=status,
                transactions=done.transactions,
                written_off_by=caller.subject,
                written_off_at=now,
                write_off_reason=text,
                written_off_date=done.transaction.value_date,
            )
            amount = done.written_off_amount
            return _Change(
                updated,
                lambda stored: WriteOffOutcome(self._view(stored), amount),
                [payloads.written_off(caller.subject, text, done.transaction, amount)],
            )

        result: WriteOffOutcome = await self._change(caller, loan_id, expected_version, step)
        return result

    # -- ledger entries -------------------------------------------------------------
    @staticmethod
    def _require_disbursed(loan: Loan, what: str) -> Schedule:
        if loan.schedule is None:
            raise FailedPrecondition(f"loan is {loan.status.value}; it {what}")
        return loan.schedule

    @staticmethod
    def _replayed(
        before: Loan, transactions: tuple[Transaction, ...], state: LoanState, via: str
    ) -> tuple[Loan, list[LoanEvent]]:
        """The loan with ``transactions``, the status (and closed date) their replay gives,
        and the events of closing or reopening it, if it did."""
        status, action = status_after_replay(before.status, state)
        closed_date = state.closed_date if status is LoanStatus.CLOSED else None
        updated = replace(before, status=status, transactions=transactions, closed_date=closed_date)
        return updated, payloads.closing(action, state, via)

    async def apply_repayment(
        self,
        caller: Caller,
        loan_id: str,
        *,
        payment_id: str,
        amount: Money,
        value_date: date,
        channel: str = "",
        on_behalf_of: str = "",
        agent_scope: str = "",
    ) -> RepaymentOutcome:
        """Apply a repayment (idempotent on ``payment_id``).

        ``agent_scope``: apply only if the loan is that agent's, else NOT_FOUND as for
        an unknown loan. payment_service passes an agent poster's id, so its scope check
        is made on the very loan this write is decided on (no separate read first).
        """
        payment_id = _text(_payment_id(payment_id), "payment_id", MAX_PAYMENT_ID)
        channel = _text(channel, "channel", MAX_CHANNEL).upper()
        actor = _actor(caller, on_behalf_of)
        scope = _text(agent_scope, "agent_scope", MAX_PAYMENT_ID)

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            if scope and loan.agent_id != scope:
                raise NotFound(f"loan {loan_id} not found")
            if amount.currency != loan.currency:
                raise InvalidArgument.field("amount.currency", f"must be {loan.currency}")
            schedule = self._require_disbursed(loan, "takes no repayments before disbursement")
            if loan.status is LoanStatus.CLOSED and not ledger.find_payment(
                loan.transactions, payment_id
            ):
                raise FailedPrecondition("loan is CLOSED; it takes no more repayments")
            done = ledger.apply_repayment(
                loan.terms,
                schedule,
                loan.transactions,
                payment_id=payment_id,
                amount=amount.amount_minor,
                value_date=value_date,
                business_date=today,
                actor=actor,
                channel=channel,
                txn_id=uuid.uuid4().hex,
                created_at=now,
            )
            relayed_by = caller.subject if actor != caller.subject else None
            return self._repayment_change(
                loan, done, payment_id, channel=channel, actor=actor, relayed_by=relayed_by
            )

        result: RepaymentOutcome = await self._change(caller, loan_id, 0, step)
        return result

    @classmethod
    def _repayment_change(
        cls,
        loan: Loan,
        done: ledger.RepaymentResult,
        payment_id: str,
        *,
        channel: str,
        actor: str,
        relayed_by: str | None,
    ) -> _Change:
        """The loan after a repayment, its events and the answer; a replay changes nothing."""
        if done.replayed:
            outcome = RepaymentOutcome(
                LoanView(loan, done.state),
                done.transaction,
                done.allocation,
                closed=loan.status is LoanStatus.CLOSED,
                replayed=True,
                recovery=done.recovery,
            )
            return _Change(None, outcome)
        updated, closing = cls._replayed(loan, done.transactions, done.state, "repayment")
        txn = done.transaction
        backdated = any(t.value_date > txn.value_date for t in loan.transactions if t.id != txn.id)
        event = payloads.repayment_applied(
            payment_id,
            txn,
            done.allocation,
            channel=channel,
            recovery=done.recovery,
            backdated=backdated,
            applied_by=actor,
            relayed_by=relayed_by,
            schedule=loan.schedule,
        )

        def answer(stored: Loan) -> RepaymentOutcome:
            return RepaymentOutcome(
                LoanView(stored, done.state),
                txn,
                done.allocation,
                closed=updated.status is LoanStatus.CLOSED,
                replayed=False,
                recovery=done.recovery,
            )

        return _Change(
            updated,
            answer,
            [event, *closing],
            payment=(payment_id, txn.id),
            state=done.state,
        )

    async def reverse_repayment(
        self,
        caller: Caller,
        payment_id: str,
        reason: str,
        loan_id: str = "",
        on_behalf_of: str = "",
    ) -> ReversalOutcome:
        payment_id = _payment_id(payment_id)
        text = check_reason(reason)
        actor = _actor(caller, on_behalf_of)
        found = await self._loans.payment_loan(payment_id)
        if found is None or (loan_id and loan_id != found):
            raise NotFound(f"no repayment with payment id {payment_id}")

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            schedule = self._require_disbursed(loan, "has no repayments")
            target = ledger.find_payment(loan.transactions, payment_id)
            if target is None:
                raise NotFound(f"no repayment with payment id {payment_id}")
            earlier = ledger.reversal_of(loan.transactions, target.id)
            if earlier is not None:
                state = ledger.replay(loan.terms, schedule, loan.transactions, today)
                return _Change(None, ReversalOutcome(LoanView(loan, state), earlier, True))
            done = ledger.reverse_repayment(
                loan.terms,
                schedule,
                loan.transactions,
                payment_id=payment_id,
                reason=text,
                actor=actor,
                business_date=today,
                txn_id=uuid.uuid4().hex,
                created_at=now,
            )
            updated, closing = self._replayed(loan, done.transactions, done.state, "reversal")
            event = payloads.repayment_reversed(
                payment_id,
                done.transaction,
                target,
                reason=text,
                reversed_by=actor,
                relayed_by=caller.subject if actor != caller.subject else None,
            )
            return _Change(
                updated,
                lambda stored: ReversalOutcome(
                    LoanView(stored, done.state), done.transaction, False
                ),
                [event, *closing],
                state=done.state,
            )

        result: ReversalOutcome = await self._change(caller, found, 0, step)
        return result

    async def waive(
        self,
        caller: Caller,
        loan_id: str,
        *,
        installment_number: int,
        penalty: Money | None,
        interest: Money | None,
        reason: str,
        value_date: date | None = None,
        expected_version: int = 0,
    ) -> WaiverOutcome:
        text = check_reason(reason)
        if installment_number < 1:
            raise InvalidArgument.field("installment_number", "must be at least 1")

        def step(loan: Loan, today: date, now: datetime) -> _Change:
            for name, money in (("penalty_amount", penalty), ("interest_amount", interest)):
                if money is not None and money.currency != loan.currency:
                    raise InvalidArgument.field(f"{name}.currency", f"must be {loan.currency}")
            if loan.status is not LoanStatus.ACTIVE:
                raise FailedPrecondition(
                    f"loan is {loan.status.value}; only an ACTIVE loan's charges can be waived"
                )
            schedule = self._require_disbursed(loan, "has no charges yet")
            done = ledger.waive_charges(
                loan.terms,
                schedule,
                loan.transactions,
                installment_number=installment_number,
                penalty_amount=penalty.amount_minor if penalty else 0,
                interest_amount=interest.amount_minor if interest else 0,
                reason=text,
                actor=caller.subject,
                value_date=value_date or today,
                business_date=today,
                txn_id=uuid.uuid4().hex,
                created_at=now,
            )
            updated, closing = self._replayed(loan, done.transactions, done.state, "waiver")
            txn = done.transaction
            event = payloads.waived(txn, installment_number, reason=text, by=caller.subject)
            return _Change(
                updated,
                lambda stored: WaiverOutcome(LoanView(stored, done.state), txn, done.allocation),
                [event, *closing],
                state=done.state,
            )

        result: WaiverOutcome = await self._change(caller, loan_id, expected_version, step)
        return result

    # -- borrower changes (from user_service events) ------------------------------------
    async def follow_borrower(
        self,
        borrower_id: str,
        *,
        agent_id: str,
        branch_id: str,
        full_name: str,
        session: Session,
        version: int = 0,
    ) -> int:
        """Loans follow their borrower's agent (so scoping does), branch and name.

        Runs inside the event consumer's transaction; each changed loan gets a
        ``loan.reassigned`` (agent changed) or ``loan.borrower_updated`` event. An
        event older than the borrower version already followed changes nothing: a
        retried or parallel event must not hand the loans back to a previous agent.
        """
        if not agent_id:
            return 0
        if version and not await self._loans.claim_borrower_version(
            borrower_id, version, session
        ):
            return 0
        changed = await self._loans.follow_borrower(
            borrower_id,
            agent_id=agent_id,
            branch_id=branch_id,
            full_name=full_name,
            session=session,
        )
        if changed:
            events = []
            for loan_id, moved in changed:
                kind, payload = payloads.borrower_followed(
                    loan_id,
                    moved,
                    borrower_id=borrower_id,
                    agent_id=agent_id,
                    branch_id=branch_id,
                    full_name=full_name,
                )
                events.append(self._events.new_event(kind, loan_id, payload))
            await self._events.add(session, events)
        return len(changed)
