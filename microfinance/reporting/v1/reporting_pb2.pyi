import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from microfinance.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_DAY: _ClassVar[Granularity]
    GRANULARITY_WEEK: _ClassVar[Granularity]
    GRANULARITY_MONTH: _ClassVar[Granularity]

class Dimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIMENSION_UNSPECIFIED: _ClassVar[Dimension]
    DIMENSION_AGENT: _ClassVar[Dimension]
    DIMENSION_BRANCH: _ClassVar[Dimension]
    DIMENSION_PRODUCT: _ClassVar[Dimension]
    DIMENSION_CHANNEL: _ClassVar[Dimension]

class GroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_BY_UNSPECIFIED: _ClassVar[GroupBy]
    DAY: _ClassVar[GroupBy]
    AGENT: _ClassVar[GroupBy]
    PRODUCT: _ClassVar[GroupBy]
    BRANCH: _ClassVar[GroupBy]
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_DAY: Granularity
GRANULARITY_WEEK: Granularity
GRANULARITY_MONTH: Granularity
DIMENSION_UNSPECIFIED: Dimension
DIMENSION_AGENT: Dimension
DIMENSION_BRANCH: Dimension
DIMENSION_PRODUCT: Dimension
DIMENSION_CHANNEL: Dimension
GROUP_BY_UNSPECIFIED: GroupBy
DAY: GroupBy
AGENT: GroupBy
PRODUCT: GroupBy
BRANCH: GroupBy

