"""JSON bodies of the borrower routes (same conventions as schemas.py).

Dates are ``YYYY-MM-DD`` strings, enums travel by name, money is
``{"amount_minor", "currency"}``. Phones may be written in any common way; the
service stores E.164. Field errors name the path inside the borrower, e.g.
``identity_documents[0].expiry_date``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, StrictInt

from api_gateway.schemas.common import (
    INT64_MAX,
    Audit,
    Money,
    MoneyIn,
    PageInfo,
    RequestBody,
    ResponseBody,
)

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class GenderName(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"


class MaritalStatusName(StrEnum):
    SINGLE = "SINGLE"
    MARRIED = "MARRIED"
    DIVORCED = "DIVORCED"
    WIDOWED = "WIDOWED"
    SEPARATED = "SEPARATED"


class EmploymentStatusName(StrEnum):
    EMPLOYED = "EMPLOYED"
    SELF_EMPLOYED = "SELF_EMPLOYED"
    UNEMPLOYED = "UNEMPLOYED"
    RETIRED = "RETIRED"
    STUDENT = "STUDENT"


class KycStatusName(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class RiskProfileName(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class AccountStatusName(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    BLACKLISTED = "BLACKLISTED"


class IdTypeName(StrEnum):
    NATIONAL_ID = "NATIONAL_ID"
    PASSPORT = "PASSPORT"
    DRIVERS_LICENSE = "DRIVERS_LICENSE"
    VOTER_ID = "VOTER_ID"
    OTHER = "OTHER"


class HistoryActionName(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DEACTIVATED = "DEACTIVATED"
    REACTIVATED = "REACTIVATED"
    BLACKLISTED = "BLACKLISTED"
    REASSIGNED = "REASSIGNED"
    KYC_STATUS_CHANGED = "KYC_STATUS_CHANGED"


# ------------------------------------------------------------------ requests


class AddressIn(RequestBody):
    line1: str = Field(default="", max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="", max_length=2, description="ISO 3166-1 alpha-2, e.g. KE.")


class IdentityDocumentIn(RequestBody):
    type: IdTypeName
    number: str = Field(
        min_length=1, max_length=64, description="Unique per type across all borrowers."
    )
    issuer: str = Field(default="", max_length=200)
    issue_date: str = Field(default="", pattern=f"({DATE_PATTERN})|^$")
    expiry_date: str = Field(
        default="", pattern=f"({DATE_PATTERN})|^$", description="After issue_date when both set."
    )


class EmploymentIn(RequestBody):
    status: EmploymentStatusName | None = None
    employer_or_business: str = Field(default="", max_length=200)
    occupation: str = Field(default="", max_length=100)
    monthly_income: MoneyIn | None = None


class EmergencyContactIn(RequestBody):
    name: str = Field(default="", max_length=100)
    relationship: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=32)


BORROWER_EXAMPLE: dict[str, Any] = {
    "first_name": "Amina",
    "last_name": "Wanjiru",
    "date_of_birth": "1990-04-12",
    "gender": "FEMALE",
    "nationality": "KE",
    "marital_status": "MARRIED",
    "phone": "0712 345 678",
    "email": "amina@example.org",
    "current_address": {"line1": "12 Moi Avenue", "city": "Nairobi", "country": "KE"},
    "identity_documents": [
        {
            "type": "NATIONAL_ID",
            "number": "23456789",
            "issuer": "Republic of Kenya",
            "issue_date": "2012-05-01",
        }
    ],
    "employment": {
        "status": "SELF_EMPLOYED",
        "employer_or_business": "Vegetable stall, Gikomba market",
        "monthly_income": {"amount_minor": 4500000, "currency": "KES"},
    },
    "emergency_contact": {"name": "Grace Wanjiru", "relationship": "sister",
                          "phone": "+254733000111"},
}


class BorrowerCreate(RequestBody):
    """A new borrower; KYC starts PENDING and the account ACTIVE."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [BORROWER_EXAMPLE]})

    first_name: str = Field(min_length=1, max_length=100)
    middle_name: str = Field(default="", max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: str = Field(
        pattern=DATE_PATTERN, description="YYYY-MM-DD; the borrower is at least 18."
    )
    gender: GenderName | None = None
    nationality: str = Field(default="", max_length=2, description="ISO 3166-1 alpha-2.")
    marital_status: MaritalStatusName | None = None
    phone: str = Field(
        min_length=1, max_length=32, description="Any common format; stored as E.164."
    )
    alternate_phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=320)
    current_address: AddressIn = Field(default_factory=AddressIn)
    permanent_address: AddressIn = Field(default_factory=AddressIn)
    identity_documents: list[IdentityDocumentIn] = Field(min_length=1, max_length=5)
    employment: EmploymentIn = Field(default_factory=EmploymentIn)
    emergency_contact: EmergencyContactIn = Field(default_factory=EmergencyContactIn)
    notes: str = Field(default="", max_length=2000)
    risk_profile: RiskProfileName | None = Field(default=None, description="Admins only.")
    branch_id: str = Field(default="", max_length=64, description="Defaults to the caller's.")
    assigned_agent_id: str = Field(
        default="",
        max_length=64,
        description="Admins must set it (an active agent); agents get their own borrowers.",
    )


