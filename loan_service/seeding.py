"""Bulk seeding of loan_service's own data, run by the CLI without a server (`demo-data`).

Loans are built by the domain exactly as the use cases would leave them: the schedule
from ``ledger.disburse``, each repayment through ``ledger.apply_repayment``, late
penalties through ``ledger.charge_late_penalties`` (as the end of day charges them),
write-offs through ``ledger.write_off``; so a replay of any seeded loan gives its stored
state. They are written in bulk (``insert_many``) with the documents the repository
writes, and optionally with the outbox events the use cases would have recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from loan_service import payloads
from loan_service.adapters.eod_repository import EodRepository
from loan_service.adapters.loan_repository import COUNTERS, LOANS, loan_to_doc
from loan_service.adapters.product_repository import PRODUCTS, product_from_doc, product_to_doc
from loan_service.domain import ledger
from loan_service.domain.ledger import Transaction
from loan_service.domain.lifecycle import LoanAction, LoanStatus, format_loan_number
from loan_service.domain.loan import Loan, LoanProduct, facts_of
from loan_service.domain.schedule import Schedule
from loan_service.eod_service import EndOfDay, EodOptions
from loan_service.payloads import LoanEvent
from shared.config import Settings
from shared.events import Outbox
from shared.identity import Caller, Role
from shared.mongo import create_mongo_client, run_in_transaction
from shared.runtime import database_name

PRODUCER = "loan_service"
# The actor of what demo data records (the end of day's caller).
SEEDED_BY = "service:demo-data"
# Repayments reach a loan through payment_service, whose service token relays them.
RELAYED_BY = "service:payment"
_DAY = timedelta(days=1)


class Conduct(StrEnum):
    """How a borrower repays."""

    ON_TIME = "ON_TIME"
    LATE = "LATE"
    # Paid some installments, then stopped.
    DEFAULTED = "DEFAULTED"
    # Stopped paying and was written off.
    WRITTEN_OFF = "WRITTEN_OFF"


@dataclass(frozen=True, slots=True)
class LoanPlan:
    """One loan to seed: who, what, when, and how it is repaid."""

    id: str
    sequence: int
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    # The admin who approved and disbursed it (maker-checker: never the agent).
    approver_id: str
    product: LoanProduct
    principal: int
    installments: int
    disbursement_date: date
    conduct: Conduct
    # Days after each due date the payment comes (0: on the due date).
    delay_days: int = 0
    # DEFAULTED / WRITTEN_OFF: installments paid before stopping.
    paid_installments: int = 0
    # WRITTEN_OFF: days after the first missed due date.
    write_off_after_days: int = 60
    channel: str = "CASH"
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class SeededRepayment:
    """A repayment as the ledger applied it, for payment_service's own record of it (the
    payment, its allocation, its receipt), which demo-data writes there."""

    payment_id: str
    transaction_id: str
    amount: int
    value_date: date
    channel: str
    # The agent who collected it (the payment's poster).
    posted_by: str
    at: datetime
    allocation: ledger.Allocation
    recovery: bool
    loan_closed: bool


@dataclass(slots=True)
class SeededLoan:
    loan: Loan
    # In the order the use cases would have recorded them; the common payload comes at write.
    events: list[tuple[LoanEvent, LoanStatus]] = field(default_factory=list)
    payment_ids: list[tuple[str, str]] = field(default_factory=list)
    repayments: list[SeededRepayment] = field(default_factory=list)


@dataclass(slots=True)
class _History:
    """A loan's ledger while it is being built."""

    plan: LoanPlan
    schedule: Schedule
    txns: tuple[Transaction, ...]
    at: Callable[[date], datetime]
    events: list[tuple[LoanEvent, LoanStatus]] = field(default_factory=list)
    payments: list[tuple[str, str]] = field(default_factory=list)
    repayments: list[SeededRepayment] = field(default_factory=list)
    closed: bool = False

    def charge_penalties(self, on: date) -> None:
        """What the end of day of ``on`` would have charged by then."""
        terms = self.plan.product.terms
        if terms.late_penalty is None:
            return
        done = ledger.charge_late_penalties(
            terms, self.schedule, self.txns, on, created_at=self.at(on)
        )
        self.txns = done.transactions

    def pay(self, on: date, amount: int) -> None:
        plan = self.plan
        payment_id = f"demo-{plan.id}-{len(self.payments) + 1}"
        done = ledger.apply_repayment(
            plan.product.terms,
            self.schedule,
            self.txns,
            payment_id=payment_id,
            amount=amount,
            value_date=on,
            business_date=on,
            actor=plan.agent_id,
            channel=plan.channel,
            txn_id=f"{plan.id[:16]}{len(self.txns) + 1:04d}",
            created_at=self.at(on),
        )
        self.txns = done.transactions
        self.payments.append((payment_id, done.transaction.id))
        self.repayments.append(SeededRepayment(
            payment_id, done.transaction.id, amount, on, plan.channel, plan.agent_id,
            self.at(on), done.allocation, done.recovery, done.closed,
        ))
        event = payloads.repayment_applied(
            payment_id,
            done.transaction,
            done.allocation,
            channel=plan.channel,
            recovery=done.recovery,
            backdated=False,
            applied_by=plan.agent_id,
            relayed_by=RELAYED_BY,
            schedule=self.schedule,
        )
        self.events.append((event, LoanStatus.ACTIVE))
        if done.closed:
            self.closed = True
            closing = payloads.closing(LoanAction.CLOSE, done.state, "repayment")
            self.events.extend((e, LoanStatus.CLOSED) for e in closing)


