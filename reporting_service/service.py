"""Reporting use cases: project events into the read models, answer reports from them.

Scoping: an agent's reports are always narrowed to the agent's own portfolio
(the caller's token), whatever agent the request names; admins see
everything and may narrow by agent, branch, product and currency.

Dates: an "as of" report needs a closed business date (``eod.date_closed``
received and all its snapshot rows held); it defaults to the latest one. A
range report runs ``from`` to ``to`` inclusive, never past today.

Caching: each report is cached under its kind, the caller's scope, the
filters, and a data version: the as-of date's revision (the sum of its rows'
loan versions, which grows when a backdated transaction revises a row) or,
for the range reports, the counter of money events. A closed date's report
is kept ``long_ttl`` seconds; a range reaching today ``short_ttl``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from reporting_service.adapters.read_models import (
    ApplicationStep,
    BorrowerUpdate,
    ReadModels,
    Repayment,
    Reversal,
)
from reporting_service.domain import export
from reporting_service.domain.facts import (
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.domain.figures import check_range
from reporting_service.domain.flows import (
    AgentPerformance,
    CollectionReport,
    DisbursementReport,
    EfficiencyReport,
    Granularity,
    collection_efficiency,
    collection_report,
    disbursement_report,
)
from reporting_service.domain.flows_totals import agents_from, portfolio_from
from reporting_service.domain.portfolio import (
    PAR_THRESHOLDS,
    AgingReport,
    AtRiskLoan,
    Dimension,
    ParReport,
    PortfolioSummary,
    TrendPoint,
    aging_report,
    par_report,
)
from reporting_service.domain.totals import aging_from, by_currency, par_from, trend_from
from shared.cache import CacheCounter
from shared.clock import business_date, utcnow
from shared.errors import FailedPrecondition, InvalidArgument
from shared.identity import Caller
from shared.money import Money
from shared.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_token, encode_token
from shared.portfolio import LoanSnapshot
from shared.validation import parse_date

Session = Any
_CURRENCY = re.compile(r"[A-Z]{3}")
_REPORT_LOOKUPS = CacheCounter("report")
# A range report with no dates: the month up to today.
CACHE_PREFIX = "reports:v1"


class ReportCache(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: int | None = None) -> bool: ...


class NoCache:
    """A cache that never holds anything: every report computed from the read models."""

    async def get(self, key: str) -> str | None:
        return None

    async def set(self, key: str, value: str, ttl: int | None = None) -> bool:
        return False


class Kind:
    PORTFOLIO = "portfolio"
    PAR = "par"
    PAR_LOANS = "par-loans"
    AGING = "aging"
    DISBURSEMENTS = "disbursements"
    COLLECTIONS = "collections"
    EFFICIENCY = "collection-efficiency"
    AGENTS = "agents"
    TREND = "trend"


AS_OF_KINDS = frozenset({Kind.PORTFOLIO, Kind.PAR, Kind.PAR_LOANS, Kind.AGING, Kind.AGENTS})


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """A report request as received; every text is checked here."""

    kind: str
    as_of: str = ""
    start: str = ""
    end: str = ""
    currency: str = ""
    agent_id: str = ""
    branch_id: str = ""
    product_id: str = ""
    granularity: Granularity = Granularity.DAY
    dimension: Dimension | None = None
    threshold_days: int = 30
    page_size: int = 0
    page_token: str = ""
    # Every row, no paging (a CSV file).
    unpaged: bool = False


@dataclass(frozen=True, slots=True)
class Resolved:
    kind: str
    scope: dict[str, str]
    as_of: date | None
    start: date | None
    end: date | None
    revision: str
    ttl: int
    query: ReportQuery


@dataclass(frozen=True, slots=True)
class PortfolioView:
    summary: PortfolioSummary
    par: ParReport
    # (dimension value or "total", key, currency) -> fees, penalties, arrears, loans in arrears
    balances: dict[tuple[str, str, str], tuple[int, int, int, int]]


@dataclass(frozen=True, slots=True)
class ParLoansPage:
    as_of: date
    threshold_days: int
    loans: tuple[AtRiskLoan, ...]
    loan_numbers: dict[str, str]
    next_page_token: str
    total: int


@dataclass(frozen=True, slots=True)
class AgentsView:
    as_of: date
    start: date
    end: date
    rows: tuple[AgentPerformance, ...]
    # (agent, currency) -> loans disbursed, amount disbursed, due, collected against due
    flows: dict[tuple[str, str], tuple[int, int, int, int]]
    # (agent, currency) -> branch, loans in arrears
    book: dict[tuple[str, str], tuple[str, int]]
    next_page_token: str = ""
    total: int = 0


@dataclass(frozen=True, slots=True)
class TrendView:
    start: date
    end: date
    points: tuple[TrendPoint, ...]


Report = (
    PortfolioView | ParReport | ParLoansPage | AgingReport | DisbursementReport
    | CollectionReport | EfficiencyReport | AgentsView | TrendView
)


@dataclass(frozen=True, slots=True)
class Options:
    long_ttl: int = 86400
    short_ttl: int = 60


@dataclass
class ReportingService:
    models: ReadModels
    cache: ReportCache
    timezone: ZoneInfo
    options: Options = field(default_factory=Options)
    clock: Callable[[], datetime] = utcnow

    # ================================================================== projection
    async def log_event(self, body: dict[str, Any], session: Session) -> None:
        await self.models.log_event(*_logged(body), session)

    async def log_events(self, bodies: list[dict[str, Any]], session: Session) -> None:
        """``log_event`` of each, in order, in a few round trips."""
        await self.models.log_events([_logged(body) for body in bodies], session)

    async def project_many(
        self, money: list[Repayment | Reversal], steps: list[ApplicationStep],
        borrowers: list[BorrowerUpdate], session: Session,
    ) -> None:
        """``repaid``, ``reversed``, ``application`` and ``borrower`` of each, in order, as
        one pass: the documents come out as those calls one by one leave them."""
        await self.models.put_facts(money, steps, session)
        if money:
            await self.models.bump_flows(session, len(money))
        await self.models.put_borrowers(borrowers, session)

    async def snapshots(self, rows: list[tuple[dict[str, Any], int]], session: Session) -> None:
        days = list(dict.fromkeys(str(row["business_date"]) for row, _ in rows))
        built = await self.models.totals_built_of(days, session)
        # A date without totals yet (the usual case: its rows come before its close) takes
        # its rows at once; a built date's rows revise its totals one by one. The dates
        # are apart (their rows, counters and totals), so the order between them is free.
        await self.models.upsert_snapshots(
            [(row, v) for row, v in rows if str(row["business_date"]) not in built], session)
        for row, version in rows:
            if str(row["business_date"]) in built:
                await self.models.upsert_snapshot(row, version, session, totals_built=True)
        await self.models.saw_currencies((str(row["currency"]) for row, _ in rows), session)
        for day in days:
            # The date's last rows may be what closes it.
            await self.models.build_totals(day, session)

    async def date_closed(self, day: str, figures: dict[str, Any], session: Session) -> None:
        await self.models.close_date(day, figures, session)
        await self.models.build_totals(day, session)

    async def disbursed(
        self, fact: DisbursementFact, dues: list[InstallmentDue], session: Session
    ) -> None:
        # A write-off seen first (out of order) still takes its installments.
        await self.models.put_disbursement(fact, dues, session)
        await self.models.saw_currencies([fact.currency], session)
        cut = await self.models.written_off_from(fact.loan_id, session)
        if cut is not None:
            await self.models.cancel_dues_from(fact.loan_id, cut, session)
        await self.models.bump_flows(session)

    async def repaid(
        self, fact: CollectionFact, parts: list[InstallmentPayment], session: Session
    ) -> None:
        await self.models.put_collection(fact, parts, session)
        await self.models.bump_flows(session)

    async def reversed(self, transaction_id: str, session: Session) -> None:
        await self.models.reverse_collection(transaction_id, session)
        await self.models.bump_flows(session)

    async def written_off(self, loan_id: str, day: date, amount: int, session: Session) -> None:
        await self.models.cancel_dues_from(loan_id, day, session, amount)
        await self.models.bump_flows(session)

    async def application(
        self, loan_id: str, labels: dict[str, str], version: int, step: str,
        moment: datetime | date, session: Session,
    ) -> None:
        """A loan submitted, approved, or leaving the pipeline (``step`` its date's field).

        ``moment`` is when it happened; its business date is the step's date."""
        s = self.application_step(loan_id, labels, version, step, moment)
        await self.models.put_application(s.loan_id, s.labels, s.version, s.dates, session)

    def application_step(
        self, loan_id: str, labels: dict[str, str], version: int, step: str,
        moment: datetime | date,
    ) -> ApplicationStep:
        day = moment if not isinstance(moment, datetime) else business_date(moment,
                                                                             self.timezone)
        return ApplicationStep(loan_id, labels, version, {step: day})

    async def borrower(
        self, borrower_id: str, fields: dict[str, Any], version: int, session: Session
    ) -> None:
        await self.models.put_borrower(borrower_id, fields, version, session)

    # ================================================================== reports
    async def report(
        self, caller: Caller, query: ReportQuery, render: Callable[[Report], str]
    ) -> str:
        """The report ``query`` asks for, rendered by ``render`` (cached as rendered).

        ``render`` names its output in the key through ``render.__name__``: a proto and
        a CSV of the same report are two entries.
        """
        resolved = await self._resolve(caller, query)
        key = _cache_key(resolved, getattr(render, "__name__", "render"))
        hit = await self.cache.get(key)
        if hit is not None:
            _REPORT_LOOKUPS.hit()
            return hit
        _REPORT_LOOKUPS.miss()
        text = render(await self._compute(resolved))
        await self.cache.set(key, text, resolved.ttl)
        return text

    async def _resolve(self, caller: Caller, q: ReportQuery) -> Resolved:
        # The request's own arguments first, before anything that depends on stored dates.
        if q.kind == Kind.PAR_LOANS and q.threshold_days not in PAR_THRESHOLDS:
            raise InvalidArgument.field("threshold_days", "must be 1, 30 or 90")
        scope = {"agent_id": q.agent_id.strip(), "branch_id": q.branch_id.strip(),
                 "product_id": q.product_id.strip()}
        if not (caller.is_admin or caller.is_service):
            # Agents read their own portfolio only, whatever the request names.
            scope["agent_id"] = caller.acting_agent_id
        currency = q.currency.strip()
        if currency and (
            not _CURRENCY.fullmatch(currency) or currency not in await self.models.currencies()
        ):
            raise InvalidArgument.field("currency", f"{currency!r} is not a portfolio currency")
        scope["currency"] = currency
        today = business_date(self.clock(), self.timezone)
        if q.kind in AS_OF_KINDS:
            as_of, revision = await self._closed_as_of(q.as_of, today)
            start = end = None
            ttl = self.options.long_ttl
            version = f"d{revision}"
            if q.kind == Kind.PORTFOLIO:
                # Disbursed and collected to date come from the money events.
                version += f"f{await self.models.flows_revision()}"
            if q.kind == Kind.AGENTS:
                start, end = self._range(q, today, default_end=as_of)
                version += f"f{await self.models.flows_revision()}"
                ttl = self._range_ttl(end, today)
            return Resolved(q.kind, scope, as_of, start, end, version, ttl, q)
        if q.kind == Kind.TREND:
            closed = await self.models.closed_dates()
            if not closed:
                raise FailedPrecondition("no business date has been closed yet")
            last = closed[-1][0]
            start, end = self._range(q, today, default_end=last, default_days=30)
            if end > last:
                raise InvalidArgument.field(
                    "to", f"{end.isoformat()} is not closed (last closed date {last.isoformat()})"
                )
            days = [(d, r) for d, r in closed if start <= d <= end]
            digest = hashlib.sha256(json.dumps([(d.isoformat(), r) for d, r in days]).encode())
            return Resolved(q.kind, scope, None, start, end, digest.hexdigest()[:16],
                            self.options.long_ttl, q)
        start, end = self._range(q, today, default_end=today)
        version = f"f{await self.models.flows_revision()}"
        return Resolved(q.kind, scope, None, start, end, version, self._range_ttl(end, today), q)

    def _range_ttl(self, end: date, today: date) -> int:
        return self.options.short_ttl if end >= today else self.options.long_ttl

    @staticmethod
    def _range(
        q: ReportQuery, today: date, *, default_end: date, default_days: int = 0
    ) -> tuple[date, date]:
        """``from``..``to``; by default ``to`` is ``default_end`` and ``from`` the first of its
        month (or ``default_days`` days up to it)."""
        end = parse_date(q.end, "to") if q.end.strip() else default_end
        if end > today:
            raise InvalidArgument.field("to", f"{end.isoformat()} is in the future")
        if q.start.strip():
            start = parse_date(q.start, "from")
        elif default_days:
            start = end - timedelta(days=default_days - 1)
        else:
            start = end.replace(day=1)
        check_range(start, end)
        return start, end

    async def _closed_as_of(self, text: str, today: date) -> tuple[date, int]:
        if text.strip():
            day = parse_date(text, "as_of")
            if day > today:
                raise InvalidArgument.field("as_of", f"{day.isoformat()} is in the future")
            closed = await self.models.closed_dates(day, day)
            if not closed:
                raise InvalidArgument.field(
                    "as_of", f"{day.isoformat()} is not a closed business date"
                )
            return closed[0]
        found = await self.models.closed_dates()
        if not found:
            raise FailedPrecondition("no business date has been closed yet")
        return found[-1]

    async def _rows(self, day: date, scope: dict[str, str]) -> list[LoanSnapshot]:
        return (await self.models.snapshot_rows([day], scope)).get(day, [])

    async def _compute(self, r: Resolved) -> Report:
        q = r.query
        if r.kind in AS_OF_KINDS:
            assert r.as_of is not None
            if r.kind == Kind.PAR_LOANS:
                return await self._par_loans(r.as_of, r.scope, q)
            if r.kind in (Kind.PAR, Kind.AGING) and not q.unpaged:
                # A closed date's totals; the PAR file (unpaged) lists the loans: rows.
                sums = (await self.models.day_totals([r.as_of], r.scope))[r.as_of]
                return par_from(sums, r.as_of) if r.kind == Kind.PAR else aging_from(
                    sums, r.as_of)
            if r.kind == Kind.PORTFOLIO:
                return await self._portfolio(r.as_of, r.scope)
            if r.kind == Kind.AGENTS:
                assert r.start is not None
                assert r.end is not None
                return await self._agents(r.as_of, r.start, r.end, r.scope, q)
            rows = await self._rows(r.as_of, r.scope)
            return par_report(rows, r.as_of) if r.kind == Kind.PAR else aging_report(
                rows, r.as_of)
        assert r.start is not None
        assert r.end is not None
        if r.kind == Kind.TREND:
            days = [d for d, _ in await self.models.closed_dates(r.start, r.end)]
            by_date = await self.models.day_totals(days, r.scope)
            return TrendView(r.start, r.end, trend_from(by_date, r.start, r.end))
        if r.kind == Kind.DISBURSEMENTS:
            facts = await self.models.disbursements(r.start, r.end, r.scope)
            return disbursement_report(facts, r.start, r.end, q.granularity, q.dimension)
        if r.kind == Kind.COLLECTIONS:
            paid = await self.models.collections(r.start, r.end, r.scope)
            return collection_report(paid, r.start, r.end, q.granularity, q.dimension)
        if r.kind == Kind.EFFICIENCY:
            dues = await self.models.dues(r.start, r.end, r.scope)
            parts = await self.models.installment_payments(r.start, r.end, r.scope)
            return collection_efficiency(dues, parts, r.start, r.end)
        raise InvalidArgument.field("report", f"unknown report {r.kind!r}")

    async def _par_loans(self, as_of: date, scope: dict[str, str], q: ReportQuery
                         ) -> ParLoansPage:
        size = q.page_size or DEFAULT_PAGE_SIZE
        if not 0 < size <= MAX_PAGE_SIZE:
            raise InvalidArgument.field("page.page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        offset = decode_token(q.page_token)
        found = await self.models.par_loans(as_of, scope, q.threshold_days, offset, size)
        # How many: the date's totals count them (no count over the rows).
        sums = (await self.models.day_totals([as_of], scope))[as_of]
        total = sum(s[f"par{q.threshold_days}_loans"] for s in sums.values())
        page = tuple(
            AtRiskLoan(r.loan_id, r.agent_id, r.days_past_due,
                       Money(r.outstanding_principal, r.currency))
            for r in found
        )
        end = offset + len(page)
        numbers = await self.models.loan_numbers(as_of, [loan.loan_id for loan in page])
        return ParLoansPage(
            as_of, q.threshold_days, page, numbers, encode_token(end) if end < total else "",
            total,
        )

    async def _portfolio(self, as_of: date, scope: dict[str, str]) -> PortfolioView:
        """From the date's totals (rows and money to date) and distinct borrowers."""
        totals = await self.models.totals_of(as_of, scope)
        counts = await self.models.borrowers_of(as_of, scope, (None, *_GROUP_LABELS))
        borrowers = {(_GROUP_LABELS.get(label or ""), key, currency): n
                     for (label, key, currency), n in counts.items()}
        summary, balances = portfolio_from(totals, borrowers, as_of)
        par = par_from(by_currency((labels[0], s) for labels, s in totals), as_of)
        return PortfolioView(summary, par, balances)

    async def _agents(
        self, as_of: date, start: date, end: date, scope: dict[str, str], q: ReportQuery,
    ) -> AgentsView:
        """The book from the as-of date's totals, the period from its days' flows."""
        totals = await self.models.totals_of(as_of, scope)
        counts = await self.models.borrowers_of(as_of, scope, ("agent_id",))
        borrowers = {(key, currency): n for (_, key, currency), n in counts.items()}
        found = agents_from(totals, borrowers, await self.models.flows_between(start, end, scope),
                            start, end)
        performance = found.rows
        size = q.page_size or DEFAULT_PAGE_SIZE
        if not 0 < size <= MAX_PAGE_SIZE:
            raise InvalidArgument.field("page.page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        offset = decode_token(q.page_token)
        if q.unpaged:
            offset, size = 0, len(performance)
        page = performance[offset:offset + size]
        stop = offset + len(page)
        return AgentsView(
            as_of, start, end, page, found.flows, found.book,
            encode_token(stop) if stop < len(performance) else "", len(performance),
        )


def _logged(body: dict[str, Any]) -> tuple[str, str, datetime, dict[str, Any]]:
    """An event's id, type and time, and its body, as the event log keeps them."""
    return (str(body["id"]), str(body["type"]),
            datetime.fromisoformat(str(body["occurred_at"])), body)


_GROUP_LABELS: dict[str, Dimension] = {
    "agent_id": Dimension.AGENT, "branch_id": Dimension.BRANCH,
    "product_id": Dimension.PRODUCT,
}


def _cache_key(r: Resolved, output: str) -> str:
    q = r.query
    parts = {
        "kind": r.kind, "out": output, "scope": r.scope,
        "as_of": r.as_of.isoformat() if r.as_of else "",
        "from": r.start.isoformat() if r.start else "",
        "to": r.end.isoformat() if r.end else "",
        "g": q.granularity.value, "by": q.dimension.value if q.dimension else "",
        "t": q.threshold_days if r.kind == Kind.PAR_LOANS else 0,
        "page": [q.page_size, q.page_token, q.unpaged], "rev": r.revision,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
    day = r.as_of.isoformat() if r.as_of else f"{parts['from']}..{parts['to']}"
    return f"{CACHE_PREFIX}:{r.kind}:{day}:{digest}"


def csv_of(report: Report) -> str:
    """The CSV text of any report (domain/export)."""
    if isinstance(report, PortfolioView):
        return export.portfolio_csv(report.summary)
    if isinstance(report, ParReport):
        return export.par_csv(report)
    if isinstance(report, ParLoansPage):
        return export.par_csv(ParReport(report.as_of, ()))
    if isinstance(report, AgingReport):
        return export.aging_csv(report)
    if isinstance(report, DisbursementReport):
        return export.disbursements_csv(report)
    if isinstance(report, CollectionReport):
        return export.collections_csv(report)
    if isinstance(report, EfficiencyReport):
        return export.efficiency_csv(report)
    if isinstance(report, AgentsView):
        return export.agents_csv(report.rows)
    return export.trend_csv(report.points)


__all__ = [
    "AgentsView",
    "Kind",
    "Options",
    "ParLoansPage",
    "PortfolioView",
    "ReportQuery",
    "ReportingService",
    "TrendView",
    "csv_of",
]
