"""Loan and loan product protobuf messages <-> domain values.

Money travels as ``common.v1.Money`` in minor units, dates as ISO ``YYYY-MM-DD``
strings, enums by name (the domain enums carry the proto names). A client's
product is read whole, so one INVALID_ARGUMENT names every bad field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask

from loan_service.domain.ledger import Allocation, InstallmentState, LoanState, Transaction
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import LoanProduct
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
    parse_annual_rate,
    parse_percent,
)
from loan_service.domain.schedule import Schedule
from loan_service.eod_service import DateFigures, EodStatus, RunState
from loan_service.product_service import ProductDraft
from loan_service.service import DueLoan, LoanView, TransactionView
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.errors import FieldViolation, InvalidArgument
from shared.money import CURRENCY_EXPONENTS, amount_violation, to_proto
from shared.protos import allocation_proto, audit, message_of, timestamp
from shared.validation import parse_date

# LoanProduct paths UpdateProduct accepts (sub-paths such as "fee.percent" too).
UPDATABLE_PRODUCT_FIELDS = (
    "code",
    "name",
    "description",
    "currency",
    "principal_min",
    "principal_max",
    "installments_min",
    "installments_max",
    "frequency",
    "interest_method",
    "amortization",
    "annual_rate",
    "principal_grace_installments",
    "rounding_multiple_minor",
    "fee",
    "late_penalty",
    "max_active_loans_per_borrower",
)


# ------------------------------------------------------------------ small values


def iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def optional_date(value: str, field_name: str) -> date | None:
    return parse_date(value, field_name) if value.strip() else None


def _enum_name(enum_type: Any, value: int) -> str:
    name: str = enum_type.Name(value)
    return name


# ------------------------------------------------------------------ products


def product_proto(product: LoanProduct) -> loan_pb2.LoanProduct:
    terms = product.terms
    c = terms.currency
    fee = None
    if terms.fee is not None:
        fee = loan_pb2.FeeTerms(
            type=terms.fee.type.value,
            fixed_amount=to_proto(terms.fee.fixed_amount_minor, c)
            if terms.fee.type is ChargeType.FIXED
            else None,
            percent=str(terms.fee.percent) if terms.fee.type is ChargeType.PERCENT else "",
        )
    penalty = None
    if terms.late_penalty is not None:
        rules = terms.late_penalty
        penalty = loan_pb2.PenaltyTerms(
            type=rules.type.value,
            fixed_amount=to_proto(rules.fixed_amount_minor, c)
            if rules.type is ChargeType.FIXED
            else None,
            percent=str(rules.percent) if rules.type is ChargeType.PERCENT else "",
            grace_days=rules.grace_days,
        )
    return loan_pb2.LoanProduct(
        id=product.id,
        code=product.code,
        name=product.name,
        description=product.description,
        currency=c,
        currency_minor_digits=CURRENCY_EXPONENTS.get(c, 0),
        principal_min=to_proto(terms.principal_min, c),
        principal_max=to_proto(terms.principal_max, c),
        installments_min=terms.installments_min,
        installments_max=terms.installments_max,
        frequency=terms.frequency.value,
        interest_method=terms.interest_method.value,
        amortization=terms.amortization.value,
        annual_rate=str(terms.annual_rate),
        principal_grace_installments=terms.principal_grace_installments,
        rounding_multiple_minor=terms.rounding_multiple_minor,
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=terms.max_active_loans_per_borrower,
        active=product.active,
        audit=audit(product.created_by, product.created_at, product.updated_by, product.updated_at),
        version=product.version,
    )


class _Problems:
    """Collects field violations so one answer names every bad field."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field_name: str, description: str) -> None:
        self.items.append(FieldViolation(field_name, description))

    def extend(self, violations: Iterable[FieldViolation]) -> None:
        seen = {v.field for v in self.items}
        self.items.extend(v for v in violations if v.field not in seen)

    def amount(self, message: common_pb2.Money, field_name: str, currency: str) -> int:
        if message.currency and message.currency != currency:
            self.add(f"{field_name}.currency", f"must be the product currency {currency}")
        if too_large := amount_violation(message.amount_minor, f"{field_name}.amount_minor"):
            self.items.append(too_large)
        return int(message.amount_minor)

    def decimal(self, parse: Any, text: str, field_name: str) -> Decimal:
        try:
            value: Decimal = parse(text, field=field_name)
            return value
        except InvalidArgument as err:
            self.extend(err.violations)
            return Decimal(0)