def _repay(history: _History, last_day: date) -> None:
    """The plan's repayments with value dates up to ``last_day``."""
    plan = history.plan
    terms = plan.product.terms
    grace = terms.late_penalty.grace_days if terms.late_penalty is not None else 0
    stop = (
        plan.paid_installments
        if plan.conduct in (Conduct.DEFAULTED, Conduct.WRITTEN_OFF)
        else len(history.schedule.rows)
    )
    for row in history.schedule.rows[:stop]:
        on = row.due_date + timedelta(days=plan.delay_days)
        if on > last_day or history.closed:
            return
        if plan.delay_days == 0 or (plan.delay_days <= grace and row.number == 1):
            amount = row.principal + row.interest
            if row.number == len(history.schedule.rows):
                amount = ledger.quote_payoff(terms, history.schedule, history.txns, on).total
        else:
            history.charge_penalties(on)
            amount = ledger.replay(terms, history.schedule, history.txns, on).arrears_amount
        if amount > 0:
            history.pay(on, amount)


def _write_off(history: _History, last_day: date) -> bool:
    plan = history.plan
    rows = history.schedule.rows
    if plan.conduct is not Conduct.WRITTEN_OFF or plan.paid_installments >= len(rows):
        return False
    missed = rows[plan.paid_installments].due_date
    on = min(missed + timedelta(days=plan.write_off_after_days), last_day)
    if on <= missed or history.closed:
        return False
    history.charge_penalties(on)
    done = ledger.write_off(
        plan.product.terms,
        history.schedule,
        history.txns,
        reason="demo data: borrower stopped paying",
        actor=plan.approver_id,
        business_date=on,
        value_date=on,
        txn_id=f"{plan.id[:16]}{len(history.txns) + 1:04d}",
        created_at=history.at(on),
    )
    history.txns = done.transactions
    event = payloads.written_off(
        plan.approver_id, "demo data: borrower stopped paying", done.transaction,
        done.written_off_amount,
    )
    history.events.append((event, LoanStatus.WRITTEN_OFF))
    return True


def build_loan(plan: LoanPlan, today: date, at: Callable[[date], datetime]) -> SeededLoan:
    """The loan as loan_service would hold it on ``today``, after the end of day of every
    date before ``today``. ``at`` gives the moment a record of a business date was made."""
    terms = plan.product.terms
    start = plan.disbursement_date
    done = ledger.disburse(
        terms, plan.principal, plan.installments, disbursement_date=start,
        business_date=start, actor=plan.approver_id, txn_id=f"{plan.id[:16]}0001",
        created_at=at(start),
    )
    history = _History(plan, done.schedule, (done.transaction,), at)
    history.events.extend([
        (payloads.submitted(plan.agent_id), LoanStatus.SUBMITTED),
        (payloads.approved(plan.approver_id, ""), LoanStatus.APPROVED),
        (payloads.disbursed(plan.approver_id, done.transaction.id, done.schedule),
         LoanStatus.ACTIVE),
    ])
    last_day = today - _DAY
    _repay(history, last_day)
    written_off = _write_off(history, last_day)
    if not written_off and not history.closed:
        history.charge_penalties(last_day)
    state = ledger.replay(terms, done.schedule, history.txns, today)
    status = (
        LoanStatus.WRITTEN_OFF if written_off
        else LoanStatus.CLOSED if state.closed else LoanStatus.ACTIVE
    )
    return SeededLoan(
        _loan(plan, history, status, state, written_off),
        history.events,
        history.payments,
        history.repayments,
    )


def _loan(
    plan: LoanPlan,
    history: _History,
    status: LoanStatus,
    state: ledger.LoanState,
    written_off: bool,
) -> Loan:
    start = plan.disbursement_date
    moment = history.at(start)
    write_off = history.txns[-1] if written_off else None
    last_change = history.txns[-1].created_at or moment
    return Loan(
        id=plan.id,
        loan_number=format_loan_number(start.year, plan.sequence),
        borrower_id=plan.borrower_id,
        borrower_name=plan.borrower_name,
        agent_id=plan.agent_id,
        branch_id=plan.branch_id,
        product_id=plan.product.id,
        product=plan.product,
        status=status,
        principal=plan.principal,
        installments=plan.installments,
        purpose=plan.purpose,
        note="",
        submitted_date=start,
        submitted_by=plan.agent_id,
        submitted_at=moment - timedelta(hours=2),
        approved_by=plan.approver_id,
        approved_at=moment - timedelta(hours=1),
        disbursed_by=plan.approver_id,
        disbursed_at=moment,
        disbursement_date=start,
        schedule=history.schedule,
        transactions=history.txns,
        closed_date=state.closed_date if status is LoanStatus.CLOSED else None,
        written_off_by=plan.approver_id if write_off else "",
        written_off_at=write_off.created_at if write_off else None,
        write_off_reason=write_off.reason if write_off else "",
        written_off_date=write_off.value_date if write_off else None,
        facts=facts_of(state),
        updated_by=plan.approver_id,
        updated_at=last_change,
        version=len(history.events),
    )


