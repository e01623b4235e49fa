"""End-of-day protobuf messages to the JSON models of /api/v1/eod."""

from __future__ import annotations

from api_gateway.convert.common import instant, money
from api_gateway.schemas import eod as schemas
from microfinance.loan.v1 import loan_pb2


def run(value: loan_pb2.EndOfDayRun) -> schemas.EndOfDayRunOut:
    return schemas.EndOfDayRunOut(
        target_date=value.target_date,
        dates=list(value.dates),
        catch_up=value.catch_up,
        current_date=value.current_date or None,
        loans_total=value.loans_total,
        loans_done=value.loans_done,
        started_at=instant(value, "started_at"),
        requested_by=value.requested_by,
    )


def figures(value: loan_pb2.EndOfDayDate) -> schemas.EndOfDayDateOut:
    return schemas.EndOfDayDateOut(
        business_date=value.business_date,
        loans_processed=value.loans_processed,
        snapshot_rows=value.snapshot_rows,
        penalties_charged=value.penalties_charged,
        installments_marked_overdue=value.installments_marked_overdue,
        penalty_totals=[money(m) for m in value.penalty_totals],
        closed_at=instant(value, "closed_at"),
    )


def status(value: loan_pb2.GetEndOfDayStatusResponse) -> schemas.EndOfDayStatusOut:
    return schemas.EndOfDayStatusOut(
        last_closed_date=value.last_closed_date or None,
        run=run(value.run) if value.HasField("run") else None,
        last_closed=figures(value.last_closed) if value.HasField("last_closed") else None,
    )


def started(value: loan_pb2.RunEndOfDayResponse) -> schemas.RunEndOfDayOut:
    return schemas.RunEndOfDayOut(
        business_date=value.business_date,
        already_run=value.already_run,
        last_closed_date=value.last_closed_date or None,
        run=run(value.run) if value.HasField("run") else None,
    )
