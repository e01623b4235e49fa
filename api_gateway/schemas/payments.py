"""JSON bodies of the payment, collection-sheet and cash-summary routes.

Same conventions as schemas.py: money is ``{"amount_minor", "currency"}`` in
the currency's minor unit, dates are ``YYYY-MM-DD``, enums travel by name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from api_gateway.schemas.common import (
    CURRENCY_PATTERN,
    AmountMinor,
    Audit,
    Money,
    PageInfo,
    RequestBody,
    ResponseBody,
)

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class ChannelName(StrEnum):
    CASH = "CASH"
    MOBILE_MONEY = "MOBILE_MONEY"
    BANK_TRANSFER = "BANK_TRANSFER"


class PaymentStatusName(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    REJECTED = "REJECTED"
    REVERSED = "REVERSED"


class ReceiptFormatName(StrEnum):
    html = "html"
    pdf = "pdf"


class ReportFormatName(StrEnum):
    json = "json"
    csv = "csv"


# ------------------------------------------------------------------ requests


class PaymentAmount(RequestBody):
    amount_minor: AmountMinor = Field(gt=0)
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217; the loan's currency.")


class PostPaymentRequest(RequestBody):
    loan_id: str = Field(min_length=1, max_length=64)
    amount: PaymentAmount
    value_date: str | None = Field(
        default=None,
        pattern=DATE_PATTERN,
        description="When the money was received; default today, never in the future.",
    )
    channel: ChannelName
    external_reference: str = Field(
        default="",
        max_length=100,
        description="E.g. the mobile-money transaction id; unique per channel.",
    )
    note: str = Field(default="", max_length=500)


class ReversePaymentRequest(RequestBody):
    reason: str = Field(min_length=1, max_length=500)


# ------------------------------------------------------------------ responses


class InstallmentSplitOut(ResponseBody):
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
    recovery: Money = Field(description="Money received after the loan was written off.")
    total: Money
    interest_waived: Money = Field(description="Future interest forgiven by an early payoff.")
    installments: list[InstallmentSplitOut]


class ReversalOut(ResponseBody):
    reason: str
    reversed_by: str
    reversed_at: datetime | None
    loan_transaction_id: str


class PaymentOut(ResponseBody):
    id: str
    receipt_number: str = Field(description="Set once POSTED, e.g. RC-2026-0000123.")
    idempotency_key: str
    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    amount: Money
    value_date: str
    channel: ChannelName | None
    external_reference: str
    note: str
    status: PaymentStatusName | None
    allocation: AllocationOut | None
    loan_transaction_id: str
    recovery: bool
    loan_closed: bool = Field(description="This payment paid the loan off.")
    rejection_reason: str
    rejection_code: str
    reversal: ReversalOut | None
    posted_by: str
    posted_at: datetime | None
    audit: Audit
    version: int


class PaymentList(ResponseBody):
    payments: list[PaymentOut]
    page: PageInfo


class CollectionSheetRowOut(ResponseBody):
    borrower_id: str
    borrower_name: str
    phone: str
    loan_id: str
    loan_number: str
    oldest_due_date: str
    amount_due: Money = Field(description="Unpaid on installments due on the date.")
    arrears_amount: Money = Field(description="Unpaid on installments due before the date.")
    total_due: Money
    days_past_due: int
    collected_amount: Money = Field(description="POSTED payments with that value date.")


class CollectionSheetTotalsOut(ResponseBody):
    currency: str
    expected: Money = Field(description="Sum of total_due + collected_amount.")
    collected: Money
    collection_rate: str = Field(description='Percent, 2 decimals, e.g. "87.50".')
    loan_count: int


class CollectionSheetOut(ResponseBody):
    agent_id: str
    date: str
    rows: list[CollectionSheetRowOut]
    totals: list[CollectionSheetTotalsOut]


class ChannelTotalOut(ResponseBody):
    channel: ChannelName | None
    posted_amount: Money
    posted_count: int
    reversed_amount: Money
    reversed_count: int
    net_amount: Money


class CashSummaryOut(ResponseBody):
    agent_id: str
    date: str
    channels: list[ChannelTotalOut]
    net_totals: list[Money]
    rejected_count: int
    pending_count: int
