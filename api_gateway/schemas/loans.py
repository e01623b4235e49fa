"""JSON bodies of the loan product and loan routes (same conventions as schemas.py).

Money is ``{"amount_minor", "currency"}`` in the currency's minor unit, rates
and percentages are decimal strings ("24.5" is 24.5%), dates are
``YYYY-MM-DD`` and enums travel by name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, StrictInt, field_validator

from api_gateway.schemas.common import (
    CURRENCY_PATTERN,
    INT64_MAX,
    Audit,
    IsoDate,
    Money,
    MoneyIn,
    PageInfo,
    RequestBody,
    ResponseBody,
)

RATE_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,10})?$"


class Frequency(StrEnum):
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    MONTHLY = "MONTHLY"


class InterestMethodName(StrEnum):
    FLAT = "FLAT"
    DECLINING_BALANCE = "DECLINING_BALANCE"


class AmortizationName(StrEnum):
    EQUAL_INSTALLMENTS = "EQUAL_INSTALLMENTS"
    EQUAL_PRINCIPAL = "EQUAL_PRINCIPAL"


class ChargeTypeName(StrEnum):
    FIXED = "FIXED"
    PERCENT = "PERCENT"


class LoanStatusName(StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    WRITTEN_OFF = "WRITTEN_OFF"


# ------------------------------------------------------------------ requests


class FeeIn(RequestBody):
    type: ChargeTypeName
    fixed_amount: MoneyIn | None = Field(default=None, description="FIXED only.")
    percent: str | None = Field(
        default=None, pattern=RATE_PATTERN, description="PERCENT only: percent of principal."
    )


class PenaltyIn(RequestBody):
    type: ChargeTypeName
    fixed_amount: MoneyIn | None = Field(default=None, description="FIXED only.")
    percent: str | None = Field(
        default=None,
        pattern=RATE_PATTERN,
        description="PERCENT only: percent of the overdue installment amount.",
    )
    grace_days: StrictInt = Field(default=0, ge=0, le=365)


class ProductIn(RequestBody):
    code: str = Field(min_length=1, max_length=40, examples=["GRP-WEEKLY-12"])
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=1000)
    currency: str = Field(pattern=CURRENCY_PATTERN)
    principal_min: MoneyIn
    principal_max: MoneyIn
    installments_min: StrictInt = Field(ge=1, le=520)
    installments_max: StrictInt = Field(ge=1, le=520)
    frequency: Frequency
    interest_method: InterestMethodName
    amortization: AmortizationName
    annual_rate: str = Field(pattern=RATE_PATTERN, description='Percent a year, e.g. "24.5".')
    principal_grace_installments: StrictInt = Field(default=0, ge=0, le=520)
    rounding_multiple_minor: StrictInt = Field(default=1, ge=1, le=INT64_MAX)
    fee: FeeIn | None = None
    late_penalty: PenaltyIn | None = None
    max_active_loans_per_borrower: StrictInt = Field(default=1, ge=1, le=100)


_PRODUCT_FIELDS = tuple(ProductIn.model_fields)
# null removes these; the others may not be null.
_NULLABLE = ("fee", "late_penalty")


class ProductPatch(RequestBody):
    """JSON merge: the fields present change; ``fee``/``late_penalty`` null removes them."""

    code: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    currency: str | None = Field(default=None, pattern=CURRENCY_PATTERN)
    principal_min: MoneyIn | None = None
    principal_max: MoneyIn | None = None
    installments_min: StrictInt | None = Field(default=None, ge=1, le=520)
    installments_max: StrictInt | None = Field(default=None, ge=1, le=520)
    frequency: Frequency | None = None
    interest_method: InterestMethodName | None = None
    amortization: AmortizationName | None = None
    annual_rate: str | None = Field(default=None, pattern=RATE_PATTERN)
    principal_grace_installments: StrictInt | None = Field(default=None, ge=0, le=520)
    rounding_multiple_minor: StrictInt | None = Field(default=None, ge=1, le=INT64_MAX)
    fee: FeeIn | None = None
    late_penalty: PenaltyIn | None = None
    max_active_loans_per_borrower: StrictInt | None = Field(default=None, ge=1, le=100)
    expected_version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=INT64_MAX,
        description="Alternative to If-Match; 409 if the record moved on.",
    )

    @field_validator(*[f for f in _PRODUCT_FIELDS if f not in _NULLABLE], mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    def changed_fields(self) -> list[str]:
        return [name for name in _PRODUCT_FIELDS if name in self.model_fields_set]


class DeactivateProductIn(RequestBody):
    reason: str = Field(default="", max_length=500)


class PreviewIn(RequestBody):
    principal: MoneyIn
    installments: StrictInt = Field(ge=1, le=520)
    disbursement_date: IsoDate | None = Field(default=None, description="Default today.")
    first_repayment_date: IsoDate | None = Field(
        default=None, description="Default one period after the disbursement."
    )


class SubmitLoanIn(RequestBody):
    borrower_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    principal: MoneyIn
    installments: StrictInt = Field(ge=1, le=520)
    purpose: str = Field(default="", max_length=500)
    note: str = Field(default="", max_length=1000)


class _Versioned(RequestBody):
    expected_version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=INT64_MAX,
        description="Alternative to If-Match; 409 if the loan moved on.",
    )


class ApproveIn(_Versioned):
    note: str = Field(default="", max_length=1000)


class ReasonIn(_Versioned):
    reason: str = Field(min_length=1, max_length=500)


class DisburseIn(_Versioned):
    disbursement_date: IsoDate | None = Field(default=None, description="Not in the future.")
    first_repayment_date: IsoDate | None = None
    note: str = Field(default="", max_length=1000)


class WriteOffIn(_Versioned):
    reason: str = Field(min_length=1, max_length=500)
    write_off_date: IsoDate | None = Field(default=None, description="Default today.")


class WaiveIn(_Versioned):
    installment_number: StrictInt = Field(ge=1, le=520)
    penalty_amount: MoneyIn | None = None
    interest_amount: MoneyIn | None = None
    reason: str = Field(min_length=1, max_length=500)
    value_date: IsoDate | None = Field(default=None, description="Default today.")


# ------------------------------------------------------------------ responses


class FeeOut(ResponseBody):
    type: str
    fixed_amount: Money | None
    percent: str


class PenaltyOut(FeeOut):
    grace_days: int


class ProductOut(ResponseBody):
    id: str
    code: str
    name: str
    description: str
    currency: str
    currency_minor_digits: int
    principal_min: Money
    principal_max: Money
    installments_min: int
    installments_max: int
    frequency: str
    interest_method: str
    amortization: str
    annual_rate: str
    principal_grace_installments: int
    rounding_multiple_minor: int
    fee: FeeOut | None
    late_penalty: PenaltyOut | None
    max_active_loans_per_borrower: int
    active: bool
    audit: Audit
    version: int


class ProductList(ResponseBody):
    products: list[ProductOut]
    page: PageInfo


class ScheduleRowOut(ResponseBody):
    number: int
    due_date: str
    principal_due: Money
    interest_due: Money
    fee_due: Money
    penalty_due: Money
    total_due: Money
    principal_paid: Money
    interest_paid: Money
    fee_paid: Money
    penalty_paid: Money
    total_paid: Money
    interest_waived: Money
    penalty_waived: Money
    outstanding_principal_after: Money
    status: str = Field(description="PENDING, PARTIAL, PAID, OVERDUE or WAIVED.")
    paid_date: str | None
    days_past_due: int


class ScheduleTotalsOut(ResponseBody):
    principal: Money
    interest: Money
    upfront_fee: Money
    penalties: Money
    total_repayable: Money
    net_disbursed: Money
    effective_apr: str = Field(description="Annualised IRR of the net cash flows, percent.")


class ScheduleOut(ResponseBody):
    rows: list[ScheduleRowOut]
    totals: ScheduleTotalsOut


class LoanSummaryOut(ResponseBody):
    as_of_date: str
    outstanding_principal: Money
    outstanding_interest: Money = Field(
        description="Scheduled interest of all installments, due yet or not, not paid or waived."
    )
    outstanding_fees: Money
    outstanding_penalties: Money
    total_outstanding: Money = Field(
        description="Everything still to pay under the schedule (the four outstanding "
        "figures); a repayment lowers it by exactly its amount."
    )
    total_paid: Money = Field(description="Repayments allocated, net of reversals.")
    principal_paid: Money
    interest_paid: Money
    fees_paid: Money
    penalties_paid: Money
    total_waived: Money = Field(
        description="Interest and penalties waived, or forgiven by an early payoff."
    )
    written_off_amount: Money
    recovered_amount: Money
    days_past_due: int
    arrears_amount: Money = Field(
        description="Due now: unpaid on installments due on or before as_of_date."
    )
    next_due_date: str | None
    next_due_amount: Money
    installments_paid: int
    installments_overdue: int


class LoanOut(ResponseBody):
    id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    product_id: str
    product: ProductOut = Field(description="The product as it was at submission.")
    status: str
    principal: Money
    installments: int
    purpose: str
    submitted_date: str
    disbursement_date: str | None
    first_repayment_date: str | None
    maturity_date: str | None
    closed_date: str | None
    written_off_date: str | None
    submitted_by: str
    submitted_at: datetime | None
    approved_by: str
    approved_at: datetime | None
    rejected_by: str
    rejected_at: datetime | None
    rejection_reason: str
    withdrawn_by: str
    withdrawn_at: datetime | None
    withdrawal_reason: str
    disbursed_by: str
    disbursed_at: datetime | None
    written_off_by: str
    written_off_at: datetime | None
    write_off_reason: str
    upfront_fee: Money | None
    net_disbursed: Money | None
    total_interest: Money | None
    total_repayable: Money | None
    effective_apr: str
    summary: LoanSummaryOut | None = Field(description="Once disbursed.")
    audit: Audit
    version: int = Field(description="Bumps on every write; send it back as If-Match.")


class LoanList(ResponseBody):
    loans: list[LoanOut]
    page: PageInfo


class InstallmentAllocationOut(ResponseBody):
    installment_number: int
    penalty: Money
    fee: Money
    interest: Money
    principal: Money


class AllocationOut(ResponseBody):
    penalty: Money
    fee: Money
    interest: Money
    principal: Money
    recovery: Money
    total: Money
    interest_waived: Money
    installments: list[InstallmentAllocationOut]


class TransactionOut(ResponseBody):
    id: str
    type: str
    value_date: str
    amount: Money
    allocation: AllocationOut | None
    payment_id: str
    reversed_transaction_id: str
    reversed: bool
    installment_number: int
    reason: str
    actor: str
    created_at: datetime | None
    sequence: int


class TransactionList(ResponseBody):
    transactions: list[TransactionOut]
    page: PageInfo


class PayoffQuoteOut(ResponseBody):
    loan_id: str
    date: str
    principal: Money
    interest: Money = Field(description="Due by the date plus the current period's interest.")
    fees: Money
    penalties: Money
    total: Money = Field(description="The amount that closes the loan on the date.")
    interest_waived: Money = Field(description="Later periods' interest that paying forgives.")


class DisburseOut(ResponseBody):
    loan: LoanOut
    net_disbursed: Money = Field(description="Principal minus the upfront fee: cash handed out.")
    upfront_fee: Money
    schedule: list[ScheduleRowOut]
    totals: ScheduleTotalsOut


class WriteOffOut(ResponseBody):
    loan: LoanOut
    written_off_amount: Money


class WaiveOut(ResponseBody):
    loan: LoanOut
    transaction: TransactionOut


class DueLoanOut(ResponseBody):
    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    oldest_due_date: str
    installment_numbers: list[int]
    amount_due: Money
    arrears_amount: Money
    total_due: Money
    days_past_due: int


class DueLoanList(ResponseBody):
    loans: list[DueLoanOut]
    page: PageInfo