class ReportFilter(_message.Message):
    __slots__ = ("branch_id", "agent_id", "product_id", "as_of_date", "currency")
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    branch_id: str
    agent_id: str
    product_id: str
    as_of_date: str
    currency: str
    def __init__(self, branch_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., product_id: _Optional[str] = ..., as_of_date: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class ParMetric(_message.Message):
    __slots__ = ("threshold_days", "at_risk_principal", "loan_count", "percent", "outstanding_principal")
    THRESHOLD_DAYS_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    LOAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    threshold_days: int
    at_risk_principal: _common_pb2.Money
    loan_count: int
    percent: str
    outstanding_principal: _common_pb2.Money
    def __init__(self, threshold_days: _Optional[int] = ..., at_risk_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., loan_count: _Optional[int] = ..., percent: _Optional[str] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class PortfolioSummary(_message.Message):
    __slots__ = ("as_of_date", "currency", "active_loans", "active_borrowers", "outstanding_principal", "outstanding_interest", "outstanding_fees", "outstanding_penalties", "total_outstanding", "disbursed_amount", "collected_amount", "written_off_amount", "recovered_amount", "arrears_amount", "loans_in_arrears", "par", "loans_pending_approval", "loans_approved_not_disbursed")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LOANS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_BORROWERS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_INTEREST_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEES_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PENALTIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_OUTSTANDING_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ARREARS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LOANS_IN_ARREARS_FIELD_NUMBER: _ClassVar[int]
    PAR_FIELD_NUMBER: _ClassVar[int]
    LOANS_PENDING_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    LOANS_APPROVED_NOT_DISBURSED_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    currency: str
    active_loans: int
    active_borrowers: int
    outstanding_principal: _common_pb2.Money
    outstanding_interest: _common_pb2.Money
    outstanding_fees: _common_pb2.Money
    outstanding_penalties: _common_pb2.Money
    total_outstanding: _common_pb2.Money
    disbursed_amount: _common_pb2.Money
    collected_amount: _common_pb2.Money
    written_off_amount: _common_pb2.Money
    recovered_amount: _common_pb2.Money
    arrears_amount: _common_pb2.Money
    loans_in_arrears: int
    par: _containers.RepeatedCompositeFieldContainer[ParMetric]
    loans_pending_approval: int
    loans_approved_not_disbursed: int
    def __init__(self, as_of_date: _Optional[str] = ..., currency: _Optional[str] = ..., active_loans: _Optional[int] = ..., active_borrowers: _Optional[int] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_fees: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_penalties: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_outstanding: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., disbursed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., written_off_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., recovered_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., arrears_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., loans_in_arrears: _Optional[int] = ..., par: _Optional[_Iterable[_Union[ParMetric, _Mapping]]] = ..., loans_pending_approval: _Optional[int] = ..., loans_approved_not_disbursed: _Optional[int] = ...) -> None: ...

class PortfolioGroup(_message.Message):
    __slots__ = ("dimension", "key", "summary")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    key: str
    summary: PortfolioSummary
    def __init__(self, dimension: _Optional[str] = ..., key: _Optional[str] = ..., summary: _Optional[_Union[PortfolioSummary, _Mapping]] = ...) -> None: ...

class GetPortfolioSummaryRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ...) -> None: ...

class GetPortfolioSummaryResponse(_message.Message):
    __slots__ = ("summary", "summaries", "groups")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    summary: PortfolioSummary
    summaries: _containers.RepeatedCompositeFieldContainer[PortfolioSummary]
    groups: _containers.RepeatedCompositeFieldContainer[PortfolioGroup]
    def __init__(self, summary: _Optional[_Union[PortfolioSummary, _Mapping]] = ..., summaries: _Optional[_Iterable[_Union[PortfolioSummary, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[PortfolioGroup, _Mapping]]] = ...) -> None: ...

class GetParRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ...) -> None: ...

class GetParResponse(_message.Message):
    __slots__ = ("as_of_date", "outstanding_principal", "par")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PAR_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    outstanding_principal: _common_pb2.Money
    par: _containers.RepeatedCompositeFieldContainer[ParMetric]
    def __init__(self, as_of_date: _Optional[str] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., par: _Optional[_Iterable[_Union[ParMetric, _Mapping]]] = ...) -> None: ...

class GetParLoansRequest(_message.Message):
    __slots__ = ("filter", "threshold_days", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_DAYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    threshold_days: int
    page: _common_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., threshold_days: _Optional[int] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ParLoan(_message.Message):
    __slots__ = ("loan_id", "loan_number", "agent_id", "days_past_due", "outstanding_principal")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    loan_number: str
    agent_id: str
    days_past_due: int
    outstanding_principal: _common_pb2.Money
    def __init__(self, loan_id: _Optional[str] = ..., loan_number: _Optional[str] = ..., agent_id: _Optional[str] = ..., days_past_due: _Optional[int] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class GetParLoansResponse(_message.Message):
    __slots__ = ("as_of_date", "threshold_days", "loans", "page")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_DAYS_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    threshold_days: int
    loans: _containers.RepeatedCompositeFieldContainer[ParLoan]
    page: _common_pb2.PageInfo
    def __init__(self, as_of_date: _Optional[str] = ..., threshold_days: _Optional[int] = ..., loans: _Optional[_Iterable[_Union[ParLoan, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class AgingBucket(_message.Message):
    __slots__ = ("label", "min_days", "max_days", "loan_count", "outstanding_principal", "arrears_amount", "percent", "currency")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    MAX_DAYS_FIELD_NUMBER: _ClassVar[int]
    LOAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ARREARS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    label: str
    min_days: int
    max_days: int
    loan_count: int
    outstanding_principal: _common_pb2.Money
    arrears_amount: _common_pb2.Money
    percent: str
    currency: str
    def __init__(self, label: _Optional[str] = ..., min_days: _Optional[int] = ..., max_days: _Optional[int] = ..., loan_count: _Optional[int] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., arrears_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., percent: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class GetAgingReportRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ...) -> None: ...

class GetAgingReportResponse(_message.Message):
    __slots__ = ("as_of_date", "buckets", "outstanding_principal", "totals")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    buckets: _containers.RepeatedCompositeFieldContainer[AgingBucket]
    outstanding_principal: _common_pb2.Money
    totals: _containers.RepeatedCompositeFieldContainer[AgingBucket]
    def __init__(self, as_of_date: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[AgingBucket, _Mapping]]] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[AgingBucket, _Mapping]]] = ...) -> None: ...

class DisbursementRow(_message.Message):
    __slots__ = ("key", "label", "loan_count", "principal_amount", "fee_amount", "net_disbursed_amount", "period", "currency")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LOAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NET_DISBURSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    loan_count: int
    principal_amount: _common_pb2.Money
    fee_amount: _common_pb2.Money
    net_disbursed_amount: _common_pb2.Money
    period: str
    currency: str
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., loan_count: _Optional[int] = ..., principal_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net_disbursed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., period: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class GetDisbursementReportRequest(_message.Message):
    __slots__ = ("filter", "period", "group_by", "granularity", "dimension")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    period: _common_pb2.DateRange
    group_by: GroupBy
    granularity: Granularity
    dimension: Dimension
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., period: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., group_by: _Optional[_Union[GroupBy, str]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., dimension: _Optional[_Union[Dimension, str]] = ...) -> None: ...

class GetDisbursementReportResponse(_message.Message):
    __slots__ = ("rows", "total", "totals")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[DisbursementRow]
    total: DisbursementRow
    totals: _containers.RepeatedCompositeFieldContainer[DisbursementRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[DisbursementRow, _Mapping]]] = ..., total: _Optional[_Union[DisbursementRow, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[DisbursementRow, _Mapping]]] = ...) -> None: ...

class CollectionsRow(_message.Message):
    __slots__ = ("key", "label", "payment_count", "collected_amount", "principal_amount", "interest_amount", "fee_amount", "penalty_amount", "recovery_amount", "reversed_amount", "expected_amount", "collection_rate", "period", "currency", "reversed_count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    INTEREST_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PENALTY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REVERSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_RATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REVERSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    payment_count: int
    collected_amount: _common_pb2.Money
    principal_amount: _common_pb2.Money
    interest_amount: _common_pb2.Money
    fee_amount: _common_pb2.Money
    penalty_amount: _common_pb2.Money
    recovery_amount: _common_pb2.Money
    reversed_amount: _common_pb2.Money
    expected_amount: _common_pb2.Money
    collection_rate: str
    period: str
    currency: str
    reversed_count: int
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., payment_count: _Optional[int] = ..., collected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalty_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., recovery_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reversed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., expected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collection_rate: _Optional[str] = ..., period: _Optional[str] = ..., currency: _Optional[str] = ..., reversed_count: _Optional[int] = ...) -> None: ...

class GetCollectionsReportRequest(_message.Message):
    __slots__ = ("filter", "period", "group_by", "granularity", "dimension")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    period: _common_pb2.DateRange
    group_by: GroupBy
    granularity: Granularity
    dimension: Dimension
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., period: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., group_by: _Optional[_Union[GroupBy, str]] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., dimension: _Optional[_Union[Dimension, str]] = ...) -> None: ...