def _enum(problems: _Problems, enum_type: Any, domain: Any, value: int, field_name: str) -> Any:
    if value == 0:
        problems.add(field_name, "is required")
        return None
    try:
        return domain(_enum_name(enum_type, value))
    except ValueError:
        problems.add(field_name, "is not a known value")
        return None


def product_draft(p: loan_pb2.LoanProduct) -> ProductDraft:
    """A client's LoanProduct as domain values; every bad field is reported at once."""
    problems = _Problems()
    currency = p.currency.strip().upper()
    if not currency:
        problems.add("currency", "is required")
    frequency = _enum(
        problems, loan_pb2.RepaymentFrequency, RepaymentFrequency, p.frequency, "frequency"
    )
    method = _enum(
        problems, loan_pb2.InterestMethod, InterestMethod, p.interest_method, "interest_method"
    )
    amortization = _enum(
        problems, loan_pb2.Amortization, Amortization, p.amortization, "amortization"
    )
    rate = (
        problems.decimal(parse_annual_rate, p.annual_rate, "annual_rate")
        if p.annual_rate
        else Decimal(0)
    )
    if not p.annual_rate:
        problems.add("annual_rate", 'is required ("0" for no interest)')
    fee: FeeTerms | None = None
    if p.HasField("fee") and p.fee.type != loan_pb2.CHARGE_TYPE_UNSPECIFIED:
        if p.fee.type == loan_pb2.FIXED:
            fee = FeeTerms(
                ChargeType.FIXED,
                fixed_amount_minor=problems.amount(
                    p.fee.fixed_amount, "fee.fixed_amount", currency
                ),
            )
        else:
            fee = FeeTerms(
                ChargeType.PERCENT,
                percent=problems.decimal(parse_percent, p.fee.percent, "fee.percent"),
            )
    penalty: PenaltyTerms | None = None
    if p.HasField("late_penalty") and p.late_penalty.type != loan_pb2.CHARGE_TYPE_UNSPECIFIED:
        lp = p.late_penalty
        if lp.type == loan_pb2.FIXED:
            penalty = PenaltyTerms(
                ChargeType.FIXED,
                fixed_amount_minor=problems.amount(
                    lp.fixed_amount, "late_penalty.fixed_amount", currency
                ),
                grace_days=lp.grace_days,
            )
        else:
            penalty = PenaltyTerms(
                ChargeType.PERCENT,
                percent=problems.decimal(parse_percent, lp.percent, "late_penalty.percent"),
                grace_days=lp.grace_days,
            )
    principal_min = problems.amount(p.principal_min, "principal_min", currency)
    principal_max = problems.amount(p.principal_max, "principal_max", currency)
    terms = ProductTerms(
        currency=currency,
        principal_min=principal_min,
        principal_max=principal_max,
        installments_min=p.installments_min,
        installments_max=p.installments_max,
        frequency=frequency,
        interest_method=method,
        amortization=amortization,
        annual_rate=rate,
        principal_grace_installments=p.principal_grace_installments,
        rounding_multiple_minor=p.rounding_multiple_minor or 1,
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=p.max_active_loans_per_borrower or 1,
    )
    problems.extend(terms.violations())
    if not p.code.strip():
        problems.add("code", "is required")
    if not p.name.strip():
        problems.add("name", "is required")
    if problems.items:
        raise InvalidArgument.fields(problems.items)
    return ProductDraft(p.code, p.name, p.description, terms)


def merged_draft(
    current: LoanProduct, given: loan_pb2.LoanProduct, paths: list[str]
) -> ProductDraft:
    """Apply the field mask to the current product, then read it back as a draft."""
    merged = product_proto(current)
    FieldMask(paths=paths).MergeMessage(
        given, merged, replace_message_field=True, replace_repeated_field=True
    )
    return product_draft(merged)


