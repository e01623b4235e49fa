"""`microfinance demo-data`: a realistic portfolio, written in bulk through each service's
own seeding module, then the end of day of every past date.

Nothing is posted through the API (a million loans would take hours): user_service,
auth_service and loan_service each write their own database with their own document
code (``<service>/seeding.py``, as the first admin is seeded through ``migrations.py``),
and no service writes another's. With ``events`` each also records the outbox events its
use cases would have, which the running services relay to the broker (search indexes and
reporting follow); without, the search indexes are rebuilt here from MongoDB and reporting
sees only what the end of day publishes (see docs/operations.md).
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from auth_service.migrations import seed_admin_credential
from loan_service import seeding as loan_seeding
from loan_service.domain.loan import LoanProduct
from microfinance_cli.demo_plan import (
    BorrowerRef,
    DemoSizes,
    borrower_input,
    loan_plans,
    new_id,
    products,
    staff_seeds,
)
from microfinance_cli.migrate import run_migrations
from microfinance_cli.progress import start_bar
from payment_service import seeding as payment_seeding
from payment_service.domain.payment import Allocation, Channel, InstallmentSplit, LoanFacts
from shared.clock import business_date, utcnow
from shared.config import Settings
from shared.identity import Role
from shared.money import Money
from shared.mongo import MongoClient, create_mongo_client
from shared.runtime import database_name
from user_service import seeding as user_seeding
from user_service.domain.staff import Staff

CHUNK = 2_000
T = TypeVar("T")
ACTOR = "demo-data"


class Reporter(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def say(self, text: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DemoOptions:
    sizes: DemoSizes
    password: str
    events: bool = True
    search: bool = True
    # Close every date from the first disbursement to yesterday (False: leave it to `eod`).
    end_of_day: bool = True
    today: date | None = None


@dataclass(slots=True)
class DemoResult:
    staff: list[Staff] = field(default_factory=list)
    products: list[LoanProduct] = field(default_factory=list)
    borrowers: int = 0
    loans: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_conduct: dict[str, int] = field(default_factory=dict)
    events: int = 0
    dates_closed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class DemoRefused(Exception):
    """The database already holds loans, or the sizes make no sense."""


def moment(day: date, tz: ZoneInfo, minute: int) -> datetime:
    """A moment during the working day ``day`` (local time), as UTC."""
    local = datetime.combine(day, clock_time(9, 0), tzinfo=tz) + timedelta(minutes=minute % 480)
    return local.astimezone(UTC)


def check_sizes(sizes: DemoSizes, product_count: int) -> None:
    if sizes.borrowers < 1 or sizes.loans < 1 or sizes.days < 1 or sizes.agents < 1:
        raise DemoRefused("--borrowers, --loans, --days and --agents must be at least 1")
    if sizes.loans > sizes.borrowers * min(product_count, 2):
        raise DemoRefused(
            f"--loans {sizes.loans} needs at least {-(-sizes.loans // 2)} borrowers "
            "(a borrower holds at most two loans)"
        )


async def _staff(
    client: MongoClient, settings: Settings, sizes: DemoSizes, password: str, now: datetime
) -> list[Staff]:
    db = client[database_name(settings, "user")]
    staff = await user_seeding.ensure_staff(db, staff_seeds(sizes.agents), actor=ACTOR, now=now)
    for member in staff:
        await seed_admin_credential(
            settings, staff_id=member.id, username=member.email, role=member.role.value,
            branch_id=member.branch_id, password=password,
        )
    return staff


def _chunks(total: int, size: int = CHUNK) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def _at(day: date, *, tz: ZoneInfo, minute: int) -> datetime:
    return moment(day, tz, minute)


async def _pipeline(
    total: int,
    make: Callable[[range], list[T]],
    write: Callable[[list[T]], Coroutine[Any, Any, int]],
    report: Reporter,
) -> int:
    """Build chunk n+1 (in a thread, in order) while chunk n is being written; returns
    what the writes return, summed. The database works meanwhile in its own process."""
    written = 0
    pending: asyncio.Task[int] | None = None
    size = 0
    for part in _chunks(total):
        seeded = await asyncio.to_thread(make, part)
        if pending is not None:
            written += await pending
            report.advance(size)
        pending, size = asyncio.create_task(write(seeded)), len(part)
    if pending is not None:
        written += await pending
        report.advance(size)
    return written


async def _borrowers(
    client: MongoClient, settings: Settings, opts: DemoOptions, agents: Sequence[Staff],
    approver: Staff, today: date, report: Reporter, result: DemoResult,
) -> list[BorrowerRef]:
    sizes, tz = opts.sizes, settings.business_tz()
    db = client[database_name(settings, "user")]
    rng = random.Random(sizes.seed)
    refs: list[BorrowerRef] = []
    report.stage("borrowers", sizes.borrowers)
    registered = today - timedelta(days=sizes.days + 7)

    def make(part: range) -> list[user_seeding.SeededBorrower]:
        seeded = []
        for i in part:
            agent = agents[i % len(agents)]
            item = user_seeding.build_borrower(
                new_id(rng), borrower_input(i, rng, registered), agent_id=agent.id,
                branch_id=agent.branch_id, verified_by=approver.id, today=registered,
                created_at=moment(registered, tz, i), verified_at=moment(registered, tz, i + 60),
            )
            seeded.append(item)
            b = item.borrower
            refs.append(BorrowerRef(b.id, b.profile.full_name, agent.id, agent.branch_id))
        return seeded

    async def write(seeded: list[user_seeding.SeededBorrower]) -> int:
        return await user_seeding.write_borrowers(db, seeded, events=opts.events)

    result.events += await _pipeline(sizes.borrowers, make, write, report)
    result.borrowers = len(refs)
    return refs


async def _number(plans: list[loan_seeding.LoanPlan], db: Any) -> list[loan_seeding.LoanPlan]:
    """Loan numbers per disbursement year, in plan order, reserved from the counter."""
    years: dict[int, int] = {}
    for plan in plans:
        years[plan.disbursement_date.year] = years.get(plan.disbursement_date.year, 0) + 1
    first = {y: await loan_seeding.reserve_numbers(db, y, n) for y, n in sorted(years.items())}
    out = []
    for plan in plans:
        year = plan.disbursement_date.year
        out.append(replace(plan, sequence=first[year]))
        first[year] += 1
    return out


async def _loans(
    client: MongoClient, settings: Settings, opts: DemoOptions, refs: Sequence[BorrowerRef],
    catalogue: Sequence[LoanProduct], approver: Staff, today: date, report: Reporter,
    result: DemoResult,
) -> None:
    tz = settings.business_tz()
    db = client[database_name(settings, "loan")]
    plans = await _number(list(loan_plans(refs, catalogue, opts.sizes, approver.id, today)), db)
    report.stage("loans", len(plans))

    def make(part: range) -> list[loan_seeding.SeededLoan]:
        seeded = []
        for k in part:
            plan = plans[k]
            item = loan_seeding.build_loan(plan, today, functools.partial(_at, tz=tz, minute=k))
            seeded.append(item)
            conduct, status = plan.conduct.value, item.loan.status.value
            result.by_conduct[conduct] = result.by_conduct.get(conduct, 0) + 1
            result.by_status[status] = result.by_status.get(status, 0) + 1
        return seeded

    payments = client[database_name(settings, "payment")]

    async def write(seeded: list[loan_seeding.SeededLoan]) -> int:
        # The loans first: a payment names the loan transaction it became.
        count = await loan_seeding.write_loans(db, seeded, events=opts.events)
        return count + await payment_seeding.write_payments(
            payments, [p for item in seeded for p in _payments_of(item)], events=opts.events
        )

    result.events += await _pipeline(len(plans), make, write, report)
    result.loans = len(plans)


def _payments_of(item: loan_seeding.SeededLoan) -> list[payment_seeding.SeededPayment]:
    """payment_service's record of each repayment the loan's seeding applied."""
    loan = item.loan
    facts = LoanFacts(loan.loan_number, loan.borrower_id, loan.borrower_name, loan.agent_id,
                      loan.branch_id)
    out = []
    for r in item.repayments:
        a = r.allocation
        allocation = Allocation(
            penalty=a.penalty, fee=a.fee, interest=a.interest, principal=a.principal,
            recovery=a.recovery, interest_waived=a.interest_waived,
            installments=tuple(
                InstallmentSplit(i.installment_number, i.penalty, i.fee, i.interest,
                                 i.principal)
                for i in a.installments
            ),
        )
        out.append(payment_seeding.SeededPayment(
            r.payment_id, loan.id, Money(r.amount, loan.currency), r.value_date,
            Channel(r.channel), r.posted_by, r.at, allocation, r.transaction_id, r.recovery,
            r.loan_closed, facts,
        ))
    return out


async def _refuse_if_seeded(client: MongoClient, settings: Settings) -> None:
    loans = client[database_name(settings, "loan")]["loans"]
    if await loans.find_one({}, {"_id": 1}) is not None:
        raise DemoRefused(
            "the loan database already holds loans; demo data goes into an empty deployment "
            f"(set MF_MONGO_DB to a new name, now {settings.mongo_db!r})"
        )


async def build(settings: Settings, opts: DemoOptions, report: Reporter) -> DemoResult:
    """Migrations, staff and logins, products, borrowers, loans, search, end of day."""
    result = DemoResult()
    tz = settings.business_tz()
    today = opts.today or business_date(utcnow(), tz)
    sizes = opts.sizes
    catalogue = products(sizes.currencies, random.Random(sizes.seed))
    check_sizes(sizes, len(catalogue))
    await run_migrations(settings, lambda _: None)
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-demo-data")
    try:
        await _refuse_if_seeded(client, settings)
        started = time.monotonic()
        now = moment(today - timedelta(days=sizes.days + 8), tz, 0)
        result.staff = await _staff(client, settings, sizes, opts.password, now)
        approver = result.staff[0]
        agents = [s for s in result.staff if s.role is Role.AGENT]
        loan_db = client[database_name(settings, "loan")]
        result.products = await loan_seeding.ensure_products(loan_db, catalogue)
        report.say(f"{len(agents)} agents, 1 admin, {len(result.products)} products")
        refs = await _borrowers(client, settings, opts, agents, approver, today, report, result)
        result.seconds["borrowers"] = time.monotonic() - started
        started = time.monotonic()
        await _loans(client, settings, opts, refs, result.products, approver, today, report,
                     result)
        result.seconds["loans"] = time.monotonic() - started
    finally:
        await client.close()
    if opts.search:
        await _reindex(settings, report, result)
    if opts.end_of_day:
        await _end_of_day(settings, today - timedelta(days=sizes.days), today, report, result)
    return result


async def _reindex(settings: Settings, report: Reporter, result: DemoResult) -> None:
    from loan_service.reindex import reindex_from_settings as reindex_loans
    from shared.reindex import ReindexOptions
    from user_service.reindex import reindex_from_settings as reindex_borrowers

    started = time.monotonic()
    for name, run in (("borrowers", reindex_borrowers), ("loans", reindex_loans)):
        options = ReindexOptions(
            on_total=lambda total, name=name: report.stage(f"search: {name}", total),  # type: ignore[misc]
            on_progress=report.advance,
        )
        try:
            await run(settings, options)
        except Exception as exc:  # search is secondary: say how to redo it
            report.say(f"search index of {name} not rebuilt ({exc}); run "
                       f"`microfinance reindex {name}` once Elasticsearch answers")
    result.seconds["search"] = time.monotonic() - started


async def _end_of_day(
    settings: Settings, first: date, today: date, report: Reporter, result: DemoResult
) -> None:
    started = time.monotonic()
    last = today - timedelta(days=1)
    shown: dict[date, int] = {}

    def progress(day: date, done: int, total: int) -> None:
        if day not in shown:
            report.stage(f"end of day {day.isoformat()}", total)
            shown[day] = 0
        report.advance(done - shown[day])
        shown[day] = done

    closed = await loan_seeding.close_dates(settings, first, last, progress)
    result.dates_closed = closed
    result.seconds["end_of_day"] = time.monotonic() - started


def summary(result: DemoResult, sizes: DemoSizes) -> list[str]:
    agents = [s for s in result.staff if s.role is Role.AGENT]
    lines = [
        f"demo data (seed {sizes.seed}, {sizes.days} days): {result.borrowers} borrowers, "
        f"{result.loans} loans, {len(agents)} agents, {len(result.products)} products "
        f"({', '.join(sorted({p.currency for p in result.products}))})",
        "loans by status: " + ", ".join(f"{k} {v}" for k, v in sorted(result.by_status.items())),
        "loans by conduct: " + ", ".join(
            f"{k} {v}" for k, v in sorted(result.by_conduct.items())
        ),
        f"events recorded in the outboxes: {result.events}",
        f"end of day: {result.dates_closed} date(s) closed",
        "logins: " + ", ".join(s.email for s in result.staff[:3])
        + (" ..." if len(result.staff) > 3 else "") + " (password from --password)",
        "timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items()),
    ]
    return lines


Say = Callable[[str], None]


class LogReporter:
    """One line per stage and per tenth of it (not a terminal: logs, CI)."""

    def __init__(self, say: Say) -> None:
        self._say = say
        self._name = ""
        self._total = 0
        self._done = 0
        self._next = 0

    def stage(self, name: str, total: int) -> None:
        self._name, self._total, self._done = name, total, 0
        self._next = max(1, total // 10)
        self._say(f"{name}: {total}")

    def advance(self, count: int) -> None:
        self._done += count
        if self._done >= self._next or self._done == self._total:
            self._say(f"{self._name}: {self._done}/{self._total}")
            self._next = self._done + max(1, self._total // 10)

    def say(self, text: str) -> None:
        self._say(text)

    def close(self) -> None:
        return None


class RichReporter:
    """A rich progress bar per stage (a terminal)."""

    def __init__(self) -> None:
        self._progress = start_bar()
        self._task: Any = None

    def stage(self, name: str, total: int) -> None:
        self._task = self._progress.add_task(name, total=total)

    def advance(self, count: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)

    def say(self, text: str) -> None:
        self._progress.console.print(text)

    def close(self) -> None:
        self._progress.stop()
