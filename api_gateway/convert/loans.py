"""Loan and loan product protobuf messages to the JSON models, and back."""

from __future__ import annotations

from datetime import date
from typing import Any

from api_gateway.convert.common import audit, instant, money, page_info
from api_gateway.schemas import loans as ls
from api_gateway.schemas.common import Money, MoneyIn
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.money import to_proto


def _name(enum_type: Any, value: int) -> str:
    name: str = enum_type.Name(value)
    return name


def _optional_money(message: Any, field: str) -> Money | None:
    return money(getattr(message, field)) if message.HasField(field) else None


def _text(value: str) -> str | None:
    return value or None


def money_in(value: MoneyIn | None) -> common_pb2.Money | None:
    return to_proto(value) if value is not None else None


def iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


# ------------------------------------------------------------------ products


def _fee_in(value: ls.FeeIn | ls.PenaltyIn | None) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {"type": value.type.value, "percent": value.percent or ""}
    if value.fixed_amount is not None:
        out["fixed_amount"] = money_in(value.fixed_amount)
    return out


def product_in(body: ls.ProductIn | ls.ProductPatch) -> loan_pb2.LoanProduct:
    """The fields given (None is "not given", except fee/late_penalty in a patch)."""
    msg = loan_pb2.LoanProduct(
        code=body.code or "",
        name=body.name or "",
        description=body.description or "",
        currency=body.currency or "",
        principal_min=money_in(body.principal_min),
        principal_max=money_in(body.principal_max),
        installments_min=body.installments_min or 0,
        installments_max=body.installments_max or 0,
        frequency=body.frequency.value if body.frequency else "REPAYMENT_FREQUENCY_UNSPECIFIED",
        interest_method=body.interest_method.value
        if body.interest_method
        else "INTEREST_METHOD_UNSPECIFIED",
        amortization=body.amortization.value if body.amortization else "AMORTIZATION_UNSPECIFIED",
        annual_rate=body.annual_rate or "",
        principal_grace_installments=body.principal_grace_installments or 0,
        rounding_multiple_minor=body.rounding_multiple_minor or 0,
        max_active_loans_per_borrower=body.max_active_loans_per_borrower or 0,
    )
    fee = _fee_in(body.fee)
    if fee is not None:
        msg.fee.CopyFrom(loan_pb2.FeeTerms(**fee))
    penalty = _fee_in(body.late_penalty)
    if penalty is not None and body.late_penalty is not None:
        msg.late_penalty.CopyFrom(
            loan_pb2.PenaltyTerms(**penalty, grace_days=body.late_penalty.grace_days)
        )
    return msg


def product(value: loan_pb2.LoanProduct) -> ls.ProductOut:
    fee = None
    if value.HasField("fee") and value.fee.type:
        fee = ls.FeeOut(
            type=_name(loan_pb2.ChargeType, value.fee.type),
            fixed_amount=_optional_money(value.fee, "fixed_amount"),
            percent=value.fee.percent,
        )
    penalty = None
    if value.HasField("late_penalty") and value.late_penalty.type:
        lp = value.late_penalty
        penalty = ls.PenaltyOut(
            type=_name(loan_pb2.ChargeType, lp.type),
            fixed_amount=_optional_money(lp, "fixed_amount"),
            percent=lp.percent,
            grace_days=lp.grace_days,
        )
    return ls.ProductOut(
        id=value.id,
        code=value.code,
        name=value.name,
        description=value.description,
        currency=value.currency,
        currency_minor_digits=value.currency_minor_digits,
        principal_min=money(value.principal_min),
        principal_max=money(value.principal_max),
        installments_min=value.installments_min,
        installments_max=value.installments_max,
        frequency=_name(loan_pb2.RepaymentFrequency, value.frequency),
        interest_method=_name(loan_pb2.InterestMethod, value.interest_method),
        amortization=_name(loan_pb2.Amortization, value.amortization),
        annual_rate=value.annual_rate,
        principal_grace_installments=value.principal_grace_installments,
        rounding_multiple_minor=value.rounding_multiple_minor,
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=value.max_active_loans_per_borrower,
        active=value.active,
        audit=audit(value.audit),
        version=value.version,
    )


# ------------------------------------------------------------------ schedules


def schedule_row(row: loan_pb2.ScheduleRow) -> ls.ScheduleRowOut:
    return ls.ScheduleRowOut(
        number=row.number,
        due_date=row.due_date,
        principal_due=money(row.principal_due),
        interest_due=money(row.interest_due),
        fee_due=money(row.fee_due),
        penalty_due=money(row.penalty_due),
        total_due=money(row.total_due),
        principal_paid=money(row.principal_paid),
        interest_paid=money(row.interest_paid),
        fee_paid=money(row.fee_paid),
        penalty_paid=money(row.penalty_paid),
        total_paid=money(row.total_paid),
        interest_waived=money(row.interest_waived),
        penalty_waived=money(row.penalty_waived),
        outstanding_principal_after=money(row.outstanding_principal_after),
        status=_name(loan_pb2.InstallmentStatus, row.status),
        paid_date=_text(row.paid_date),
        days_past_due=row.days_past_due,
    )


def totals(value: loan_pb2.ScheduleTotals) -> ls.ScheduleTotalsOut:
    return ls.ScheduleTotalsOut(
        principal=money(value.principal),
        interest=money(value.interest),
        upfront_fee=money(value.upfront_fee),
        penalties=money(value.penalties),
        total_repayable=money(value.total_repayable),
        net_disbursed=money(value.net_disbursed),
        effective_apr=value.effective_apr,
    )