class GetCollectionsReportResponse(_message.Message):
    __slots__ = ("rows", "total", "totals")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[CollectionsRow]
    total: CollectionsRow
    totals: _containers.RepeatedCompositeFieldContainer[CollectionsRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[CollectionsRow, _Mapping]]] = ..., total: _Optional[_Union[CollectionsRow, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[CollectionsRow, _Mapping]]] = ...) -> None: ...

class EfficiencyRow(_message.Message):
    __slots__ = ("agent_id", "currency", "due", "collected_due", "arrears_collected", "prepaid", "penalties_collected", "rate")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_DUE_FIELD_NUMBER: _ClassVar[int]
    ARREARS_COLLECTED_FIELD_NUMBER: _ClassVar[int]
    PREPAID_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_COLLECTED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    currency: str
    due: _common_pb2.Money
    collected_due: _common_pb2.Money
    arrears_collected: _common_pb2.Money
    prepaid: _common_pb2.Money
    penalties_collected: _common_pb2.Money
    rate: str
    def __init__(self, agent_id: _Optional[str] = ..., currency: _Optional[str] = ..., due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collected_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., arrears_collected: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., prepaid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalties_collected: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rate: _Optional[str] = ...) -> None: ...

class GetCollectionEfficiencyRequest(_message.Message):
    __slots__ = ("filter", "period")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    period: _common_pb2.DateRange
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., period: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ...) -> None: ...

class GetCollectionEfficiencyResponse(_message.Message):
    __slots__ = ("from_date", "to_date", "rows", "totals")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    rows: _containers.RepeatedCompositeFieldContainer[EfficiencyRow]
    totals: _containers.RepeatedCompositeFieldContainer[EfficiencyRow]
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[EfficiencyRow, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[EfficiencyRow, _Mapping]]] = ...) -> None: ...

class TrendPoint(_message.Message):
    __slots__ = ("business_date", "currency", "active_loans", "outstanding_principal", "par30_percent")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PAR30_PERCENT_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    currency: str
    active_loans: int
    outstanding_principal: _common_pb2.Money
    par30_percent: str
    def __init__(self, business_date: _Optional[str] = ..., currency: _Optional[str] = ..., active_loans: _Optional[int] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., par30_percent: _Optional[str] = ...) -> None: ...

class GetTrendRequest(_message.Message):
    __slots__ = ("filter", "period")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    period: _common_pb2.DateRange
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., period: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ...) -> None: ...

class GetTrendResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[TrendPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[TrendPoint, _Mapping]]] = ...) -> None: ...