def check_update_mask(paths: list[str]) -> list[str]:
    if not paths:
        raise InvalidArgument.field("update_mask", "names no field to update")
    unknown = [p for p in paths if p.split(".", 1)[0] not in UPDATABLE_PRODUCT_FIELDS]
    if unknown:
        raise InvalidArgument.field(
            "update_mask",
            f"cannot update {', '.join(unknown)}; allowed: {', '.join(UPDATABLE_PRODUCT_FIELDS)}",
        )
    return paths


# ------------------------------------------------------------------ schedules


def _row_from_state(row: InstallmentState, c: str) -> loan_pb2.ScheduleRow:
    return message_of(loan_pb2.ScheduleRow, row, c)


def schedule_rows(schedule: Schedule, state: LoanState | None) -> list[loan_pb2.ScheduleRow]:
    c = schedule.currency
    if state is not None:
        return [_row_from_state(row, c) for row in state.installments]
    zero = to_proto(0, c)
    return [
        loan_pb2.ScheduleRow(
            number=row.number,
            due_date=row.due_date.isoformat(),
            principal_due=to_proto(row.principal, c),
            interest_due=to_proto(row.interest, c),
            fee_due=to_proto(row.fee, c),
            penalty_due=to_proto(row.penalty, c),
            total_due=to_proto(row.total, c),
            principal_paid=zero,
            interest_paid=zero,
            fee_paid=zero,
            penalty_paid=zero,
            total_paid=zero,
            interest_waived=zero,
            penalty_waived=zero,
            outstanding_principal_after=to_proto(row.outstanding_principal_after, c),
            status=loan_pb2.PENDING,
        )
        for row in schedule.rows
    ]


def schedule_totals(schedule: Schedule, state: LoanState | None) -> loan_pb2.ScheduleTotals:
    c = schedule.currency
    penalties = sum(r.penalty_due for r in state.installments) if state is not None else 0
    return loan_pb2.ScheduleTotals(
        principal=to_proto(schedule.principal, c),
        interest=to_proto(schedule.total_interest, c),
        upfront_fee=to_proto(schedule.upfront_fee, c),
        penalties=to_proto(penalties, c),
        total_repayable=to_proto(schedule.total_repayable, c),
        net_disbursed=to_proto(schedule.net_disbursed, c),
        effective_apr=schedule.effective_apr,
    )


# ------------------------------------------------------------------ loans


def summary_proto(state: LoanState) -> loan_pb2.LoanSummary:
    as_of = state.as_of.isoformat()
    return message_of(loan_pb2.LoanSummary, state, state.currency, as_of_date=as_of)


def loan_proto(view: LoanView) -> loan_pb2.Loan:
    loan, state = view.loan, view.state
    c = loan.currency
    schedule = loan.schedule
    msg = message_of(
        loan_pb2.Loan,
        loan,
        c,
        product=product_proto(loan.product),
        first_repayment_date=iso(schedule.first_repayment_date) if schedule else "",
        maturity_date=iso(schedule.maturity_date) if schedule else "",
        audit=audit(loan.submitted_by, loan.submitted_at, loan.updated_by, loan.updated_at),
    )
    if schedule is not None:
        msg.upfront_fee.CopyFrom(to_proto(schedule.upfront_fee, c))
        msg.net_disbursed.CopyFrom(to_proto(schedule.net_disbursed, c))
        msg.total_interest.CopyFrom(to_proto(schedule.total_interest, c))
        msg.total_repayable.CopyFrom(to_proto(schedule.total_repayable, c))
        msg.effective_apr = schedule.effective_apr
    if state is not None:
        msg.summary.CopyFrom(summary_proto(state))
    return msg


def transaction_proto(
    txn: Transaction, currency: str, allocation: Allocation | None, reversed_: bool = False
) -> loan_pb2.Transaction:
    msg = message_of(
        loan_pb2.Transaction,
        txn,
        currency,
        reversed_transaction_id=txn.reverses,
        reversed=reversed_,
    )
    if allocation is not None:
        msg.allocation.CopyFrom(allocation_proto(allocation, currency))
    return msg


