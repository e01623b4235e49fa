import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from microfinance.common.v1 import common_pb2 as _common_pb2
from microfinance.loan.v1 import loan_pb2 as _loan_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PENDING: _ClassVar[PaymentStatus]
    POSTED: _ClassVar[PaymentStatus]
    REJECTED: _ClassVar[PaymentStatus]
    REVERSED: _ClassVar[PaymentStatus]

class ReceiptFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECEIPT_FORMAT_UNSPECIFIED: _ClassVar[ReceiptFormat]
    HTML: _ClassVar[ReceiptFormat]
    PDF: _ClassVar[ReceiptFormat]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PENDING: PaymentStatus
POSTED: PaymentStatus
REJECTED: PaymentStatus
REVERSED: PaymentStatus
RECEIPT_FORMAT_UNSPECIFIED: ReceiptFormat
HTML: ReceiptFormat
PDF: ReceiptFormat

class Reversal(_message.Message):
    __slots__ = ("reason", "reversed_by", "reversed_at", "loan_transaction_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVERSED_BY_FIELD_NUMBER: _ClassVar[int]
    REVERSED_AT_FIELD_NUMBER: _ClassVar[int]
    LOAN_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    reversed_by: str
    reversed_at: _timestamp_pb2.Timestamp
    loan_transaction_id: str
    def __init__(self, reason: _Optional[str] = ..., reversed_by: _Optional[str] = ..., reversed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., loan_transaction_id: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("id", "receipt_number", "idempotency_key", "loan_id", "loan_number", "borrower_id", "borrower_name", "agent_id", "branch_id", "amount", "value_date", "channel", "external_reference", "note", "status", "allocation", "loan_transaction_id", "recovery", "loan_closed", "rejection_reason", "rejection_code", "reversal", "posted_by", "posted_at", "audit", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    LOAN_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    LOAN_CLOSED_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    REJECTION_CODE_FIELD_NUMBER: _ClassVar[int]
    REVERSAL_FIELD_NUMBER: _ClassVar[int]
    POSTED_BY_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    receipt_number: str
    idempotency_key: str
    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    amount: _common_pb2.Money
    value_date: str
    channel: _common_pb2.Channel
    external_reference: str
    note: str
    status: PaymentStatus
    allocation: _loan_pb2.Allocation
    loan_transaction_id: str
    recovery: bool
    loan_closed: bool
    rejection_reason: str
    rejection_code: str
    reversal: Reversal
    posted_by: str
    posted_at: _timestamp_pb2.Timestamp
    audit: _common_pb2.Audit
    version: int
    def __init__(self, id: _Optional[str] = ..., receipt_number: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., loan_id: _Optional[str] = ..., loan_number: _Optional[str] = ..., borrower_id: _Optional[str] = ..., borrower_name: _Optional[str] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., value_date: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., external_reference: _Optional[str] = ..., note: _Optional[str] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., allocation: _Optional[_Union[_loan_pb2.Allocation, _Mapping]] = ..., loan_transaction_id: _Optional[str] = ..., recovery: _Optional[bool] = ..., loan_closed: _Optional[bool] = ..., rejection_reason: _Optional[str] = ..., rejection_code: _Optional[str] = ..., reversal: _Optional[_Union[Reversal, _Mapping]] = ..., posted_by: _Optional[str] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class PostPaymentRequest(_message.Message):
    __slots__ = ("idempotency_key", "loan_id", "amount", "value_date", "channel", "external_reference", "note")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    loan_id: str
    amount: _common_pb2.Money
    value_date: str
    channel: _common_pb2.Channel
    external_reference: str
    note: str
    def __init__(self, idempotency_key: _Optional[str] = ..., loan_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., value_date: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., external_reference: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class PostPaymentResponse(_message.Message):
    __slots__ = ("payment", "replayed")
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    replayed: bool
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class ListPaymentsRequest(_message.Message):
    __slots__ = ("loan_id", "borrower_id", "agent_id", "channel", "status", "value_date", "page")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUE_DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    borrower_id: str
    agent_id: str
    channel: _common_pb2.Channel
    status: PaymentStatus
    value_date: _common_pb2.DateRange
    page: _common_pb2.PageRequest
    def __init__(self, loan_id: _Optional[str] = ..., borrower_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., value_date: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListPaymentsResponse(_message.Message):
    __slots__ = ("payments", "page")
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    page: _common_pb2.PageInfo
    def __init__(self, payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ReversePaymentRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReversePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class GetReceiptRequest(_message.Message):
    __slots__ = ("payment_id", "format")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    format: ReceiptFormat
    def __init__(self, payment_id: _Optional[str] = ..., format: _Optional[_Union[ReceiptFormat, str]] = ...) -> None: ...

class GetReceiptResponse(_message.Message):
    __slots__ = ("content", "content_type", "receipt_number", "filename")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    content_type: str
    receipt_number: str
    filename: str
    def __init__(self, content: _Optional[bytes] = ..., content_type: _Optional[str] = ..., receipt_number: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class CollectionSheetRow(_message.Message):
    __slots__ = ("borrower_id", "borrower_name", "phone", "loan_id", "loan_number", "oldest_due_date", "amount_due", "arrears_amount", "total_due", "days_past_due", "collected_amount")
    BORROWER_ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OLDEST_DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    ARREARS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DUE_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    borrower_id: str
    borrower_name: str
    phone: str
    loan_id: str
    loan_number: str
    oldest_due_date: str
    amount_due: _common_pb2.Money
    arrears_amount: _common_pb2.Money
    total_due: _common_pb2.Money
    days_past_due: int
    collected_amount: _common_pb2.Money
    def __init__(self, borrower_id: _Optional[str] = ..., borrower_name: _Optional[str] = ..., phone: _Optional[str] = ..., loan_id: _Optional[str] = ..., loan_number: _Optional[str] = ..., oldest_due_date: _Optional[str] = ..., amount_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., arrears_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., days_past_due: _Optional[int] = ..., collected_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class CollectionSheetTotals(_message.Message):
    __slots__ = ("currency", "expected", "collected", "collection_rate", "loan_count")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_RATE_FIELD_NUMBER: _ClassVar[int]
    LOAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    expected: _common_pb2.Money
    collected: _common_pb2.Money
    collection_rate: str
    loan_count: int
    def __init__(self, currency: _Optional[str] = ..., expected: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collected: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., collection_rate: _Optional[str] = ..., loan_count: _Optional[int] = ...) -> None: ...

class GetCollectionSheetRequest(_message.Message):
    __slots__ = ("agent_id", "date")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    date: str
    def __init__(self, agent_id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class GetCollectionSheetResponse(_message.Message):
    __slots__ = ("agent_id", "date", "rows", "totals")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    date: str
    rows: _containers.RepeatedCompositeFieldContainer[CollectionSheetRow]
    totals: _containers.RepeatedCompositeFieldContainer[CollectionSheetTotals]
    def __init__(self, agent_id: _Optional[str] = ..., date: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[CollectionSheetRow, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[CollectionSheetTotals, _Mapping]]] = ...) -> None: ...

class ChannelTotal(_message.Message):
    __slots__ = ("channel", "posted_amount", "posted_count", "reversed_amount", "reversed_count", "net_amount")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    POSTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    POSTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REVERSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REVERSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    posted_amount: _common_pb2.Money
    posted_count: int
    reversed_amount: _common_pb2.Money
    reversed_count: int
    net_amount: _common_pb2.Money
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., posted_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., posted_count: _Optional[int] = ..., reversed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reversed_count: _Optional[int] = ..., net_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class GetCashSummaryRequest(_message.Message):
    __slots__ = ("agent_id", "date")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    date: str
    def __init__(self, agent_id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class GetCashSummaryResponse(_message.Message):
    __slots__ = ("agent_id", "date", "channels", "net_totals", "rejected_count", "pending_count")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    NET_TOTALS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    date: str
    channels: _containers.RepeatedCompositeFieldContainer[ChannelTotal]
    net_totals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    rejected_count: int
    pending_count: int
    def __init__(self, agent_id: _Optional[str] = ..., date: _Optional[str] = ..., channels: _Optional[_Iterable[_Union[ChannelTotal, _Mapping]]] = ..., net_totals: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., rejected_count: _Optional[int] = ..., pending_count: _Optional[int] = ...) -> None: ...
