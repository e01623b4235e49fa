"""End of day, the use cases: close business dates over every loan, in batches.

``start`` (RunEndOfDay) decides the dates (``domain.eod.dates_to_close``),
records a run and returns at once; the ``EndOfDayWorker`` in the service
works it while it holds the lease in MongoDB, so one replica closes a date.
``close_now`` does the same inline (a whole run, returning when it is done),
for callers in-process such as the demo data.

A date is worked in batches of loans, a few at a time: one cursor reads the
date's loans, a batch computes on the loans it was handed (``close_loan``) and
commits in one transaction: the guard on the run (``guard_batch``: still ours,
and no loan written since the loans were read), the loans that got late
penalties (compare-and-set on their version; the others are not written),
their snapshot rows (one ``insert_many``), the batch's figures and the outbox
events. Reads and compute of batches overlap; their commits take turns (they
all write the run's document). A loan written meanwhile (``LoansWritten``,
``VersionConflict``) makes the batch read its loans again and decide again. A
loan's row existing is what marks it done, so a run killed mid-date and
started again picks up the loans without a row and ends exactly as one clean
run would. When every loan has its row the date is recorded closed and
``eod.date_closed`` published.

A repayment, reversal or waiver value-dated into a closed date calls
``rederive`` inside its own transaction: the loan's rows dated on or after
that value date are computed again and published again (docs/design.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loan_service import payloads
from loan_service.adapters.eod_repository import (
    EodRepository,
    LeaseLost,
    LoansWritten,
    RowTaken,
    row_id,
    snapshot_to_doc,
)
from loan_service.adapters.loan_repository import VersionConflict
from loan_service.domain import ledger
from loan_service.domain.eod import (
    LoanClose,
    LoanRefs,
    bucket_change,
    close_loan,
    dates_to_close,
    rederive_from,
    scheduled_date,
)
from loan_service.domain.ledger import SYSTEM_ACTOR
from loan_service.domain.loan import Loan, facts_of
from shared import metrics
from shared.background import BackgroundLoop
from shared.clock import business_date, utcnow
from shared.errors import Conflict, FailedPrecondition
from shared.identity import Caller, Role
from shared.portfolio import ArrearsBucket
from shared.ports import Events, Session, Transactions

log = logging.getLogger(__name__)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class EodOptions:
    batch_size: int = 500
    # Batches in flight at once (their reads and writes overlap; the compute does not).
    concurrency: int = 4
    lease_seconds: float = 30.0
    # Test only: after this many committed batches, stop for good (to be killed there).
    pause_after_batches: int = 0
    max_attempts: int = 20
    # A run that failed this many times (the worker retries it every pass) is given up:
    # moved to the status' failed_run with its last error, so a new run may open.
    give_up_after_failures: int = 5


class EndOfDayFailed(Exception):
    """The run was given up after repeated failures: its last error message."""


@dataclass(frozen=True, slots=True)
class DateFigures:
    business_date: date
    loans_processed: int
    snapshot_rows: int
    penalties_charged: int
    installments_marked_overdue: int
    penalty_totals: dict[str, int]
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunError:
    """A run's last failure: what, when, and how many times the run failed so far."""

    message: str
    at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class RunState:
    target: date
    dates: tuple[date, ...]
    catch_up: bool
    requested_by: str
    started_at: datetime
    # The date being worked now (None before the first batch), its loans and those done.
    current: date | None
    loans_total: int
    loans_done: int
    last_error: RunError | None = None
    # Set on a run given up (EodStatus.failed_run).
    failed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EodStatus:
    last_closed: date | None
    run: RunState | None
    # The figures of the last closed date.
    last_date: DateFigures | None
    # RunEndOfDay only: the date asked for was already closed; nothing ran.
    already_run: bool = False
    # RunEndOfDay only: the date the request was about (the run's target or the date asked).
    requested: date | None = None
    # The last run given up after repeated failures (until the next run opens).
    failed_run: RunState | None = None