def schedule(rows: Any, value_totals: loan_pb2.ScheduleTotals) -> ls.ScheduleOut:
    return ls.ScheduleOut(rows=[schedule_row(r) for r in rows], totals=totals(value_totals))


# ------------------------------------------------------------------ loans


def summary(value: loan_pb2.LoanSummary) -> ls.LoanSummaryOut:
    return ls.LoanSummaryOut(
        as_of_date=value.as_of_date,
        outstanding_principal=money(value.outstanding_principal),
        outstanding_interest=money(value.outstanding_interest),
        outstanding_fees=money(value.outstanding_fees),
        outstanding_penalties=money(value.outstanding_penalties),
        total_outstanding=money(value.total_outstanding),
        total_paid=money(value.total_paid),
        principal_paid=money(value.principal_paid),
        interest_paid=money(value.interest_paid),
        fees_paid=money(value.fees_paid),
        penalties_paid=money(value.penalties_paid),
        total_waived=money(value.total_waived),
        written_off_amount=money(value.written_off_amount),
        recovered_amount=money(value.recovered_amount),
        days_past_due=value.days_past_due,
        arrears_amount=money(value.arrears_amount),
        next_due_date=_text(value.next_due_date),
        next_due_amount=money(value.next_due_amount),
        installments_paid=value.installments_paid,
        installments_overdue=value.installments_overdue,
    )


def loan(value: loan_pb2.Loan) -> ls.LoanOut:
    return ls.LoanOut(
        id=value.id,
        loan_number=value.loan_number,
        borrower_id=value.borrower_id,
        borrower_name=value.borrower_name,
        agent_id=value.agent_id,
        branch_id=value.branch_id,
        product_id=value.product_id,
        product=product(value.product),
        status=_name(loan_pb2.LoanStatus, value.status),
        principal=money(value.principal),
        installments=value.installments,
        purpose=value.purpose,
        submitted_date=value.submitted_date,
        disbursement_date=_text(value.disbursement_date),
        first_repayment_date=_text(value.first_repayment_date),
        maturity_date=_text(value.maturity_date),
        closed_date=_text(value.closed_date),
        written_off_date=_text(value.written_off_date),
        submitted_by=value.submitted_by,
        submitted_at=instant(value, "submitted_at"),
        approved_by=value.approved_by,
        approved_at=instant(value, "approved_at"),
        rejected_by=value.rejected_by,
        rejected_at=instant(value, "rejected_at"),
        rejection_reason=value.rejection_reason,
        withdrawn_by=value.withdrawn_by,
        withdrawn_at=instant(value, "withdrawn_at"),
        withdrawal_reason=value.withdrawal_reason,
        disbursed_by=value.disbursed_by,
        disbursed_at=instant(value, "disbursed_at"),
        written_off_by=value.written_off_by,
        written_off_at=instant(value, "written_off_at"),
        write_off_reason=value.write_off_reason,
        upfront_fee=_optional_money(value, "upfront_fee"),
        net_disbursed=_optional_money(value, "net_disbursed"),
        total_interest=_optional_money(value, "total_interest"),
        total_repayable=_optional_money(value, "total_repayable"),
        effective_apr=value.effective_apr,
        summary=summary(value.summary) if value.HasField("summary") else None,
        audit=audit(value.audit),
        version=value.version,
    )


def loan_list(value: loan_pb2.ListLoansResponse | loan_pb2.SearchLoansResponse) -> ls.LoanList:
    return ls.LoanList(loans=[loan(x) for x in value.loans], page=page_info(value.page))


def allocation(value: loan_pb2.Allocation) -> ls.AllocationOut:
    return ls.AllocationOut(
        penalty=money(value.penalty),
        fee=money(value.fee),
        interest=money(value.interest),
        principal=money(value.principal),
        recovery=money(value.recovery),
        total=money(value.total),
        interest_waived=money(value.interest_waived),
        installments=[
            ls.InstallmentAllocationOut(
                installment_number=part.installment_number,
                penalty=money(part.penalty),
                fee=money(part.fee),
                interest=money(part.interest),
                principal=money(part.principal),
            )
            for part in value.installments
        ],
    )


def transaction(value: loan_pb2.Transaction) -> ls.TransactionOut:
    return ls.TransactionOut(
        id=value.id,
        type=_name(loan_pb2.TransactionType, value.type),
        value_date=value.value_date,
        amount=money(value.amount),
        allocation=allocation(value.allocation) if value.HasField("allocation") else None,
        payment_id=value.payment_id,
        reversed_transaction_id=value.reversed_transaction_id,
        reversed=value.reversed,
        installment_number=value.installment_number,
        reason=value.reason,
        actor=value.actor,
        created_at=instant(value, "created_at"),
        sequence=value.sequence,
    )


def payoff(value: loan_pb2.GetPayoffQuoteResponse) -> ls.PayoffQuoteOut:
    return ls.PayoffQuoteOut(
        loan_id=value.loan_id,
        date=value.date,
        principal=money(value.principal),
        interest=money(value.interest),
        fees=money(value.fees),
        penalties=money(value.penalties),
        total=money(value.total),
        interest_waived=money(value.interest_waived),
    )


def due_loan(value: loan_pb2.DueLoan) -> ls.DueLoanOut:
    return ls.DueLoanOut(
        loan_id=value.loan_id,
        loan_number=value.loan_number,
        borrower_id=value.borrower_id,
        borrower_name=value.borrower_name,
        agent_id=value.agent_id,
        oldest_due_date=value.oldest_due_date,
        installment_numbers=list(value.installment_numbers),
        amount_due=money(value.amount_due),
        arrears_amount=money(value.arrears_amount),
        total_due=money(value.total_due),
        days_past_due=value.days_past_due,
    )