class AddressPatch(RequestBody):
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=2)


class EmploymentPatch(RequestBody):
    status: EmploymentStatusName | None = None
    employer_or_business: str | None = Field(default=None, max_length=200)
    occupation: str | None = Field(default=None, max_length=100)
    monthly_income: MoneyIn | None = None


class EmergencyContactPatch(RequestBody):
    name: str | None = Field(default=None, max_length=100)
    relationship: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=32)


NESTED_PATCHES = ("current_address", "permanent_address", "employment", "emergency_contact")


class BorrowerPatch(RequestBody):
    """JSON merge: the fields present change, the rest stay. ``null`` clears an optional
    field; inside an address, employment or emergency contact only the keys sent change.
    ``identity_documents`` replaces the whole list. KYC and account status, the agent and
    the version change through their own routes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone": "+254 722 000 111", "current_address": {"city": "Mombasa"}},
                {"risk_profile": "HIGH", "expected_version": 3},
            ]
        },
    )

    first_name: str | None = Field(default=None, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    date_of_birth: str | None = Field(default=None, pattern=DATE_PATTERN)
    gender: GenderName | None = None
    nationality: str | None = Field(default=None, max_length=2)
    marital_status: MaritalStatusName | None = None
    phone: str | None = Field(default=None, max_length=32)
    alternate_phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    current_address: AddressPatch | None = None
    permanent_address: AddressPatch | None = None
    identity_documents: list[IdentityDocumentIn] | None = Field(default=None, max_length=5)
    employment: EmploymentPatch | None = None
    emergency_contact: EmergencyContactPatch | None = None
    notes: str | None = Field(default=None, max_length=2000)
    risk_profile: RiskProfileName | None = Field(default=None, description="Admins only.")
    branch_id: str | None = Field(default=None, max_length=64)
    expected_version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=INT64_MAX,
        description="Alternative to If-Match; 409 if the record moved on.",
    )

    def mask(self) -> list[str]:
        """The update_mask paths this body names."""
        paths: list[str] = []
        for name in type(self).model_fields:
            if name == "expected_version" or name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if name in NESTED_PATCHES and value is not None:
                paths.extend(f"{name}.{sub}" for sub in sorted(value.model_fields_set))
            else:
                paths.append(name)
        return paths


class ReasonIn(RequestBody):
    reason: str = Field(min_length=1, max_length=500, examples=["moved out of the area"])


class NoteIn(RequestBody):
    note: str = Field(default="", max_length=500)


class ReassignIn(RequestBody):
    agent_id: str = Field(min_length=1, max_length=64, description="An active AGENT's staff id.")
    reason: str = Field(default="", max_length=500, examples=["territory change"])


class KycIn(RequestBody):
    status: KycStatusName = Field(
        description="Admins set any status; an agent may only send back to PENDING."
    )
    note: str = Field(default="", max_length=500, description="Required for REJECTED.")


# ------------------------------------------------------------------ responses


class AddressOut(ResponseBody):
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class IdentityDocumentOut(ResponseBody):
    type: IdTypeName | None
    number: str
    issuer: str
    issue_date: str
    expiry_date: str


class EmploymentOut(ResponseBody):
    status: EmploymentStatusName | None
    employer_or_business: str
    occupation: str
    monthly_income: Money | None


class EmergencyContactOut(ResponseBody):
    name: str
    relationship: str
    phone: str


class BorrowerOut(ResponseBody):
    id: str
    first_name: str
    middle_name: str
    last_name: str
    date_of_birth: str
    gender: GenderName | None
    nationality: str
    marital_status: MaritalStatusName | None
    phone: str = Field(description="E.164.")
    alternate_phone: str
    email: str
    current_address: AddressOut
    permanent_address: AddressOut
    identity_documents: list[IdentityDocumentOut]
    employment: EmploymentOut
    emergency_contact: EmergencyContactOut
    kyc_status: KycStatusName | None
    kyc_note: str
    risk_profile: RiskProfileName | None
    account_status: AccountStatusName | None
    assigned_agent_id: str
    branch_id: str
    notes: str
    deactivation_reason: str
    audit: Audit
    version: int = Field(description="Bumps on every write; send it back as If-Match.")


class BorrowerList(ResponseBody):
    borrowers: list[BorrowerOut] = Field(description="For a search (q): best match first.")
    page: PageInfo


class FieldChangeOut(ResponseBody):
    field: str = Field(examples=["current_address.city"])
    old_value: str
    new_value: str


class HistoryEntryOut(ResponseBody):
    id: str
    actor: str = Field(description="Staff id of whoever made the change.")
    at: datetime | None
    action: HistoryActionName | None
    changes: list[FieldChangeOut]
    reason: str
    version: int = Field(description="The borrower's version after this change.")


class HistoryList(ResponseBody):
    entries: list[HistoryEntryOut] = Field(description="Newest first.")
    page: PageInfo