def _figures(doc: dict[str, Any] | None) -> DateFigures | None:
    if doc is None:
        return None
    closed_at = doc.get("closed_at")
    if isinstance(closed_at, datetime) and closed_at.tzinfo is None:
        closed_at = closed_at.replace(tzinfo=UTC)
    return DateFigures(
        business_date=date.fromisoformat(str(doc["_id"])),
        loans_processed=int(doc.get("loans_processed", 0)),
        snapshot_rows=int(doc.get("snapshot_rows", 0)),
        penalties_charged=int(doc.get("penalties_charged", 0)),
        installments_marked_overdue=int(doc.get("installments_marked_overdue", 0)),
        penalty_totals={str(k): int(v) for k, v in (doc.get("penalty_totals") or {}).items()},
        closed_at=closed_at,
    )


def _epoch(day: date | None) -> float:
    """A date as the Unix time of its midnight UTC (Grafana shows it as a date); 0: none."""
    return datetime.combine(day, time(), UTC).timestamp() if day is not None else 0.0


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _run_state(raw: dict[str, Any], loans_done: int) -> RunState:
    error = raw.get("last_error")
    started = _aware(raw["started_at"])
    assert started is not None
    return RunState(
        target=date.fromisoformat(raw["target"]),
        dates=tuple(date.fromisoformat(d) for d in raw["dates"]),
        catch_up=bool(raw.get("catch_up")),
        requested_by=str(raw.get("requested_by", "")),
        started_at=started,
        current=_day(raw.get("current")),
        loans_total=int(raw.get("loans_total", 0)),
        loans_done=loans_done,
        last_error=RunError(str(error.get("message", "")), _aware(error.get("at")) or started,
                            int(error.get("attempts", 0))) if error else None,
        failed_at=_aware(raw.get("failed_at")),
    )