class ExportReportRequest(_message.Message):
    __slots__ = ("portfolio", "par", "aging", "disbursements", "collections", "collection_efficiency", "agents", "trend")
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    PAR_FIELD_NUMBER: _ClassVar[int]
    AGING_FIELD_NUMBER: _ClassVar[int]
    DISBURSEMENTS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_EFFICIENCY_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    portfolio: GetPortfolioSummaryRequest
    par: GetParRequest
    aging: GetAgingReportRequest
    disbursements: GetDisbursementReportRequest
    collections: GetCollectionsReportRequest
    collection_efficiency: GetCollectionEfficiencyRequest
    agents: GetAgentPerformanceRequest
    trend: GetTrendRequest
    def __init__(self, portfolio: _Optional[_Union[GetPortfolioSummaryRequest, _Mapping]] = ..., par: _Optional[_Union[GetParRequest, _Mapping]] = ..., aging: _Optional[_Union[GetAgingReportRequest, _Mapping]] = ..., disbursements: _Optional[_Union[GetDisbursementReportRequest, _Mapping]] = ..., collections: _Optional[_Union[GetCollectionsReportRequest, _Mapping]] = ..., collection_efficiency: _Optional[_Union[GetCollectionEfficiencyRequest, _Mapping]] = ..., agents: _Optional[_Union[GetAgentPerformanceRequest, _Mapping]] = ..., trend: _Optional[_Union[GetTrendRequest, _Mapping]] = ...) -> None: ...

class ExportReportResponse(_message.Message):
    __slots__ = ("filename", "csv")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    filename: str
    csv: str
    def __init__(self, filename: _Optional[str] = ..., csv: _Optional[str] = ...) -> None: ...

class AgentPerformanceRow(_message.Message):
    __slots__ = ("agent_id", "agent_name", "branch_id", "borrowers", "active_loans", "outstanding_principal", "loans_disbursed", "disbursed_amount", "collected_amount", "expected_amount", "collection_rate", "loans_in_arrears", "par30_percent", "currency", "at_risk_30")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    LOANS_DISBURSED_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_RATE_FIELD_NUMBER: _ClassVar[int]
    LOANS_IN_ARREARS_FIELD_NUMBER: _ClassVar[int]
    PAR30_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_30_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent_name: str
    branch_id: str
    borrowers: int
    active_loans: int
    outstanding_principal: _common_pb2.Money
    loans_disbursed: int
    disbursed_amount: _common_pb2.Money
    collected_amount: _common_pb2.Money
    expected_amount: _common_pb2.Money
    collection_rate: str
    loans_in_arrears: int
    par30_percent: str
    currency: str
    at_risk_30: _common_pb2.Money
    def __init__(self, agent_id: _Optional[str] = ..., agent_name: _Optional[str] = ..., branch_id: _Optional[str] = ..., borrowers: _Optional[int] = ..., active_loans: _Optional[int] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., loans_disbursed: _Optional[int] = ..., disbursed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., expected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collection_rate: _Optional[str] = ..., loans_in_arrears: _Optional[int] = ..., par30_percent: _Optional[str] = ..., currency: _Optional[str] = ..., at_risk_30: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class GetAgentPerformanceRequest(_message.Message):
    __slots__ = ("filter", "period", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: ReportFilter
    period: _common_pb2.DateRange
    page: _common_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[ReportFilter, _Mapping]] = ..., period: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetAgentPerformanceResponse(_message.Message):
    __slots__ = ("rows", "page")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[AgentPerformanceRow]
    page: _common_pb2.PageInfo
    def __init__(self, rows: _Optional[_Iterable[_Union[AgentPerformanceRow, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class PortfolioSnapshot(_message.Message):
    __slots__ = ("business_date", "created_at", "summary", "aging")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    AGING_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    created_at: _timestamp_pb2.Timestamp
    summary: PortfolioSummary
    aging: _containers.RepeatedCompositeFieldContainer[AgingBucket]
    def __init__(self, business_date: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[_Union[PortfolioSummary, _Mapping]] = ..., aging: _Optional[_Iterable[_Union[AgingBucket, _Mapping]]] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("business_date", "filter")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    filter: ReportFilter
    def __init__(self, business_date: _Optional[str] = ..., filter: _Optional[_Union[ReportFilter, _Mapping]] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: PortfolioSnapshot
    def __init__(self, snapshot: _Optional[_Union[PortfolioSnapshot, _Mapping]] = ...) -> None: ...