# ------------------------------------------------------------------ writing


async def ensure_products(
    db: AsyncDatabase[dict[str, Any]], products: Sequence[LoanProduct]
) -> list[LoanProduct]:
    """Each product by code: the stored one if its code exists, else inserted (with its
    ``loan.product_created`` event)."""
    out: list[LoanProduct] = []
    outbox = Outbox(db, producer=PRODUCER)
    for product in products:
        found = await db[PRODUCTS].find_one({"code": product.code})
        if found is not None:
            out.append(product_from_doc(found))
            continue
        await db[PRODUCTS].insert_one(product_to_doc(product))
        event = outbox.new_event(
            "loan.product_created", product.id, payloads.product_payload(product)
        )
        await outbox.add(None, [event])
        out.append(product)
    return out


async def reserve_numbers(db: AsyncDatabase[dict[str, Any]], year: int, count: int) -> int:
    """The first of ``count`` consecutive loan-number sequences of ``year``, taken at once
    from the counter loan submissions use (so later loans never reuse one)."""
    doc = await db[COUNTERS].find_one_and_update(
        {"_id": f"LN-{year}"}, {"$inc": {"seq": count}}, upsert=True, return_document=True
    )
    assert doc is not None
    return int(doc["seq"]) - count + 1


def _event_docs(outbox: Outbox, seeded: Sequence[SeededLoan]) -> list[Any]:
    events = []
    for item in seeded:
        base = payloads.loan_payload(item.loan)
        for version, ((kind, extra), status) in enumerate(item.events, start=1):
            payload = {**base, "status": status.value, "version": version, **extra}
            events.append(outbox.new_event(kind, item.loan.id, payload))
    return events


async def write_loans(
    db: AsyncDatabase[dict[str, Any]], seeded: Sequence[SeededLoan], *, events: bool
) -> int:
    """Insert the loans (their payment ids are in them) and (``events``) their outbox
    events; returns the number of events recorded."""
    if not seeded:
        return 0
    await db[LOANS].insert_many([loan_to_doc(s.loan) for s in seeded], ordered=False)
    if not events:
        return 0
    outbox = Outbox(db, producer=PRODUCER)
    docs = _event_docs(outbox, seeded)
    await outbox.add(None, docs)
    return len(docs)


# ------------------------------------------------------------------ end of day

# (date being closed, loans done, loans of that date): the job's progress, polled.
EodProgress = Callable[[date, int, int], None]


async def close_dates(
    settings: Settings,
    first: date,
    last: date,
    on_progress: EodProgress,
    *,
    options: EodOptions | None = None,
) -> int:
    """Close every business date from ``first`` to ``last`` in order with loan_service's
    own end-of-day job, in this process (no server needed); returns the dates closed.

    The first close is ``first`` itself (when nothing is closed yet), then a catch-up.
    Dates already closed are skipped, so a rerun finishes an interrupted one.
    """
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-demo-eod")
    try:
        db = client[database_name(settings, "loan")]

        async def in_transaction(body: Any) -> Any:
            return await run_in_transaction(client, body)

        job = EndOfDay(
            EodRepository(db), in_transaction, Outbox(db, producer=PRODUCER),
            timezone=settings.business_tz(), options=options or EodOptions(),
        )
        caller = Caller(subject=SEEDED_BY, role=Role.SERVICE)
        before = (await job.status()).last_closed
        watcher = asyncio.create_task(_watch(job, on_progress))
        try:
            if before is None:
                await job.close_now(caller, first)
            if last > first:
                await job.close_now(caller, last, catch_up=True)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        after: date | None = (await job.status()).last_closed
    finally:
        await client.close()
    if after is None:
        return 0
    return (after - before).days if before is not None else (after - first).days + 1


async def _watch(job: EndOfDay, on_progress: EodProgress) -> None:
    while True:
        run = (await job.status()).run
        if run is not None and run.current is not None:
            on_progress(run.current, run.loans_done, run.loans_total)
        await asyncio.sleep(0.5)


__all__ = [
    "Conduct",
    "LoanPlan",
    "SeededLoan",
    "SeededRepayment",
    "build_loan",
    "close_dates",
    "ensure_products",
    "reserve_numbers",
    "write_loans",
]