def view_proto(view: TransactionView, currency: str) -> loan_pb2.Transaction:
    return transaction_proto(view.transaction, currency, view.allocation, view.reversed)


def loan_status(value: int, field_name: str = "status") -> LoanStatus | None:
    if value == 0:
        return None
    try:
        return LoanStatus(_enum_name(loan_pb2.LoanStatus, value))
    except ValueError:
        raise InvalidArgument.field(field_name, "is not a known loan status") from None


def due_loan_proto(row: DueLoan) -> loan_pb2.DueLoan:
    c = row.loan.currency
    return loan_pb2.DueLoan(
        loan_id=row.loan.id,
        loan_number=row.loan.loan_number,
        borrower_id=row.loan.borrower_id,
        borrower_name=row.loan.borrower_name,
        agent_id=row.loan.agent_id,
        oldest_due_date=row.oldest_due_date.isoformat(),
        installment_numbers=list(row.installment_numbers),
        amount_due=to_proto(row.amount_due, c),
        arrears_amount=to_proto(row.arrears_amount, c),
        total_due=to_proto(row.amount_due + row.arrears_amount, c),
        days_past_due=row.days_past_due,
    )


# ------------------------------------------------------------------ end of day


def eod_run_proto(run: RunState) -> loan_pb2.EndOfDayRun:
    message = loan_pb2.EndOfDayRun(
        target_date=run.target.isoformat(),
        dates=[d.isoformat() for d in run.dates],
        catch_up=run.catch_up,
        current_date=iso(run.current),
        loans_total=run.loans_total,
        loans_done=run.loans_done,
        requested_by=run.requested_by,
    )
    _stamp(message.started_at, run.started_at)
    if run.last_error is not None:
        message.last_error.message = run.last_error.message
        message.last_error.attempts = run.last_error.attempts
        _stamp(message.last_error.at, run.last_error.at)
    if run.failed_at is not None:
        _stamp(message.failed_at, run.failed_at)
    return message


def _stamp(target: Any, value: Any) -> None:
    stamp = timestamp(value)
    if stamp is not None:
        target.CopyFrom(stamp)


def eod_date_proto(figures: DateFigures) -> loan_pb2.EndOfDayDate:
    message = loan_pb2.EndOfDayDate(
        business_date=figures.business_date.isoformat(),
        loans_processed=figures.loans_processed,
        snapshot_rows=figures.snapshot_rows,
        penalties_charged=figures.penalties_charged,
        installments_marked_overdue=figures.installments_marked_overdue,
        penalty_totals=[to_proto(v, c) for c, v in sorted(figures.penalty_totals.items())],
    )
    _stamp(message.closed_at, figures.closed_at)
    return message


def eod_status_proto(status: EodStatus, *, full: bool) -> loan_pb2.GetEndOfDayStatusResponse:
    """``full`` False (agents): the last closed date only."""
    message = loan_pb2.GetEndOfDayStatusResponse(last_closed_date=iso(status.last_closed))
    if full and status.run is not None:
        message.run.CopyFrom(eod_run_proto(status.run))
    if full and status.last_date is not None:
        message.last_closed.CopyFrom(eod_date_proto(status.last_date))
    if full and status.failed_run is not None:
        message.failed_run.CopyFrom(eod_run_proto(status.failed_run))
    return message


def run_eod_proto(status: EodStatus, figures: DateFigures | None) -> loan_pb2.RunEndOfDayResponse:
    """The answer to RunEndOfDay: the run's state, with the figures of ``figures``' date."""
    message = loan_pb2.RunEndOfDayResponse(
        business_date=iso(status.requested),
        already_run=status.already_run,
        last_closed_date=iso(status.last_closed),
    )
    if figures is not None:
        message.loans_processed = figures.loans_processed
        message.installments_marked_overdue = figures.installments_marked_overdue
        message.penalties_charged = figures.penalties_charged
        message.penalty_totals.extend(
            to_proto(v, c) for c, v in sorted(figures.penalty_totals.items())
        )
    if status.run is not None:
        message.run.CopyFrom(eod_run_proto(status.run))
    return message
