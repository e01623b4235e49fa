import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from microfinance.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RepaymentFrequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPAYMENT_FREQUENCY_UNSPECIFIED: _ClassVar[RepaymentFrequency]
    WEEKLY: _ClassVar[RepaymentFrequency]
    BIWEEKLY: _ClassVar[RepaymentFrequency]
    MONTHLY: _ClassVar[RepaymentFrequency]

class InterestMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTEREST_METHOD_UNSPECIFIED: _ClassVar[InterestMethod]
    FLAT: _ClassVar[InterestMethod]
    DECLINING_BALANCE: _ClassVar[InterestMethod]

class Amortization(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AMORTIZATION_UNSPECIFIED: _ClassVar[Amortization]
    EQUAL_INSTALLMENTS: _ClassVar[Amortization]
    EQUAL_PRINCIPAL: _ClassVar[Amortization]

class ChargeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHARGE_TYPE_UNSPECIFIED: _ClassVar[ChargeType]
    FIXED: _ClassVar[ChargeType]
    PERCENT: _ClassVar[ChargeType]

class LoanStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAN_STATUS_UNSPECIFIED: _ClassVar[LoanStatus]
    SUBMITTED: _ClassVar[LoanStatus]
    APPROVED: _ClassVar[LoanStatus]
    REJECTED: _ClassVar[LoanStatus]
    WITHDRAWN: _ClassVar[LoanStatus]
    ACTIVE: _ClassVar[LoanStatus]
    CLOSED: _ClassVar[LoanStatus]
    WRITTEN_OFF: _ClassVar[LoanStatus]

class InstallmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTALLMENT_STATUS_UNSPECIFIED: _ClassVar[InstallmentStatus]
    PENDING: _ClassVar[InstallmentStatus]
    PARTIAL: _ClassVar[InstallmentStatus]
    PAID: _ClassVar[InstallmentStatus]
    OVERDUE: _ClassVar[InstallmentStatus]
    WAIVED: _ClassVar[InstallmentStatus]

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_TYPE_UNSPECIFIED: _ClassVar[TransactionType]
    DISBURSEMENT: _ClassVar[TransactionType]
    REPAYMENT: _ClassVar[TransactionType]
    REVERSAL: _ClassVar[TransactionType]
    PENALTY: _ClassVar[TransactionType]
    WAIVER: _ClassVar[TransactionType]
    WRITE_OFF: _ClassVar[TransactionType]
    RECOVERY: _ClassVar[TransactionType]
REPAYMENT_FREQUENCY_UNSPECIFIED: RepaymentFrequency
WEEKLY: RepaymentFrequency
BIWEEKLY: RepaymentFrequency
MONTHLY: RepaymentFrequency
INTEREST_METHOD_UNSPECIFIED: InterestMethod
FLAT: InterestMethod
DECLINING_BALANCE: InterestMethod
AMORTIZATION_UNSPECIFIED: Amortization
EQUAL_INSTALLMENTS: Amortization
EQUAL_PRINCIPAL: Amortization
CHARGE_TYPE_UNSPECIFIED: ChargeType
FIXED: ChargeType
PERCENT: ChargeType
LOAN_STATUS_UNSPECIFIED: LoanStatus
SUBMITTED: LoanStatus
APPROVED: LoanStatus
REJECTED: LoanStatus
WITHDRAWN: LoanStatus
ACTIVE: LoanStatus
CLOSED: LoanStatus
WRITTEN_OFF: LoanStatus
INSTALLMENT_STATUS_UNSPECIFIED: InstallmentStatus
PENDING: InstallmentStatus
PARTIAL: InstallmentStatus
PAID: InstallmentStatus
OVERDUE: InstallmentStatus
WAIVED: InstallmentStatus
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
DISBURSEMENT: TransactionType
REPAYMENT: TransactionType
REVERSAL: TransactionType
PENALTY: TransactionType
WAIVER: TransactionType
WRITE_OFF: TransactionType
RECOVERY: TransactionType

class FeeTerms(_message.Message):
    __slots__ = ("type", "fixed_amount", "percent")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIXED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    type: ChargeType
    fixed_amount: _common_pb2.Money
    percent: str
    def __init__(self, type: _Optional[_Union[ChargeType, str]] = ..., fixed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., percent: _Optional[str] = ...) -> None: ...

class PenaltyTerms(_message.Message):
    __slots__ = ("type", "fixed_amount", "percent", "grace_days")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIXED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    GRACE_DAYS_FIELD_NUMBER: _ClassVar[int]
    type: ChargeType
    fixed_amount: _common_pb2.Money
    percent: str
    grace_days: int
    def __init__(self, type: _Optional[_Union[ChargeType, str]] = ..., fixed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., percent: _Optional[str] = ..., grace_days: _Optional[int] = ...) -> None: ...

class LoanProduct(_message.Message):
    __slots__ = ("id", "code", "name", "description", "currency", "currency_minor_digits", "principal_min", "principal_max", "installments_min", "installments_max", "frequency", "interest_method", "amortization", "annual_rate", "principal_grace_installments", "rounding_multiple_minor", "fee", "late_penalty", "max_active_loans_per_borrower", "active", "audit", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_MINOR_DIGITS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_MIN_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_MAX_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_MIN_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_MAX_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    INTEREST_METHOD_FIELD_NUMBER: _ClassVar[int]
    AMORTIZATION_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_GRACE_INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_MULTIPLE_MINOR_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    LATE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_LOANS_PER_BORROWER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    name: str
    description: str
    currency: str
    currency_minor_digits: int
    principal_min: _common_pb2.Money
    principal_max: _common_pb2.Money
    installments_min: int
    installments_max: int
    frequency: RepaymentFrequency
    interest_method: InterestMethod
    amortization: Amortization
    annual_rate: str
    principal_grace_installments: int
    rounding_multiple_minor: int
    fee: FeeTerms
    late_penalty: PenaltyTerms
    max_active_loans_per_borrower: int
    active: bool
    audit: _common_pb2.Audit
    version: int
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., currency: _Optional[str] = ..., currency_minor_digits: _Optional[int] = ..., principal_min: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal_max: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments_min: _Optional[int] = ..., installments_max: _Optional[int] = ..., frequency: _Optional[_Union[RepaymentFrequency, str]] = ..., interest_method: _Optional[_Union[InterestMethod, str]] = ..., amortization: _Optional[_Union[Amortization, str]] = ..., annual_rate: _Optional[str] = ..., principal_grace_installments: _Optional[int] = ..., rounding_multiple_minor: _Optional[int] = ..., fee: _Optional[_Union[FeeTerms, _Mapping]] = ..., late_penalty: _Optional[_Union[PenaltyTerms, _Mapping]] = ..., max_active_loans_per_borrower: _Optional[int] = ..., active: _Optional[bool] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class CreateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("id", "code")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class GetProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("active", "currency", "page")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    active: bool
    currency: str
    page: _common_pb2.PageRequest
    def __init__(self, active: _Optional[bool] = ..., currency: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "page")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[LoanProduct]
    page: _common_pb2.PageInfo
    def __init__(self, products: _Optional[_Iterable[_Union[LoanProduct, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateProductRequest(_message.Message):
    __slots__ = ("id", "product", "update_mask", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    product: LoanProduct
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., product: _Optional[_Union[LoanProduct, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class DeactivateProductRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeactivateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class ActivateProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ActivateProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: LoanProduct
    def __init__(self, product: _Optional[_Union[LoanProduct, _Mapping]] = ...) -> None: ...

class ScheduleRow(_message.Message):
    __slots__ = ("number", "due_date", "principal_due", "interest_due", "fee_due", "penalty_due", "total_due", "principal_paid", "interest_paid", "fee_paid", "penalty_paid", "total_paid", "interest_waived", "penalty_waived", "outstanding_principal_after", "status", "paid_date", "days_past_due")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_DUE_FIELD_NUMBER: _ClassVar[int]
    INTEREST_DUE_FIELD_NUMBER: _ClassVar[int]
    FEE_DUE_FIELD_NUMBER: _ClassVar[int]
    PENALTY_DUE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DUE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_PAID_FIELD_NUMBER: _ClassVar[int]
    INTEREST_PAID_FIELD_NUMBER: _ClassVar[int]
    FEE_PAID_FIELD_NUMBER: _ClassVar[int]
    PENALTY_PAID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAID_FIELD_NUMBER: _ClassVar[int]
    INTEREST_WAIVED_FIELD_NUMBER: _ClassVar[int]
    PENALTY_WAIVED_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_AFTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAID_DATE_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    number: int
    due_date: str
    principal_due: _common_pb2.Money
    interest_due: _common_pb2.Money
    fee_due: _common_pb2.Money
    penalty_due: _common_pb2.Money
    total_due: _common_pb2.Money
    principal_paid: _common_pb2.Money
    interest_paid: _common_pb2.Money
    fee_paid: _common_pb2.Money
    penalty_paid: _common_pb2.Money
    total_paid: _common_pb2.Money
    interest_waived: _common_pb2.Money
    penalty_waived: _common_pb2.Money
    outstanding_principal_after: _common_pb2.Money
    status: InstallmentStatus
    paid_date: str
    days_past_due: int
    def __init__(self, number: _Optional[int] = ..., due_date: _Optional[str] = ..., principal_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalty_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalty_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_waived: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalty_waived: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_principal_after: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[InstallmentStatus, str]] = ..., paid_date: _Optional[str] = ..., days_past_due: _Optional[int] = ...) -> None: ...

class ScheduleTotals(_message.Message):
    __slots__ = ("principal", "interest", "upfront_fee", "penalties", "total_repayable", "net_disbursed", "effective_apr")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FIELD_NUMBER: _ClassVar[int]
    UPFRONT_FEE_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REPAYABLE_FIELD_NUMBER: _ClassVar[int]
    NET_DISBURSED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_APR_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Money
    interest: _common_pb2.Money
    upfront_fee: _common_pb2.Money
    penalties: _common_pb2.Money
    total_repayable: _common_pb2.Money
    net_disbursed: _common_pb2.Money
    effective_apr: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., upfront_fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalties: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_repayable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net_disbursed: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., effective_apr: _Optional[str] = ...) -> None: ...

class PreviewScheduleRequest(_message.Message):
    __slots__ = ("product_id", "principal", "installments", "disbursement_date", "first_repayment_date")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    DISBURSEMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_REPAYMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    principal: _common_pb2.Money
    installments: int
    disbursement_date: str
    first_repayment_date: str
    def __init__(self, product_id: _Optional[str] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments: _Optional[int] = ..., disbursement_date: _Optional[str] = ..., first_repayment_date: _Optional[str] = ...) -> None: ...

class PreviewScheduleResponse(_message.Message):
    __slots__ = ("rows", "totals")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ScheduleRow]
    totals: ScheduleTotals
    def __init__(self, rows: _Optional[_Iterable[_Union[ScheduleRow, _Mapping]]] = ..., totals: _Optional[_Union[ScheduleTotals, _Mapping]] = ...) -> None: ...

class InstallmentAllocation(_message.Message):
    __slots__ = ("installment_number", "penalty", "fee", "interest", "principal")
    INSTALLMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PENALTY_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    installment_number: int
    penalty: _common_pb2.Money
    fee: _common_pb2.Money
    interest: _common_pb2.Money
    principal: _common_pb2.Money
    def __init__(self, installment_number: _Optional[int] = ..., penalty: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class Allocation(_message.Message):
    __slots__ = ("penalty", "fee", "interest", "principal", "recovery", "total", "interest_waived", "installments")
    PENALTY_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    INTEREST_WAIVED_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    penalty: _common_pb2.Money
    fee: _common_pb2.Money
    interest: _common_pb2.Money
    principal: _common_pb2.Money
    recovery: _common_pb2.Money
    total: _common_pb2.Money
    interest_waived: _common_pb2.Money
    installments: _containers.RepeatedCompositeFieldContainer[InstallmentAllocation]
    def __init__(self, penalty: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., recovery: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_waived: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments: _Optional[_Iterable[_Union[InstallmentAllocation, _Mapping]]] = ...) -> None: ...

class LoanSummary(_message.Message):
    __slots__ = ("as_of_date", "outstanding_principal", "outstanding_interest", "outstanding_fees", "outstanding_penalties", "total_outstanding", "total_paid", "principal_paid", "interest_paid", "fees_paid", "penalties_paid", "total_waived", "written_off_amount", "recovered_amount", "days_past_due", "arrears_amount", "next_due_date", "next_due_amount", "installments_paid", "installments_overdue")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_INTEREST_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEES_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_PENALTIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_OUTSTANDING_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_PAID_FIELD_NUMBER: _ClassVar[int]
    INTEREST_PAID_FIELD_NUMBER: _ClassVar[int]
    FEES_PAID_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_PAID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_WAIVED_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    ARREARS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    NEXT_DUE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_PAID_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    outstanding_principal: _common_pb2.Money
    outstanding_interest: _common_pb2.Money
    outstanding_fees: _common_pb2.Money
    outstanding_penalties: _common_pb2.Money
    total_outstanding: _common_pb2.Money
    total_paid: _common_pb2.Money
    principal_paid: _common_pb2.Money
    interest_paid: _common_pb2.Money
    fees_paid: _common_pb2.Money
    penalties_paid: _common_pb2.Money
    total_waived: _common_pb2.Money
    written_off_amount: _common_pb2.Money
    recovered_amount: _common_pb2.Money
    days_past_due: int
    arrears_amount: _common_pb2.Money
    next_due_date: str
    next_due_amount: _common_pb2.Money
    installments_paid: int
    installments_overdue: int
    def __init__(self, as_of_date: _Optional[str] = ..., outstanding_principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_fees: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., outstanding_penalties: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_outstanding: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., principal_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fees_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalties_paid: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_waived: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., written_off_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., recovered_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., days_past_due: _Optional[int] = ..., arrears_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., next_due_date: _Optional[str] = ..., next_due_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments_paid: _Optional[int] = ..., installments_overdue: _Optional[int] = ...) -> None: ...

class Loan(_message.Message):
    __slots__ = ("id", "loan_number", "borrower_id", "borrower_name", "agent_id", "branch_id", "product_id", "product", "status", "principal", "installments", "purpose", "submitted_date", "disbursement_date", "first_repayment_date", "maturity_date", "closed_date", "written_off_date", "submitted_by", "submitted_at", "approved_by", "approved_at", "rejected_by", "rejected_at", "rejection_reason", "withdrawn_by", "withdrawn_at", "withdrawal_reason", "disbursed_by", "disbursed_at", "written_off_by", "written_off_at", "write_off_reason", "upfront_fee", "net_disbursed", "total_interest", "total_repayable", "effective_apr", "summary", "audit", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_DATE_FIELD_NUMBER: _ClassVar[int]
    DISBURSEMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_REPAYMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    MATURITY_DATE_FIELD_NUMBER: _ClassVar[int]
    CLOSED_DATE_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_DATE_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_AT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_FIELD_NUMBER: _ClassVar[int]
    REJECTED_AT_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_BY_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWAL_REASON_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_BY_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_AT_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_BY_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_AT_FIELD_NUMBER: _ClassVar[int]
    WRITE_OFF_REASON_FIELD_NUMBER: _ClassVar[int]
    UPFRONT_FEE_FIELD_NUMBER: _ClassVar[int]
    NET_DISBURSED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_INTEREST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REPAYABLE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_APR_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    product_id: str
    product: LoanProduct
    status: LoanStatus
    principal: _common_pb2.Money
    installments: int
    purpose: str
    submitted_date: str
    disbursement_date: str
    first_repayment_date: str
    maturity_date: str
    closed_date: str
    written_off_date: str
    submitted_by: str
    submitted_at: _timestamp_pb2.Timestamp
    approved_by: str
    approved_at: _timestamp_pb2.Timestamp
    rejected_by: str
    rejected_at: _timestamp_pb2.Timestamp
    rejection_reason: str
    withdrawn_by: str
    withdrawn_at: _timestamp_pb2.Timestamp
    withdrawal_reason: str
    disbursed_by: str
    disbursed_at: _timestamp_pb2.Timestamp
    written_off_by: str
    written_off_at: _timestamp_pb2.Timestamp
    write_off_reason: str
    upfront_fee: _common_pb2.Money
    net_disbursed: _common_pb2.Money
    total_interest: _common_pb2.Money
    total_repayable: _common_pb2.Money
    effective_apr: str
    summary: LoanSummary
    audit: _common_pb2.Audit
    version: int
    def __init__(self, id: _Optional[str] = ..., loan_number: _Optional[str] = ..., borrower_id: _Optional[str] = ..., borrower_name: _Optional[str] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., product_id: _Optional[str] = ..., product: _Optional[_Union[LoanProduct, _Mapping]] = ..., status: _Optional[_Union[LoanStatus, str]] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments: _Optional[int] = ..., purpose: _Optional[str] = ..., submitted_date: _Optional[str] = ..., disbursement_date: _Optional[str] = ..., first_repayment_date: _Optional[str] = ..., maturity_date: _Optional[str] = ..., closed_date: _Optional[str] = ..., written_off_date: _Optional[str] = ..., submitted_by: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approved_by: _Optional[str] = ..., approved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rejected_by: _Optional[str] = ..., rejected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rejection_reason: _Optional[str] = ..., withdrawn_by: _Optional[str] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawal_reason: _Optional[str] = ..., disbursed_by: _Optional[str] = ..., disbursed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., written_off_by: _Optional[str] = ..., written_off_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., write_off_reason: _Optional[str] = ..., upfront_fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net_disbursed: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_repayable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., effective_apr: _Optional[str] = ..., summary: _Optional[_Union[LoanSummary, _Mapping]] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("id", "type", "value_date", "amount", "allocation", "payment_id", "reversed_transaction_id", "reversed", "installment_number", "reason", "actor", "created_at", "sequence")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSED_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSED_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: TransactionType
    value_date: str
    amount: _common_pb2.Money
    allocation: Allocation
    payment_id: str
    reversed_transaction_id: str
    reversed: bool
    installment_number: int
    reason: str
    actor: str
    created_at: _timestamp_pb2.Timestamp
    sequence: int
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[TransactionType, str]] = ..., value_date: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., allocation: _Optional[_Union[Allocation, _Mapping]] = ..., payment_id: _Optional[str] = ..., reversed_transaction_id: _Optional[str] = ..., reversed: _Optional[bool] = ..., installment_number: _Optional[int] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class SubmitLoanRequest(_message.Message):
    __slots__ = ("borrower_id", "product_id", "principal", "installments", "purpose", "note")
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    borrower_id: str
    product_id: str
    principal: _common_pb2.Money
    installments: int
    purpose: str
    note: str
    def __init__(self, borrower_id: _Optional[str] = ..., product_id: _Optional[str] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., installments: _Optional[int] = ..., purpose: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class SubmitLoanResponse(_message.Message):
    __slots__ = ("loan",)
    LOAN_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ...) -> None: ...

class GetLoanRequest(_message.Message):
    __slots__ = ("id", "as_of_date")
    ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    as_of_date: str
    def __init__(self, id: _Optional[str] = ..., as_of_date: _Optional[str] = ...) -> None: ...

class GetLoanResponse(_message.Message):
    __slots__ = ("loan",)
    LOAN_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ...) -> None: ...

class ListLoansRequest(_message.Message):
    __slots__ = ("status", "agent_id", "borrower_id", "product_id", "branch_id", "disbursed", "dpd_min", "dpd_max", "page")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_FIELD_NUMBER: _ClassVar[int]
    DPD_MIN_FIELD_NUMBER: _ClassVar[int]
    DPD_MAX_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    status: LoanStatus
    agent_id: str
    borrower_id: str
    product_id: str
    branch_id: str
    disbursed: _common_pb2.DateRange
    dpd_min: int
    dpd_max: int
    page: _common_pb2.PageRequest
    def __init__(self, status: _Optional[_Union[LoanStatus, str]] = ..., agent_id: _Optional[str] = ..., borrower_id: _Optional[str] = ..., product_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., disbursed: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., dpd_min: _Optional[int] = ..., dpd_max: _Optional[int] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListLoansResponse(_message.Message):
    __slots__ = ("loans", "page")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    loans: _containers.RepeatedCompositeFieldContainer[Loan]
    page: _common_pb2.PageInfo
    def __init__(self, loans: _Optional[_Iterable[_Union[Loan, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class SearchLoansRequest(_message.Message):
    __slots__ = ("q", "status", "page")
    Q_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    q: str
    status: LoanStatus
    page: _common_pb2.PageRequest
    def __init__(self, q: _Optional[str] = ..., status: _Optional[_Union[LoanStatus, str]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchLoansResponse(_message.Message):
    __slots__ = ("loans", "page")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    loans: _containers.RepeatedCompositeFieldContainer[Loan]
    page: _common_pb2.PageInfo
    def __init__(self, loans: _Optional[_Iterable[_Union[Loan, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ApproveLoanRequest(_message.Message):
    __slots__ = ("id", "note", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    note: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., note: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ApproveLoanResponse(_message.Message):
    __slots__ = ("loan",)
    LOAN_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ...) -> None: ...

class RejectLoanRequest(_message.Message):
    __slots__ = ("id", "reason", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class RejectLoanResponse(_message.Message):
    __slots__ = ("loan",)
    LOAN_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ...) -> None: ...

class WithdrawLoanRequest(_message.Message):
    __slots__ = ("id", "reason", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class WithdrawLoanResponse(_message.Message):
    __slots__ = ("loan",)
    LOAN_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ...) -> None: ...

class DisburseLoanRequest(_message.Message):
    __slots__ = ("id", "disbursement_date", "first_repayment_date", "note", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISBURSEMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_REPAYMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    disbursement_date: str
    first_repayment_date: str
    note: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., disbursement_date: _Optional[str] = ..., first_repayment_date: _Optional[str] = ..., note: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DisburseLoanResponse(_message.Message):
    __slots__ = ("loan", "net_disbursed", "upfront_fee", "schedule", "totals")
    LOAN_FIELD_NUMBER: _ClassVar[int]
    NET_DISBURSED_FIELD_NUMBER: _ClassVar[int]
    UPFRONT_FEE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    net_disbursed: _common_pb2.Money
    upfront_fee: _common_pb2.Money
    schedule: _containers.RepeatedCompositeFieldContainer[ScheduleRow]
    totals: ScheduleTotals
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ..., net_disbursed: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., upfront_fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., schedule: _Optional[_Iterable[_Union[ScheduleRow, _Mapping]]] = ..., totals: _Optional[_Union[ScheduleTotals, _Mapping]] = ...) -> None: ...

class GetScheduleRequest(_message.Message):
    __slots__ = ("loan_id", "as_of_date")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    as_of_date: str
    def __init__(self, loan_id: _Optional[str] = ..., as_of_date: _Optional[str] = ...) -> None: ...

class GetScheduleResponse(_message.Message):
    __slots__ = ("rows", "totals")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ScheduleRow]
    totals: ScheduleTotals
    def __init__(self, rows: _Optional[_Iterable[_Union[ScheduleRow, _Mapping]]] = ..., totals: _Optional[_Union[ScheduleTotals, _Mapping]] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ("loan_id", "page")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    page: _common_pb2.PageRequest
    def __init__(self, loan_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "page")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    page: _common_pb2.PageInfo
    def __init__(self, transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class GetPayoffQuoteRequest(_message.Message):
    __slots__ = ("loan_id", "date")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    date: str
    def __init__(self, loan_id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class GetPayoffQuoteResponse(_message.Message):
    __slots__ = ("loan_id", "date", "principal", "interest", "fees", "penalties", "total", "interest_waived")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    INTEREST_WAIVED_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    date: str
    principal: _common_pb2.Money
    interest: _common_pb2.Money
    fees: _common_pb2.Money
    penalties: _common_pb2.Money
    total: _common_pb2.Money
    interest_waived: _common_pb2.Money
    def __init__(self, loan_id: _Optional[str] = ..., date: _Optional[str] = ..., principal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fees: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., penalties: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_waived: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class WriteOffLoanRequest(_message.Message):
    __slots__ = ("id", "reason", "write_off_date", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WRITE_OFF_DATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    write_off_date: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ..., write_off_date: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class WriteOffLoanResponse(_message.Message):
    __slots__ = ("loan", "written_off_amount")
    LOAN_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_OFF_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    written_off_amount: _common_pb2.Money
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ..., written_off_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class WaiveChargesRequest(_message.Message):
    __slots__ = ("loan_id", "installment_number", "penalty_amount", "interest_amount", "reason", "value_date", "expected_version")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PENALTY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    INTEREST_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    installment_number: int
    penalty_amount: _common_pb2.Money
    interest_amount: _common_pb2.Money
    reason: str
    value_date: str
    expected_version: int
    def __init__(self, loan_id: _Optional[str] = ..., installment_number: _Optional[int] = ..., penalty_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interest_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., value_date: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class WaiveChargesResponse(_message.Message):
    __slots__ = ("loan", "transaction")
    LOAN_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    loan: Loan
    transaction: Transaction
    def __init__(self, loan: _Optional[_Union[Loan, _Mapping]] = ..., transaction: _Optional[_Union[Transaction, _Mapping]] = ...) -> None: ...

class ApplyRepaymentRequest(_message.Message):
    __slots__ = ("loan_id", "payment_id", "amount", "value_date", "channel", "on_behalf_of", "agent_scope")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    AGENT_SCOPE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    payment_id: str
    amount: _common_pb2.Money
    value_date: str
    channel: _common_pb2.Channel
    on_behalf_of: str
    agent_scope: str
    def __init__(self, loan_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., value_date: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., on_behalf_of: _Optional[str] = ..., agent_scope: _Optional[str] = ...) -> None: ...

class ApplyRepaymentResponse(_message.Message):
    __slots__ = ("transaction", "allocation", "loan", "closed", "replayed", "recovery")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    LOAN_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    allocation: Allocation
    loan: Loan
    closed: bool
    replayed: bool
    recovery: bool
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., allocation: _Optional[_Union[Allocation, _Mapping]] = ..., loan: _Optional[_Union[Loan, _Mapping]] = ..., closed: _Optional[bool] = ..., replayed: _Optional[bool] = ..., recovery: _Optional[bool] = ...) -> None: ...

class ReverseRepaymentRequest(_message.Message):
    __slots__ = ("payment_id", "reason", "loan_id", "on_behalf_of")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    reason: str
    loan_id: str
    on_behalf_of: str
    def __init__(self, payment_id: _Optional[str] = ..., reason: _Optional[str] = ..., loan_id: _Optional[str] = ..., on_behalf_of: _Optional[str] = ...) -> None: ...

class ReverseRepaymentResponse(_message.Message):
    __slots__ = ("reversal", "loan", "replayed")
    REVERSAL_FIELD_NUMBER: _ClassVar[int]
    LOAN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    reversal: Transaction
    loan: Loan
    replayed: bool
    def __init__(self, reversal: _Optional[_Union[Transaction, _Mapping]] = ..., loan: _Optional[_Union[Loan, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class RunEndOfDayRequest(_message.Message):
    __slots__ = ("business_date", "catch_up")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    catch_up: bool
    def __init__(self, business_date: _Optional[str] = ..., catch_up: _Optional[bool] = ...) -> None: ...

class RunEndOfDayResponse(_message.Message):
    __slots__ = ("business_date", "loans_processed", "installments_marked_overdue", "penalties_charged", "penalty_totals", "already_run", "run", "last_closed_date")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    LOANS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_MARKED_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_CHARGED_FIELD_NUMBER: _ClassVar[int]
    PENALTY_TOTALS_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RUN_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    LAST_CLOSED_DATE_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    loans_processed: int
    installments_marked_overdue: int
    penalties_charged: int
    penalty_totals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    already_run: bool
    run: EndOfDayRun
    last_closed_date: str
    def __init__(self, business_date: _Optional[str] = ..., loans_processed: _Optional[int] = ..., installments_marked_overdue: _Optional[int] = ..., penalties_charged: _Optional[int] = ..., penalty_totals: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., already_run: _Optional[bool] = ..., run: _Optional[_Union[EndOfDayRun, _Mapping]] = ..., last_closed_date: _Optional[str] = ...) -> None: ...

class EndOfDayRun(_message.Message):
    __slots__ = ("target_date", "dates", "catch_up", "current_date", "loans_total", "loans_done", "started_at", "requested_by", "last_error", "failed_at")
    TARGET_DATE_FIELD_NUMBER: _ClassVar[int]
    DATES_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    CURRENT_DATE_FIELD_NUMBER: _ClassVar[int]
    LOANS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOANS_DONE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    target_date: str
    dates: _containers.RepeatedScalarFieldContainer[str]
    catch_up: bool
    current_date: str
    loans_total: int
    loans_done: int
    started_at: _timestamp_pb2.Timestamp
    requested_by: str
    last_error: EndOfDayError
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, target_date: _Optional[str] = ..., dates: _Optional[_Iterable[str]] = ..., catch_up: _Optional[bool] = ..., current_date: _Optional[str] = ..., loans_total: _Optional[int] = ..., loans_done: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_by: _Optional[str] = ..., last_error: _Optional[_Union[EndOfDayError, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EndOfDayError(_message.Message):
    __slots__ = ("message", "at", "attempts")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    message: str
    at: _timestamp_pb2.Timestamp
    attempts: int
    def __init__(self, message: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ...) -> None: ...

class EndOfDayDate(_message.Message):
    __slots__ = ("business_date", "loans_processed", "snapshot_rows", "penalties_charged", "installments_marked_overdue", "penalty_totals", "closed_at")
    BUSINESS_DATE_FIELD_NUMBER: _ClassVar[int]
    LOANS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ROWS_FIELD_NUMBER: _ClassVar[int]
    PENALTIES_CHARGED_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENTS_MARKED_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    PENALTY_TOTALS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    business_date: str
    loans_processed: int
    snapshot_rows: int
    penalties_charged: int
    installments_marked_overdue: int
    penalty_totals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    closed_at: _timestamp_pb2.Timestamp
    def __init__(self, business_date: _Optional[str] = ..., loans_processed: _Optional[int] = ..., snapshot_rows: _Optional[int] = ..., penalties_charged: _Optional[int] = ..., installments_marked_overdue: _Optional[int] = ..., penalty_totals: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetEndOfDayStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEndOfDayStatusResponse(_message.Message):
    __slots__ = ("last_closed_date", "run", "last_closed", "failed_run")
    LAST_CLOSED_DATE_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    LAST_CLOSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_RUN_FIELD_NUMBER: _ClassVar[int]
    last_closed_date: str
    run: EndOfDayRun
    last_closed: EndOfDayDate
    failed_run: EndOfDayRun
    def __init__(self, last_closed_date: _Optional[str] = ..., run: _Optional[_Union[EndOfDayRun, _Mapping]] = ..., last_closed: _Optional[_Union[EndOfDayDate, _Mapping]] = ..., failed_run: _Optional[_Union[EndOfDayRun, _Mapping]] = ...) -> None: ...

class DueLoan(_message.Message):
    __slots__ = ("loan_id", "loan_number", "borrower_id", "borrower_name", "agent_id", "oldest_due_date", "installment_numbers", "amount_due", "arrears_amount", "total_due", "days_past_due")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OLDEST_DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    INSTALLMENT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    ARREARS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DUE_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    oldest_due_date: str
    installment_numbers: _containers.RepeatedScalarFieldContainer[int]
    amount_due: _common_pb2.Money
    arrears_amount: _common_pb2.Money
    total_due: _common_pb2.Money
    days_past_due: int
    def __init__(self, loan_id: _Optional[str] = ..., loan_number: _Optional[str] = ..., borrower_id: _Optional[str] = ..., borrower_name: _Optional[str] = ..., agent_id: _Optional[str] = ..., oldest_due_date: _Optional[str] = ..., installment_numbers: _Optional[_Iterable[int]] = ..., amount_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., arrears_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., days_past_due: _Optional[int] = ...) -> None: ...

class GetLoansDueRequest(_message.Message):
    __slots__ = ("agent_id", "date", "page")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    date: str
    page: _common_pb2.PageRequest
    def __init__(self, agent_id: _Optional[str] = ..., date: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetLoansDueResponse(_message.Message):
    __slots__ = ("loans", "page")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    loans: _containers.RepeatedCompositeFieldContainer[DueLoan]
    page: _common_pb2.PageInfo
    def __init__(self, loans: _Optional[_Iterable[_Union[DueLoan, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...