@dataclass
class _Batch:
    """One batch's decisions, ready to write."""

    day: date
    changed: list[tuple[Loan, int]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


class EndOfDay:
    def __init__(
        self,
        repository: EodRepository,
        transactions: Transactions,
        events: Events,
        *,
        clock: Callable[[], datetime] = utcnow,
        timezone: ZoneInfo | None = None,
        options: EodOptions | None = None,
    ) -> None:
        self._repo = repository
        self._tx = transactions
        self._events = events
        self._clock = clock
        self._tz = timezone
        self.options = options or EodOptions()
        self.owner = uuid.uuid4().hex
        self._wake = asyncio.Event()
        # One worker per process: the lease is per process, this is within it.
        self._working = asyncio.Lock()
        self._batches_committed = 0
        self._renewed_at: datetime | None = None
        # Batches commit one at a time: each writes the run's document (guard_batch).
        self._commit = asyncio.Lock()

    def today(self) -> date:
        return business_date(self._clock(), self._tz)

    def now(self) -> datetime:
        return self._clock()

    async def wait_for_work(self, seconds: float) -> None:
        """Until ``start`` opens a run here, or ``seconds`` have gone by."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def release(self) -> None:
        """Give the lease up (a stopping process), so another replica need not wait it out."""
        await self._repo.release(self.owner)

    # -- asking and reading ---------------------------------------------------------------
    async def start(
        self, caller: Caller, requested: date | None, catch_up: bool = False
    ) -> EodStatus:
        """Open a run closing up to ``requested`` (default today), or join the one open."""
        for _ in range(self.options.max_attempts):
            state = await self._repo.state()
            run = state.get("run")
            if run:
                target = date.fromisoformat(run["target"])
                if requested not in (None, target):
                    raise FailedPrecondition(
                        f"end of day is already running up to {target.isoformat()}; "
                        "wait for it to finish, then ask again"
                    )
                return replace(await self.status(), requested=target)
            last_closed = _day(state.get("last_closed"))
            dates = dates_to_close(last_closed, requested, self.today(), catch_up=catch_up)
            if not dates:
                status = await self.status()
                return replace(status, already_run=True, requested=last_closed)
            record = {
                "target": dates[-1].isoformat(),
                "dates": [d.isoformat() for d in dates],
                "catch_up": catch_up,
                "requested_by": caller.subject,
                "started_at": self._clock(),
                "current": None,
                "loans_total": 0,
            }
            if await self._repo.open_run(last_closed, record):
                log.info("end of day opened up to %s", dates[-1].isoformat())
                self._wake.set()
                return replace(await self.status(), requested=dates[-1])
        raise Conflict("end of day is being started concurrently; retry")

    async def status(self) -> EodStatus:
        state = await self._repo.state()
        last_closed = _day(state.get("last_closed"))
        run: RunState | None = None
        raw = state.get("run")
        if raw:
            current = _day(raw.get("current"))
            done = _figures(await self._repo.date_figures(current)) if current else None
            run = _run_state(raw, done.loans_processed if done else 0)
        failed = state.get("failed_run")
        last = _figures(await self._repo.date_figures(last_closed)) if last_closed else None
        return EodStatus(last_closed=last_closed, run=run, last_date=last,
                         failed_run=_run_state(failed, 0) if failed else None)

    async def sample_progress(self) -> None:
        """The end-of-day gauges (shared/metrics.py) from the stored status: the phase,
        the date being closed with its loans done of total, and what is left."""
        status = await self.status()
        run = status.run
        if run is not None:
            phase = "retrying" if run.last_error is not None else "running"
        else:
            phase = "given_up" if status.failed_run is not None else "idle"
        for each in metrics.EOD_PHASES:
            metrics.EOD_PHASE.labels(each).set(1 if each == phase else 0)
        metrics.EOD_LOANS_TOTAL.set(run.loans_total if run else 0)
        metrics.EOD_LOANS_DONE.set(run.loans_done if run else 0)
        metrics.EOD_FAILURES.set(run.last_error.attempts if run and run.last_error else 0)
        closed = status.last_closed
        remaining = [d for d in run.dates if closed is None or d > closed] if run else []
        metrics.EOD_DATES_REMAINING.set(len(remaining))
        metrics.EOD_CURRENT_DATE.set(_epoch(run.current if run else None))
        metrics.EOD_LAST_CLOSED.set(_epoch(closed))

    async def figures(self, day: date | None) -> DateFigures | None:
        return _figures(await self._repo.date_figures(day)) if day is not None else None

    # -- working a run -------------------------------------------------------------------------
    async def close_now(
        self, caller: Caller, requested: date | None, catch_up: bool = False
    ) -> EodStatus:
        """``start``, then work the run here until it is done (in-process callers)."""
        status = await self.start(caller, requested, catch_up)
        if status.already_run:
            return status
        while (await self._repo.state()).get("run"):
            if not await self.work():
                await asyncio.sleep(self.options.lease_seconds / 10)
        done = await self.status()
        if done.failed_run is not None and done.failed_run.last_error is not None:
            raise EndOfDayFailed(done.failed_run.last_error.message)
        return replace(done, requested=status.requested)

    async def _renew(self) -> None:
        """Renew the lease once a fifth of it has gone by (outside the batches' transactions,
        which only read it, so concurrent batches do not conflict on it)."""
        now = self._clock()
        if self._renewed_at is not None and now - self._renewed_at < timedelta(
            seconds=self.options.lease_seconds / 5
        ):
            return
        await self._repo.hold(self.owner, self._lease_until())
        self._renewed_at = now

    def _lease_until(self) -> datetime:
        return self._clock() + timedelta(seconds=self.options.lease_seconds)

    async def work(self) -> bool:
        """Work the open run if this worker gets its lease; False if there is none to take."""
        if self._working.locked():
            return False
        async with self._working:
            state = await self._repo.take_lease(self.owner, self._clock(), self._lease_until())
            if state is None:
                return False
            self._renewed_at = self._clock()
            await self._work_run(state["run"])
            return True

    async def _work_run(self, run: dict[str, Any]) -> None:
        try:
            for iso in run["dates"]:
                day = date.fromisoformat(iso)
                last_closed = _day((await self._repo.state()).get("last_closed"))
                if last_closed is not None and day <= last_closed:
                    continue
                await self.close_date(day, last_closed)
            await self._repo.finish_run(
                self.owner,
                {
                    **{k: run[k] for k in ("target", "dates", "catch_up", "requested_by")},
                    "started_at": run["started_at"],
                    "finished_at": self._clock(),
                },
            )
        except LeaseLost:
            log.warning("end of day lease lost to another worker; leaving the run to it")
        except Exception as exc:
            await self._failed(exc)

    async def _failed(self, exc: Exception) -> None:
        """Record the failure on the run (the status shows it); give the run up after
        ``give_up_after_failures`` of them, else the next pass retries it."""
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        limit = self.options.give_up_after_failures
        attempts = await self._repo.record_failure(self.owner, message[:2000], self._clock(),
                                                   limit)
        if attempts >= limit:
            log.error("end of day given up after %d failure(s): %s", attempts, message,
                      exc_info=exc)
        else:
            log.warning("end of day failed (%d of %d before giving up): %s", attempts, limit,
                        message, exc_info=exc)

    async def close_date(self, day: date, previous: date | None) -> None:
        """Every loan of ``day`` in batches, then the date closed. Needs the lease."""
        total = await self._repo.count_candidates(day)
        await self._repo.hold(
            self.owner, self._lease_until(), current=day.isoformat(), loans_total=total
        )
        log.info("end of day %s: %d loan(s)", day.isoformat(), total)
        limit = asyncio.Semaphore(self.options.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        failure: list[BaseException] = []
        # Read before the cursor: a loan written after it makes the batch read it again.
        stamp = await self._repo.loan_writes()

        async def one(loans: list[Loan]) -> None:
            try:
                await self._batch(day, loans, stamp)
            except BaseException as exc:
                failure.append(exc)
            finally:
                limit.release()

        async for loans in self._repo.candidates(day, self.options.batch_size):
            await limit.acquire()
            if failure:
                limit.release()
                break
            task = asyncio.create_task(one(loans))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        if failure:
            raise failure[0]
        await self._close(day, previous)

    async def _close(self, day: date, previous: date | None) -> None:
        now = self._clock()

        async def body(session: Session) -> None:
            figures = await self._repo.close_date(self.owner, day, previous, now, session)
            event = self._events.new_event(
                "eod.date_closed", day.isoformat(), payloads.date_closed(figures)
            )
            await self._events.add(session, [event])

        await self._tx(body)
        self._events.notify()
        log.info("end of day %s closed", day.isoformat())

    async def _batch(self, day: date, loans: list[Loan], stamp: int) -> None:
        ids = [loan.id for loan in loans]
        todo = loans  # the candidates come without the loans already done
        batch: _Batch | None = None
        decided: list[tuple[str, int]] = []
        for attempt in range(1, self.options.max_attempts + 1):
            if attempt > 1:
                done = await self._repo.done(day, ids)
                todo = [loan for loan in loans if loan.id not in done]
            if not todo:
                return
            versions = [(loan.id, loan.version) for loan in todo]
            if batch is None or versions != decided:
                previous = await self._repo.buckets(day - _DAY, [loan.id for loan in todo])
                batch, decided = self._decide(day, todo, previous), versions
            try:
                async with self._commit:
                    await self._renew()
                    await self._tx(functools.partial(self._write, batch, stamp))
            except (LoansWritten, VersionConflict, RowTaken, Conflict):
                # A loan was written meanwhile (or its row by someone else): read again.
                # The batch is decided again only if one of its own loans changed.
                await asyncio.sleep(0.005 * attempt)
                stamp = await self._repo.loan_writes()
                loans = await self._repo.reload(ids)
                continue
            self._events.notify()
            await self._after_commit(day)
            return
        raise Conflict(f"end of day {day.isoformat()}: a batch kept conflicting; run it again")

    async def _after_commit(self, day: date) -> None:
        self._batches_committed += 1
        pause = self.options.pause_after_batches
        if pause and self._batches_committed >= pause:
            log.warning(
                "test pause after %d batch(es) of %s: waiting to be killed",
                self._batches_committed,
                day.isoformat(),
            )
            await asyncio.Event().wait()

    async def _write(self, batch: _Batch, stamp: int, session: Session) -> None:
        await self._repo.guard_batch(self.owner, stamp, batch.day, session)
        await self._repo.write_loans(batch.changed, session)
        await self._repo.insert_rows(batch.rows, session)
        await self._repo.add_figures(batch.day, batch.figures, session)
        await self._events.add(session, batch.events)

    # -- the decisions (no I/O) --------------------------------------------------------------------
    def _decide(self, day: date, loans: list[Loan], previous: dict[str, ArrearsBucket]) -> _Batch:
        now = self._clock()
        today = business_date(now, self._tz)
        batch = _Batch(day)
        figures: dict[str, Any] = {
            "loans_processed": 0,
            "penalties_charged": 0,
            "installments_marked_overdue": 0,
        }
        penalty_totals: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        for loan in loans:
            figures["loans_processed"] += 1
            ev = self._evaluate(loan, day, previous.get(loan.id), now)
            stored = loan
            if ev is None:
                continue
            if ev.penalties:
                stored = self._with_penalties(loan, ev, today, now)
                batch.changed.append((stored, loan.version))
                figures["penalties_charged"] += len(ev.penalties)
                for txn in ev.penalties:
                    penalty_totals[loan.currency] = (
                        penalty_totals.get(loan.currency, 0) + txn.amount
                    )
                    batch.events.append(
                        self._loan_event(stored, payloads.penalty_charged(txn, loan.currency))
                    )
            figures["installments_marked_overdue"] += ev.installments_overdue
            if ev.change is not None:
                batch.events.append(self._loan_event(stored, self._bucket_event(ev)))
            if ev.in_book:
                row = snapshot_to_doc(ev.snapshot, stored.loan_number, stored.version)
                rows.append({"_id": row_id(day, loan.id), **row})
        batch.rows = rows
        batch.figures = {**figures, "penalty_totals": penalty_totals}
        batch.events += [
            self._events.new_event("loan.snapshots", day.isoformat(), payload)
            for payload in payloads.snapshot_chunks(day.isoformat(), rows)
        ]
        return batch

    @staticmethod
    def _evaluate(
        loan: Loan, day: date, previous: ArrearsBucket | None, now: datetime
    ) -> LoanClose | None:
        if loan.schedule is None or day < loan.schedule.disbursement_date:
            return None
        return close_loan(
            loan.terms,
            loan.schedule,
            loan.transactions,
            day,
            LoanRefs(loan.id, loan.borrower_id, loan.agent_id, loan.branch_id, loan.product_id),
            previous_bucket=previous,
            created_at=now,
        )

    @staticmethod
    def _with_penalties(loan: Loan, ev: LoanClose, today: date, now: datetime) -> Loan:
        assert loan.schedule is not None
        state = ledger.replay(
            loan.terms, loan.schedule, ev.transactions, max(today, ev.business_date)
        )
        return replace(
            loan,
            transactions=ev.transactions,
            facts=facts_of(state),
            version=loan.version + 1,
            updated_by=SYSTEM_ACTOR,
            updated_at=now,
        )

    @staticmethod
    def _bucket_event(ev: LoanClose) -> payloads.LoanEvent:
        assert ev.change is not None
        return payloads.bucket_changed(
            ev.change.event.value,
            ev.business_date.isoformat(),
            ev.change.previous.value,
            ev.change.current.value,
            ev.days_past_due,
            ev.arrears_amount,
        )

    def _loan_event(self, loan: Loan, event: payloads.LoanEvent) -> Any:
        kind, extra = event
        return self._events.new_event(kind, loan.id, {**payloads.loan_payload(loan), **extra})

    # -- backdated money ---------------------------------------------------------------------------
    async def rederive(self, before: Loan, after: Loan, session: Session) -> int:
        """Re-derive ``after``'s snapshot rows from the earliest date its change alters.

        Runs in the transaction that stores ``after``. Only rows that exist are
        rewritten (dates already worked), so the work is bounded by the number of
        those dates since the value date. Returns the number of rows rewritten.
        """
        since = rederive_from(before.transactions, after.transactions)
        if since is None or after.schedule is None:
            return 0
        # One read of the run's document tells both things below (issue 15: it used to be
        # an update and a read of loan_snapshots for every loan write).
        watch = await self._repo.watch(session)
        if watch.run_open:
            # A batch of an open run that read this loan before now must not commit its row.
            await self._repo.note_loan_write(session)
        if not watch.rows_from(since):
            return 0  # no row on or after ``since`` can exist: nothing to re-derive
        old = await self._repo.rows_of_loan(after.id, since, session)
        if not old:
            return 0
        first = old[0].business_date
        previous = (await self._repo.buckets(first - _DAY, [after.id], session)).get(after.id)
        now = self._clock()
        rows: list[dict[str, Any]] = []
        evaluation: LoanClose | None = None
        for row in old:
            evaluation = self._evaluate(after, row.business_date, previous, now)
            assert evaluation is not None
            previous = evaluation.bucket
            doc = snapshot_to_doc(evaluation.snapshot, after.loan_number, after.version)
            rows.append({"_id": row_id(row.business_date, after.id), **doc})
        await self._repo.upsert_rows(rows, session)
        events = [
            self._events.new_event("loan.snapshots", str(doc["business_date"]), payload)
            for doc in rows
            for payload in payloads.snapshot_chunks(str(doc["business_date"]), [doc])
        ]
        assert evaluation is not None
        moved = bucket_change(old[-1].bucket, evaluation.bucket)
        if moved is not None and evaluation.status.value == "ACTIVE":
            events.append(
                self._loan_event(
                    after,
                    payloads.bucket_changed(
                        moved.event.value,
                        evaluation.business_date.isoformat(),
                        moved.previous.value,
                        moved.current.value,
                        evaluation.days_past_due,
                        evaluation.arrears_amount,
                    ),
                )
            )
        await self._events.add(session, events)
        log.info(
            "loan %s: %d snapshot row(s) re-derived from %s",
            after.loan_number,
            len(rows),
            since.isoformat(),
        )
        return len(rows)


class EndOfDayWorker(BackgroundLoop):
    """Background: works an open run when it can take the lease (after a kill too), and
    with a schedule (``MF_EOD_AT``) opens one whenever a scheduled date is due and not
    closed (``domain.eod.scheduled_date``: from noon on the time closes its own date,
    before noon the day that just ended)."""

    task_name = "end-of-day"

    def __init__(
        self,
        eod: EndOfDay,
        *,
        interval_seconds: float = 2.0,
        at: str = "",
        timezone: ZoneInfo | None = None,
    ) -> None:
        self._eod = eod
        self._interval = interval_seconds
        self._at = at
        self._tz = timezone or ZoneInfo("UTC")
        super().__init__()

    async def stop(self) -> None:
        await super().stop()
        await self._eod.release()

    def scheduled(self, now: datetime) -> date | None:
        """The latest business date the schedule (``MF_EOD_AT``) wants closed by ``now``
        (``domain.eod.scheduled_date``); None without a schedule."""
        if not self._at:
            return None
        hour, minute = (int(part) for part in self._at.split(":"))
        return scheduled_date(now.astimezone(self._tz).replace(tzinfo=None), time(hour, minute))

    async def _tick(self) -> None:
        eod = self._eod
        target = self.scheduled(eod.now())
        if target is not None:
            with contextlib.suppress(FailedPrecondition):
                status = await eod.status()
                # A run given up stays given up until someone runs it (`microfinance eod`):
                # restarting it here would hide its error behind a new run, again and again.
                failed = status.failed_run
                if (status.run is None
                        and (status.last_closed is None or status.last_closed < target)
                        and (failed is None or failed.target < target)):
                    system = Caller(subject="system:schedule", role=Role.SERVICE)
                    await eod.start(system, target, catch_up=True)
        await eod.work()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._tick()
            except Exception:
                log.warning("end of day pass failed; trying again", exc_info=True)
            await self._eod.wait_for_work(self._interval)
