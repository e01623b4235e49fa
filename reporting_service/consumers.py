"""reporting_service's inbound events: the one driver that builds the read models.

Every event is first written to the event log (so ``rebuild-reports`` can
replay it), then projected. ``Project`` runs inside the idempotent consumer's
transaction, so the log entry, the read model writes and the processed-event
marker commit together: a redelivered event is skipped, and even if it were
not, every projection is keyed so that a second pass rewrites the same
documents. ``Project.batch`` takes several events in one transaction (the
consumer's batch mode) and leaves the documents ``Project`` one by one leaves,
in a few round trips (``apply_many``). ``rebuild-reports`` runs
``apply_many`` over the logged events, oldest first.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from reporting_service.adapters.read_models import (
    ApplicationStep,
    BorrowerUpdate,
    Repayment,
    Reversal,
)
from reporting_service.domain.facts import (
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.service import ReportingService
from shared.events import Event
from shared.portfolio import LoanSnapshot

QUEUE = "read-models"
# Everything loan_service, payment_service and user_service publish, and end of day.
ROUTING_KEYS = ("loan.#", "payment.#", "borrower.#", "eod.#")

# A loan's way to disbursement (loans_pending_approval, loans_approved_not_disbursed):
# the field each event dates; loan.disbursed dates left_on with its disbursement date.
_APPLICATION_STEPS = {
    "loan.submitted": "submitted_on",
    "loan.approved": "approved_on",
    "loan.rejected": "left_on",
    "loan.withdrawn": "left_on",
}
_ROW_FIELDS = tuple(LoanSnapshot.__dataclass_fields__)


def _int(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    return int(value) if isinstance(value, int | float | str) and str(value).strip() else 0


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    return "" if value is None else str(value)


def _date(payload: dict[str, Any], name: str) -> date:
    """A required ISO date of a payload (a KeyError or ValueError if missing or malformed)."""
    return date.fromisoformat(str(payload[name]))


def _loan_id(payload: dict[str, Any], aggregate_id: str) -> str:
    """The loan an event is about: the payload's loan_id, else the event's aggregate."""
    return _text(payload, "loan_id") or aggregate_id


def snapshot_row(raw: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A ``loan.snapshots`` row as stored, and its loan version."""
    row = {name: raw.get(name) for name in _ROW_FIELDS}
    row["business_date"] = _date(raw, "business_date").isoformat()
    row["bucket"] = str(raw.get("bucket") or "current")
    for name in ("outstanding_principal", "outstanding_interest", "outstanding_fees",
                 "outstanding_penalties", "arrears_amount", "days_past_due",
                 "installments_overdue"):
        row[name] = _int(raw, name)
    for name in ("loan_id", "borrower_id", "agent_id", "branch_id", "product_id", "currency",
                 "status"):
        row[name] = _text(raw, name)
    row["loan_number"] = _text(raw, "loan_number")
    return row, _int(raw, "loan_version")


# Projected one event at a time even in a batch: they read and rewrite many documents
# (a date's rows and totals, a loan's installments); the rest go through one pass.
_ONE_BY_ONE = frozenset({"loan.snapshots", "eod.date_closed", "loan.disbursed",
                         "loan.written_off"})


