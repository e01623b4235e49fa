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

class Gender(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENDER_UNSPECIFIED: _ClassVar[Gender]
    FEMALE: _ClassVar[Gender]
    MALE: _ClassVar[Gender]
    OTHER: _ClassVar[Gender]

class MaritalStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARITAL_STATUS_UNSPECIFIED: _ClassVar[MaritalStatus]
    SINGLE: _ClassVar[MaritalStatus]
    MARRIED: _ClassVar[MaritalStatus]
    DIVORCED: _ClassVar[MaritalStatus]
    WIDOWED: _ClassVar[MaritalStatus]
    SEPARATED: _ClassVar[MaritalStatus]

class EmploymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMPLOYMENT_STATUS_UNSPECIFIED: _ClassVar[EmploymentStatus]
    EMPLOYED: _ClassVar[EmploymentStatus]
    SELF_EMPLOYED: _ClassVar[EmploymentStatus]
    UNEMPLOYED: _ClassVar[EmploymentStatus]
    RETIRED: _ClassVar[EmploymentStatus]
    STUDENT: _ClassVar[EmploymentStatus]

class KycStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KYC_STATUS_UNSPECIFIED: _ClassVar[KycStatus]
    PENDING: _ClassVar[KycStatus]
    VERIFIED: _ClassVar[KycStatus]
    REJECTED: _ClassVar[KycStatus]

class RiskProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_PROFILE_UNSPECIFIED: _ClassVar[RiskProfile]
    LOW: _ClassVar[RiskProfile]
    MEDIUM: _ClassVar[RiskProfile]
    HIGH: _ClassVar[RiskProfile]

class AccountStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATUS_UNSPECIFIED: _ClassVar[AccountStatus]
    ACTIVE: _ClassVar[AccountStatus]
    INACTIVE: _ClassVar[AccountStatus]
    BLACKLISTED: _ClassVar[AccountStatus]
GENDER_UNSPECIFIED: Gender
FEMALE: Gender
MALE: Gender
OTHER: Gender
MARITAL_STATUS_UNSPECIFIED: MaritalStatus
SINGLE: MaritalStatus
MARRIED: MaritalStatus
DIVORCED: MaritalStatus
WIDOWED: MaritalStatus
SEPARATED: MaritalStatus
EMPLOYMENT_STATUS_UNSPECIFIED: EmploymentStatus
EMPLOYED: EmploymentStatus
SELF_EMPLOYED: EmploymentStatus
UNEMPLOYED: EmploymentStatus
RETIRED: EmploymentStatus
STUDENT: EmploymentStatus
KYC_STATUS_UNSPECIFIED: KycStatus
PENDING: KycStatus
VERIFIED: KycStatus
REJECTED: KycStatus
RISK_PROFILE_UNSPECIFIED: RiskProfile
LOW: RiskProfile
MEDIUM: RiskProfile
HIGH: RiskProfile
ACCOUNT_STATUS_UNSPECIFIED: AccountStatus
ACTIVE: AccountStatus
INACTIVE: AccountStatus
BLACKLISTED: AccountStatus

class Staff(_message.Message):
    __slots__ = ("id", "role", "full_name", "email", "phone", "branch_id", "active", "deactivation_reason", "audit", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATION_REASON_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    role: _common_pb2.Role
    full_name: str
    email: str
    phone: str
    branch_id: str
    active: bool
    deactivation_reason: str
    audit: _common_pb2.Audit
    version: int
    def __init__(self, id: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., full_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., branch_id: _Optional[str] = ..., active: _Optional[bool] = ..., deactivation_reason: _Optional[str] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateStaffRequest(_message.Message):
    __slots__ = ("role", "full_name", "email", "phone", "branch_id", "initial_password")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    role: _common_pb2.Role
    full_name: str
    email: str
    phone: str
    branch_id: str
    initial_password: str
    def __init__(self, role: _Optional[_Union[_common_pb2.Role, str]] = ..., full_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., branch_id: _Optional[str] = ..., initial_password: _Optional[str] = ...) -> None: ...

class CreateStaffResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class GetStaffRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetStaffResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class ListStaffRequest(_message.Message):
    __slots__ = ("role", "branch_id", "active", "page")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    role: _common_pb2.Role
    branch_id: str
    active: bool
    page: _common_pb2.PageRequest
    def __init__(self, role: _Optional[_Union[_common_pb2.Role, str]] = ..., branch_id: _Optional[str] = ..., active: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListStaffResponse(_message.Message):
    __slots__ = ("staff", "page")
    STAFF_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    staff: _containers.RepeatedCompositeFieldContainer[Staff]
    page: _common_pb2.PageInfo
    def __init__(self, staff: _Optional[_Iterable[_Union[Staff, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateStaffRequest(_message.Message):
    __slots__ = ("id", "staff", "update_mask", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    staff: Staff
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., staff: _Optional[_Union[Staff, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateStaffResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class DeactivateStaffRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeactivateStaffResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class ReactivateStaffRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ReactivateStaffResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class ResetStaffPasswordRequest(_message.Message):
    __slots__ = ("id", "temporary_password")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    id: str
    temporary_password: str
    def __init__(self, id: _Optional[str] = ..., temporary_password: _Optional[str] = ...) -> None: ...

class ResetStaffPasswordResponse(_message.Message):
    __slots__ = ("staff",)
    STAFF_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class GetMeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMeResponse(_message.Message):
    __slots__ = ("staff", "must_change_password")
    STAFF_FIELD_NUMBER: _ClassVar[int]
    MUST_CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    staff: Staff
    must_change_password: bool
    def __init__(self, staff: _Optional[_Union[Staff, _Mapping]] = ..., must_change_password: _Optional[bool] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("line1", "line2", "city", "region", "postal_code", "country")
    LINE1_FIELD_NUMBER: _ClassVar[int]
    LINE2_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    def __init__(self, line1: _Optional[str] = ..., line2: _Optional[str] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class IdentityDocument(_message.Message):
    __slots__ = ("type", "number", "issuer", "issue_date", "expiry_date")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[IdentityDocument.Type]
        NATIONAL_ID: _ClassVar[IdentityDocument.Type]
        PASSPORT: _ClassVar[IdentityDocument.Type]
        DRIVERS_LICENSE: _ClassVar[IdentityDocument.Type]
        VOTER_ID: _ClassVar[IdentityDocument.Type]
        OTHER: _ClassVar[IdentityDocument.Type]
    TYPE_UNSPECIFIED: IdentityDocument.Type
    NATIONAL_ID: IdentityDocument.Type
    PASSPORT: IdentityDocument.Type
    DRIVERS_LICENSE: IdentityDocument.Type
    VOTER_ID: IdentityDocument.Type
    OTHER: IdentityDocument.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    type: IdentityDocument.Type
    number: str
    issuer: str
    issue_date: str
    expiry_date: str
    def __init__(self, type: _Optional[_Union[IdentityDocument.Type, str]] = ..., number: _Optional[str] = ..., issuer: _Optional[str] = ..., issue_date: _Optional[str] = ..., expiry_date: _Optional[str] = ...) -> None: ...

class Employment(_message.Message):
    __slots__ = ("status", "employer_or_business", "occupation", "monthly_income")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_OR_BUSINESS_FIELD_NUMBER: _ClassVar[int]
    OCCUPATION_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_INCOME_FIELD_NUMBER: _ClassVar[int]
    status: EmploymentStatus
    employer_or_business: str
    occupation: str
    monthly_income: _common_pb2.Money
    def __init__(self, status: _Optional[_Union[EmploymentStatus, str]] = ..., employer_or_business: _Optional[str] = ..., occupation: _Optional[str] = ..., monthly_income: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class EmergencyContact(_message.Message):
    __slots__ = ("name", "relationship", "phone")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    relationship: str
    phone: str
    def __init__(self, name: _Optional[str] = ..., relationship: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Borrower(_message.Message):
    __slots__ = ("id", "first_name", "middle_name", "last_name", "date_of_birth", "gender", "nationality", "marital_status", "phone", "alternate_phone", "email", "current_address", "permanent_address", "identity_documents", "employment", "emergency_contact", "kyc_status", "kyc_note", "risk_profile", "account_status", "assigned_agent_id", "branch_id", "notes", "deactivation_reason", "audit", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    MIDDLE_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    MARITAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATE_PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    EMPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_CONTACT_FIELD_NUMBER: _ClassVar[int]
    KYC_STATUS_FIELD_NUMBER: _ClassVar[int]
    KYC_NOTE_FIELD_NUMBER: _ClassVar[int]
    RISK_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATION_REASON_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    first_name: str
    middle_name: str
    last_name: str
    date_of_birth: str
    gender: Gender
    nationality: str
    marital_status: MaritalStatus
    phone: str
    alternate_phone: str
    email: str
    current_address: Address
    permanent_address: Address
    identity_documents: _containers.RepeatedCompositeFieldContainer[IdentityDocument]
    employment: Employment
    emergency_contact: EmergencyContact
    kyc_status: KycStatus
    kyc_note: str
    risk_profile: RiskProfile
    account_status: AccountStatus
    assigned_agent_id: str
    branch_id: str
    notes: str
    deactivation_reason: str
    audit: _common_pb2.Audit
    version: int
    def __init__(self, id: _Optional[str] = ..., first_name: _Optional[str] = ..., middle_name: _Optional[str] = ..., last_name: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., gender: _Optional[_Union[Gender, str]] = ..., nationality: _Optional[str] = ..., marital_status: _Optional[_Union[MaritalStatus, str]] = ..., phone: _Optional[str] = ..., alternate_phone: _Optional[str] = ..., email: _Optional[str] = ..., current_address: _Optional[_Union[Address, _Mapping]] = ..., permanent_address: _Optional[_Union[Address, _Mapping]] = ..., identity_documents: _Optional[_Iterable[_Union[IdentityDocument, _Mapping]]] = ..., employment: _Optional[_Union[Employment, _Mapping]] = ..., emergency_contact: _Optional[_Union[EmergencyContact, _Mapping]] = ..., kyc_status: _Optional[_Union[KycStatus, str]] = ..., kyc_note: _Optional[str] = ..., risk_profile: _Optional[_Union[RiskProfile, str]] = ..., account_status: _Optional[_Union[AccountStatus, str]] = ..., assigned_agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., notes: _Optional[str] = ..., deactivation_reason: _Optional[str] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateBorrowerRequest(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class CreateBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class GetBorrowerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class BatchGetBorrowersRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetBorrowersResponse(_message.Message):
    __slots__ = ("borrowers",)
    BORROWERS_FIELD_NUMBER: _ClassVar[int]
    borrowers: _containers.RepeatedCompositeFieldContainer[Borrower]
    def __init__(self, borrowers: _Optional[_Iterable[_Union[Borrower, _Mapping]]] = ...) -> None: ...

class UpdateBorrowerRequest(_message.Message):
    __slots__ = ("id", "borrower", "update_mask", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    borrower: Borrower
    update_mask: _field_mask_pb2.FieldMask
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., borrower: _Optional[_Union[Borrower, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class ListBorrowersRequest(_message.Message):
    __slots__ = ("agent_id", "kyc_status", "account_status", "created", "branch_id", "page")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    KYC_STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    kyc_status: KycStatus
    account_status: AccountStatus
    created: _common_pb2.DateRange
    branch_id: str
    page: _common_pb2.PageRequest
    def __init__(self, agent_id: _Optional[str] = ..., kyc_status: _Optional[_Union[KycStatus, str]] = ..., account_status: _Optional[_Union[AccountStatus, str]] = ..., created: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., branch_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListBorrowersResponse(_message.Message):
    __slots__ = ("borrowers", "page")
    BORROWERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    borrowers: _containers.RepeatedCompositeFieldContainer[Borrower]
    page: _common_pb2.PageInfo
    def __init__(self, borrowers: _Optional[_Iterable[_Union[Borrower, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class SearchBorrowersRequest(_message.Message):
    __slots__ = ("q", "page", "account_status")
    Q_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_STATUS_FIELD_NUMBER: _ClassVar[int]
    q: str
    page: _common_pb2.PageRequest
    account_status: AccountStatus
    def __init__(self, q: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., account_status: _Optional[_Union[AccountStatus, str]] = ...) -> None: ...

class SearchBorrowersResponse(_message.Message):
    __slots__ = ("borrowers", "page")
    BORROWERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    borrowers: _containers.RepeatedCompositeFieldContainer[Borrower]
    page: _common_pb2.PageInfo
    def __init__(self, borrowers: _Optional[_Iterable[_Union[Borrower, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DeactivateBorrowerRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeactivateBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class ReactivateBorrowerRequest(_message.Message):
    __slots__ = ("id", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    note: str
    def __init__(self, id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ReactivateBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class BlacklistBorrowerRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BlacklistBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class ReassignBorrowerRequest(_message.Message):
    __slots__ = ("id", "new_agent_id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    NEW_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    new_agent_id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., new_agent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReassignBorrowerResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class SetKycStatusRequest(_message.Message):
    __slots__ = ("id", "status", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: KycStatus
    note: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[KycStatus, str]] = ..., note: _Optional[str] = ...) -> None: ...

class SetKycStatusResponse(_message.Message):
    __slots__ = ("borrower",)
    BORROWER_FIELD_NUMBER: _ClassVar[int]
    borrower: Borrower
    def __init__(self, borrower: _Optional[_Union[Borrower, _Mapping]] = ...) -> None: ...

class FieldChange(_message.Message):
    __slots__ = ("field", "old_value", "new_value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    old_value: str
    new_value: str
    def __init__(self, field: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ...) -> None: ...

class BorrowerHistoryEntry(_message.Message):
    __slots__ = ("id", "actor", "at", "action", "changes", "reason", "version")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[BorrowerHistoryEntry.Action]
        CREATED: _ClassVar[BorrowerHistoryEntry.Action]
        UPDATED: _ClassVar[BorrowerHistoryEntry.Action]
        DEACTIVATED: _ClassVar[BorrowerHistoryEntry.Action]
        REACTIVATED: _ClassVar[BorrowerHistoryEntry.Action]
        BLACKLISTED: _ClassVar[BorrowerHistoryEntry.Action]
        REASSIGNED: _ClassVar[BorrowerHistoryEntry.Action]
        KYC_STATUS_CHANGED: _ClassVar[BorrowerHistoryEntry.Action]
    ACTION_UNSPECIFIED: BorrowerHistoryEntry.Action
    CREATED: BorrowerHistoryEntry.Action
    UPDATED: BorrowerHistoryEntry.Action
    DEACTIVATED: BorrowerHistoryEntry.Action
    REACTIVATED: BorrowerHistoryEntry.Action
    BLACKLISTED: BorrowerHistoryEntry.Action
    REASSIGNED: BorrowerHistoryEntry.Action
    KYC_STATUS_CHANGED: BorrowerHistoryEntry.Action
    ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    actor: str
    at: _timestamp_pb2.Timestamp
    action: BorrowerHistoryEntry.Action
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    reason: str
    version: int
    def __init__(self, id: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[_Union[BorrowerHistoryEntry.Action, str]] = ..., changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., reason: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetBorrowerHistoryRequest(_message.Message):
    __slots__ = ("id", "page")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    page: _common_pb2.PageRequest
    def __init__(self, id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetBorrowerHistoryResponse(_message.Message):
    __slots__ = ("entries", "page")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[BorrowerHistoryEntry]
    page: _common_pb2.PageInfo
    def __init__(self, entries: _Optional[_Iterable[_Union[BorrowerHistoryEntry, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...
