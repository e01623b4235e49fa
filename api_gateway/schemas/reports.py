"""JSON bodies of the /api/v1/reports routes.

Same conventions as the other schemas: money is ``{"amount_minor", "currency"}`` in
the currency's minor unit, dates ``YYYY-MM-DD``, percents decimal strings with
2 places ("4.75"). Each amount carries its currency; a portfolio in several
currencies has one row (or figure) per currency, never a sum across them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from api_gateway.schemas.common import Money, PageInfo


class ReportBody(BaseModel):
    # Built from the proto, which may carry more than the HTTP shape shows.
    model_config = ConfigDict(extra="ignore")


class GroupPeriod(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class DisbursementDimension(StrEnum):
    agent = "agent"
    branch = "branch"
    product = "product"


class CollectionDimension(StrEnum):
    agent = "agent"
    branch = "branch"
    product = "product"
    channel = "channel"


class ParThreshold(StrEnum):
    par1 = "1"
    par30 = "30"
    par90 = "90"


class ParMetricOut(ReportBody):
    threshold_days: int = Field(description="n in PARn: 1, 30 or 90.")
    at_risk_principal: Money = Field(description="Outstanding principal of loans with DPD > n.")
    loan_count: int
    percent: str = Field(description="at_risk_principal / outstanding_principal, percent.")
    outstanding_principal: Money = Field(description="All active loans in scope (denominator).")


class PortfolioSummaryOut(ReportBody):
    as_of_date: str
    currency: str
    active_loans: int
    active_borrowers: int
    outstanding_principal: Money
    outstanding_interest: Money = Field(
        description="Interest receivable: unpaid interest of installments due on or before "
        "as_of_date (not the interest of later installments)."
    )
    outstanding_fees: Money
    outstanding_penalties: Money
    total_outstanding: Money = Field(
        description="Principal + interest receivable + fees + penalties."
    )
    disbursed_amount: Money = Field(description="Principal disbursed up to as_of_date.")
    collected_amount: Money = Field(description="Received up to as_of_date, net of reversals.")
    written_off_amount: Money = Field(description="Written off up to as_of_date.")
    recovered_amount: Money = Field(
        description="Recoveries (received after a write-off) up to as_of_date."
    )
    arrears_amount: Money
    loans_in_arrears: int
    par: list[ParMetricOut] = Field(default_factory=list)
    loans_pending_approval: int = Field(
        description="Submitted and not yet approved, rejected, withdrawn or disbursed."
    )
    loans_approved_not_disbursed: int = Field(
        description="Approved and not yet disbursed, rejected or withdrawn."
    )


class PortfolioGroupOut(ReportBody):
    dimension: str = Field(description="agent, branch or product.")
    key: str
    summary: PortfolioSummaryOut


class PortfolioOut(ReportBody):
    summaries: list[PortfolioSummaryOut] = Field(description="One per currency.")
    groups: list[PortfolioGroupOut]


class ParOut(ReportBody):
    as_of_date: str
    par: list[ParMetricOut] = Field(description="PAR1, PAR30, PAR90 per currency.")


class ParLoanOut(ReportBody):
    loan_id: str
    loan_number: str
    agent_id: str
    days_past_due: int
    outstanding_principal: Money


class ParLoansOut(ReportBody):
    as_of_date: str
    threshold_days: int
    loans: list[ParLoanOut]
    page: PageInfo


class AgingBucketOut(ReportBody):
    label: str = Field(description='"current", "1-30", "31-60", "61-90", "91-180", ">180".')
    currency: str
    min_days: int
    max_days: int = Field(description="0: no upper bound.")
    loan_count: int
    outstanding_principal: Money
    arrears_amount: Money
    percent: str = Field(description="Share of the currency's outstanding principal.")


class AgingOut(ReportBody):
    as_of_date: str
    buckets: list[AgingBucketOut]
    totals: list[AgingBucketOut]


class DisbursementRowOut(ReportBody):
    period: str = Field(description='"2026-06-01", "2026-W23" or "2026-06"; "" on a total.')
    key: str = Field(description="The agent, branch or product id when grouped by one.")
    currency: str
    loan_count: int
    principal_amount: Money
    fee_amount: Money
    net_disbursed_amount: Money


class DisbursementsOut(ReportBody):
    rows: list[DisbursementRowOut]
    totals: list[DisbursementRowOut] = Field(description="One per currency.")


class CollectionRowOut(ReportBody):
    period: str
    key: str
    currency: str
    payment_count: int
    collected_amount: Money = Field(description="Received, reversed payments excluded.")
    principal_amount: Money
    interest_amount: Money
    fee_amount: Money
    penalty_amount: Money
    recovery_amount: Money
    reversed_count: int
    reversed_amount: Money


class CollectionsOut(ReportBody):
    rows: list[CollectionRowOut]
    totals: list[CollectionRowOut]


class EfficiencyRowOut(ReportBody):
    agent_id: str = Field(description='"" on a total.')
    currency: str
    due: Money = Field(
        description="Still to collect, when the period began, of what fell due in it."
    )
    collected_due: Money = Field(description="Paid in the period to what fell due in it.")
    arrears_collected: Money = Field(
        description="Paid in the period to installments due before it."
    )
    prepaid: Money = Field(description="Paid in the period to installments due after it.")
    penalties_collected: Money
    rate: str = Field(description='collected_due / due, percent; "" when nothing was due.')


class EfficiencyOut(ReportBody):
    from_date: str
    to_date: str
    rows: list[EfficiencyRowOut]
    totals: list[EfficiencyRowOut]


class AgentRowOut(ReportBody):
    agent_id: str
    branch_id: str
    currency: str
    borrowers: int
    active_loans: int
    outstanding_principal: Money
    at_risk_30: Money
    par30_percent: str
    loans_in_arrears: int
    loans_disbursed: int
    disbursed_amount: Money
    expected_amount: Money = Field(description="Collection efficiency's due over the period.")
    collected_amount: Money = Field(description="Collected against it.")
    collection_rate: str


class AgentsOut(ReportBody):
    rows: list[AgentRowOut]
    page: PageInfo


class TrendPointOut(ReportBody):
    business_date: str
    currency: str
    active_loans: int
    outstanding_principal: Money
    par30_percent: str


class TrendOut(ReportBody):
    points: list[TrendPointOut]