class Project:
    def __init__(self, reports: ReportingService) -> None:
        self._reports = reports

    async def __call__(self, event: Event, session: AsyncClientSession) -> None:
        body = event.to_json()
        await self._reports.log_event(body, session)
        await self.apply(event, session)

    async def batch(self, events: list[Event], session: AsyncClientSession) -> None:
        """``__call__`` of each event, in order, with a few round trips for them all: the
        event log written at once, then ``apply_many``."""
        await self._reports.log_events([event.to_json() for event in events], session)
        await self.apply_many(events, session)

    async def apply_many(self, events: list[Event], session: AsyncClientSession | None
                         ) -> None:
        """``apply`` of each event, in order, leaving the same documents: repayments,
        reversals, application steps and borrowers between two of the events
        ``_ONE_BY_ONE`` (or the ends) are projected as one pass
        (``ReportingService.project_many``), each of the others on its own."""
        money: list[Repayment | Reversal] = []
        steps: list[ApplicationStep] = []
        borrowers: list[BorrowerUpdate] = []

        async def flush() -> None:
            if money or steps or borrowers:
                await self._reports.project_many(money, steps, borrowers, session)
                money.clear()
                steps.clear()
                borrowers.clear()

        for event in events:
            kind = event.type
            if kind in _ONE_BY_ONE:
                await flush()
                await self.apply(event, session)
            elif kind == "loan.repayment_applied":
                money.append(self._repayment(event.payload, event.aggregate_id))
            elif kind == "loan.repayment_reversed":
                money.append(_reversal(event.payload))
            elif kind in _APPLICATION_STEPS:
                steps.append(self._step(event, _APPLICATION_STEPS[kind]))
            elif kind.startswith("borrower."):
                borrowers.append(_borrower(event))
        await flush()

    async def apply(self, event: Event, session: AsyncClientSession | None) -> None:
        p = event.payload
        kind = event.type
        r = self._reports
        if kind == "loan.snapshots":
            day = str(p.get("business_date"))
            rows = [snapshot_row({"business_date": day, **raw}) for raw in p.get("rows") or []]
            await r.snapshots(rows, session)
        elif kind == "eod.date_closed":
            day = _date(p, "business_date").isoformat()
            await r.date_closed(day, {
                "snapshot_rows": _int(p, "snapshot_rows"),
                "loans_processed": _int(p, "loans_processed"),
                "penalties_charged": _int(p, "penalties_charged"),
                "closed_at": _text(p, "closed_at"),
            }, session)
        elif kind == "loan.disbursed":
            fact, dues = self._disbursement(p, event.aggregate_id)
            await r.disbursed(fact, dues, session)
            await self._application(event, "left_on", session, fact.disbursement_date)
        elif kind in _APPLICATION_STEPS:
            await self._application(event, _APPLICATION_STEPS[kind], session)
        elif kind == "loan.repayment_applied":
            repayment = self._repayment(p, event.aggregate_id)
            await r.repaid(repayment.fact, list(repayment.parts), session)
        elif kind == "loan.repayment_reversed":
            await r.reversed(_reversal(p).transaction_id, session)
        elif kind == "loan.written_off":
            await r.written_off(
                _loan_id(p, event.aggregate_id),
                _date(p, "write_off_date"), _int(p, "written_off_amount"),
                session,
            )
        elif kind.startswith("borrower."):
            b = _borrower(event)
            await r.borrower(b.borrower_id, b.fields, b.version, session)
        # Other events (payment.*, approvals, waivers ...) are logged only: the money a
        # loan received is loan.repayment_applied, as the loan's ledger applied it.

    def _step(self, event: Event, step: str) -> ApplicationStep:
        p = event.payload
        labels = {k: _text(p, k) for k in ("agent_id", "branch_id", "product_id", "currency")}
        return self._reports.application_step(
            _loan_id(p, event.aggregate_id), labels, _int(p, "version"), step,
            event.occurred_at,
        )

    async def _application(
        self, event: Event, step: str, session: AsyncClientSession | None,
        day: date | None = None,
    ) -> None:
        p = event.payload
        labels = {k: _text(p, k) for k in ("agent_id", "branch_id", "product_id", "currency")}
        await self._reports.application(
            _loan_id(p, event.aggregate_id), labels, _int(p, "version"), step,
            day or event.occurred_at, session,
        )

    @staticmethod
    def _disbursement(p: dict[str, Any], loan_id: str) -> tuple[DisbursementFact,
                                                                list[InstallmentDue]]:
        loan_id, currency, agent = _loan_id(p, loan_id), _text(p, "currency"), _text(p, "agent_id")
        fact = DisbursementFact(
            loan_id=loan_id, borrower_id=_text(p, "borrower_id"), agent_id=agent,
            branch_id=_text(p, "branch_id"), product_id=_text(p, "product_id"),
            currency=currency,
            disbursement_date=_date(p, "disbursement_date"),
            principal=_int(p, "principal"), upfront_fee=_int(p, "upfront_fee"),
        )
        dues = [
            InstallmentDue(
                loan_id=loan_id, agent_id=agent, currency=currency,
                installment_number=_int(row, "number"),
                due_date=_date(row, "due_date"),
                amount=_int(row, "principal") + _int(row, "interest") + _int(row, "fee"),
            )
            for row in p.get("schedule") or []
        ]
        return fact, dues

    @staticmethod
    def _repayment(p: dict[str, Any], loan_id: str) -> Repayment:
        loan_id, currency, agent = _loan_id(p, loan_id), _text(p, "currency"), _text(p, "agent_id")
        split = p.get("allocation") or {}
        value_date = _date(p, "value_date")
        fact = CollectionFact(
            transaction_id=_text(p, "transaction_id"), loan_id=loan_id, agent_id=agent,
            branch_id=_text(p, "branch_id"), product_id=_text(p, "product_id"),
            currency=currency, value_date=value_date, amount=_int(p, "amount"),
            channel=_text(p, "channel"), principal=_int(split, "principal"),
            interest=_int(split, "interest"), fee=_int(split, "fee"),
            penalty=_int(split, "penalty"), recovery=_int(split, "recovery"),
        )
        parts = tuple(
            InstallmentPayment(
                loan_id=loan_id, agent_id=agent, currency=currency,
                installment_number=_int(part, "number"),
                due_date=_date(part, "due_date"), value_date=value_date,
                amount=_int(part, "principal") + _int(part, "interest") + _int(part, "fee"),
                penalty=_int(part, "penalty"),
            )
            for part in p.get("installment_split") or []
            if part.get("due_date")
        )
        return Repayment(fact, parts)


def _reversal(p: dict[str, Any]) -> Reversal:
    return Reversal(_text(p, "reversed_transaction_id"))


def _borrower(event: Event) -> BorrowerUpdate:
    p = event.payload
    borrower_id = _text(p, "borrower_id") or _text(p, "id") or event.aggregate_id
    fields: dict[str, Any] = {
        k: p[k] for k in ("assigned_agent_id", "branch_id", "account_status") if k in p
    }
    return BorrowerUpdate(borrower_id, fields, _int(p, "version"))
