"""Borrowers (customers with their KYC record): values, validation and rules. No I/O.

Wire input arrives as ``BorrowerInput`` (plain strings, enum names, dates as
``YYYY-MM-DD``) and becomes a validated ``Profile`` through ``validate_input``,
which reports every bad field at once, each named by its path in the
``Borrower`` message (``identity_documents[0].expiry_date``). The business date
is passed in, so the age rule is testable and the end-of-day clock can drive it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

import phonenumbers

from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from shared.identity import Caller
from shared.money import Money, amount_violation, currency_violation
from shared.records import Audited
from shared.text import single_line
from shared.validation import normalize_email, normalize_phone, parse_date

MIN_AGE = 18
MAX_AGE = 120
MAX_NAME = 100
MAX_TEXT = 200
MAX_NOTES = 2000
MAX_IDENTITY_DOCUMENTS = 5
MAX_ID_NUMBER = 64


class Gender(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"


class MaritalStatus(StrEnum):
    SINGLE = "SINGLE"
    MARRIED = "MARRIED"
    DIVORCED = "DIVORCED"
    WIDOWED = "WIDOWED"
    SEPARATED = "SEPARATED"


class EmploymentStatus(StrEnum):
    EMPLOYED = "EMPLOYED"
    SELF_EMPLOYED = "SELF_EMPLOYED"
    UNEMPLOYED = "UNEMPLOYED"
    RETIRED = "RETIRED"
    STUDENT = "STUDENT"


class KycStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class RiskProfile(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    BLACKLISTED = "BLACKLISTED"


class IdType(StrEnum):
    NATIONAL_ID = "NATIONAL_ID"
    PASSPORT = "PASSPORT"
    DRIVERS_LICENSE = "DRIVERS_LICENSE"
    VOTER_ID = "VOTER_ID"
    OTHER = "OTHER"


class HistoryAction(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DEACTIVATED = "DEACTIVATED"
    REACTIVATED = "REACTIVATED"
    BLACKLISTED = "BLACKLISTED"
    REASSIGNED = "REASSIGNED"
    KYC_STATUS_CHANGED = "KYC_STATUS_CHANGED"


# ------------------------------------------------------------------ values


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    # ISO 3166-1 alpha-2.
    country: str = ""


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    type: IdType
    number: str
    issuer: str = ""
    issue_date: date | None = None
    expiry_date: date | None = None

    @property
    def key(self) -> str:
        """What uniqueness is decided on: the type and the number without punctuation."""
        return identity_key(self.type, self.number)


@dataclass(frozen=True, slots=True)
class Employment:
    status: EmploymentStatus | None = None
    employer_or_business: str = ""
    occupation: str = ""
    monthly_income: Money | None = None


@dataclass(frozen=True, slots=True)
class EmergencyContact:
    name: str = ""
    relationship: str = ""
    # E.164.
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """What staff enter about a borrower; everything else is managed by the rules."""

    first_name: str
    last_name: str
    date_of_birth: date
    phone: str
    middle_name: str = ""
    gender: Gender | None = None
    nationality: str = ""
    marital_status: MaritalStatus | None = None
    alternate_phone: str = ""
    email: str = ""
    current_address: Address = field(default_factory=Address)
    permanent_address: Address = field(default_factory=Address)
    identity_documents: tuple[IdentityDocument, ...] = ()
    employment: Employment = field(default_factory=Employment)
    emergency_contact: EmergencyContact = field(default_factory=EmergencyContact)
    notes: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)

    @property
    def identity_keys(self) -> list[str]:
        return [d.key for d in self.identity_documents]


@dataclass(frozen=True, slots=True)
class Borrower(Audited):
    id: str
    profile: Profile
    assigned_agent_id: str
    branch_id: str = ""
    kyc_status: KycStatus = KycStatus.PENDING
    kyc_note: str = ""
    risk_profile: RiskProfile | None = None
    account_status: AccountStatus = AccountStatus.ACTIVE
    deactivation_reason: str = ""


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old_value: str
    new_value: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: str
    borrower_id: str
    actor: str
    at: datetime
    action: HistoryAction
    changes: tuple[FieldChange, ...] = ()
    reason: str = ""
    version: int = 1


# ------------------------------------------------------------------ input


@dataclass(frozen=True, slots=True)
class AddressInput:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class IdentityDocumentInput:
    type: str = ""
    number: str = ""
    issuer: str = ""
    issue_date: str = ""
    expiry_date: str = ""


@dataclass(frozen=True, slots=True)
class MoneyInput:
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class EmploymentInput:
    status: str = ""
    employer_or_business: str = ""
    occupation: str = ""
    monthly_income: MoneyInput | None = None


@dataclass(frozen=True, slots=True)
class EmergencyContactInput:
    name: str = ""
    relationship: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class BorrowerInput:
    """A borrower as the wire carries it; an empty string or None means "not given"."""

    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    date_of_birth: str = ""
    gender: str = ""
    nationality: str = ""
    marital_status: str = ""
    phone: str = ""
    alternate_phone: str = ""
    email: str = ""
    current_address: AddressInput = field(default_factory=AddressInput)
    permanent_address: AddressInput = field(default_factory=AddressInput)
    identity_documents: tuple[IdentityDocumentInput, ...] = ()
    employment: EmploymentInput = field(default_factory=EmploymentInput)
    emergency_contact: EmergencyContactInput = field(default_factory=EmergencyContactInput)
    notes: str = ""
    risk_profile: str = ""
    branch_id: str = ""
    assigned_agent_id: str = ""


# ------------------------------------------------------------------ small rules

# Space, apostrophes (ASCII and typographic), hyphen, period: "Jean-Luc", "St. John".
_NAME_PUNCTUATION = frozenset(" '\u2019-.")
_ID_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$")
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
E = TypeVar("E", bound=StrEnum)


def clean_text(value: str) -> str:
    """NFC, and runs of whitespace as one space: what we store for free text."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def check_name(value: str, field_name: str, *, required: bool) -> str:
    text = clean_text(value)
    if not text:
        if required:
            raise InvalidArgument.field(field_name, "is required")
        return ""
    if len(text) > MAX_NAME:
        raise InvalidArgument.field(field_name, f"must be at most {MAX_NAME} characters")
    letters = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
        elif ch not in _NAME_PUNCTUATION and not unicodedata.category(ch).startswith("M"):
            raise InvalidArgument.field(
                field_name, "may contain only letters, spaces, apostrophes, hyphens and periods"
            )
    if letters == 0:
        raise InvalidArgument.field(field_name, "must contain a letter")
    return text


def check_text(value: str, field_name: str, max_length: int = MAX_TEXT) -> str:
    text = clean_text(value)
    if len(text) > max_length:
        raise InvalidArgument.field(field_name, f"must be at most {max_length} characters")
    return text


def parse_enum(kind: type[E], value: str, field_name: str, *, required: bool = False) -> E | None:
    if not value:
        if required:
            raise InvalidArgument.field(field_name, "is required")
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidArgument.field(field_name, f"must be one of {allowed}") from None


def check_country(value: str, field_name: str) -> str:
    code = value.strip().upper()
    if code and code not in COUNTRIES:
        raise InvalidArgument.field(field_name, "must be an ISO 3166-1 alpha-2 country code")
    return code


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_date_of_birth(value: str, today: date, field_name: str = "date_of_birth") -> date:
    if not value.strip():
        raise InvalidArgument.field(field_name, "is required")
    born = parse_date(value, field_name)
    if born > today:
        raise InvalidArgument.field(field_name, "is in the future")
    age = age_on(born, today)
    if age < MIN_AGE:
        raise InvalidArgument.field(
            field_name, f"the borrower must be at least {MIN_AGE} years old"
        )
    if age > MAX_AGE:
        raise InvalidArgument.field(field_name, f"is more than {MAX_AGE} years ago")
    return born


def id_number_key(number: str) -> str:
    """``"a 123-456"`` and ``"A123456"`` are the same document number."""
    return "".join(ch for ch in number.upper() if ch.isalnum())


def identity_key(kind: IdType | str, number: str) -> str:
    return f"{kind}:{id_number_key(number)}"


def check_identity_document(
    doc: IdentityDocumentInput, path: str, today: date
) -> tuple[IdentityDocument | None, list[FieldViolation]]:
    bad: list[FieldViolation] = []
    kind: IdType | None = None
    number = ""
    issue: date | None = None
    expiry: date | None = None
    issuer = ""
    try:
        kind = parse_enum(IdType, doc.type, f"{path}.type", required=True)
    except InvalidArgument as err:
        bad.extend(err.violations)
    number = " ".join(doc.number.split()).upper()
    if not number:
        bad.append(FieldViolation(f"{path}.number", "is required"))
    elif len(number) > MAX_ID_NUMBER:
        bad.append(FieldViolation(f"{path}.number", f"must be at most {MAX_ID_NUMBER} characters"))
    elif not _ID_CHARS.match(number) or len(id_number_key(number)) < 2:
        bad.append(
            FieldViolation(
                f"{path}.number", "must be letters and digits (spaces, '-', '/', '.' allowed)"
            )
        )
    try:
        issuer = check_text(doc.issuer, f"{path}.issuer")
    except InvalidArgument as err:
        bad.extend(err.violations)
    if doc.issue_date.strip():
        try:
            issue = parse_date(doc.issue_date, f"{path}.issue_date")
            if issue > today:
                bad.append(FieldViolation(f"{path}.issue_date", "is in the future"))
        except InvalidArgument as err:
            bad.extend(err.violations)
    if doc.expiry_date.strip():
        try:
            expiry = parse_date(doc.expiry_date, f"{path}.expiry_date")
            if issue is not None and expiry <= issue:
                bad.append(FieldViolation(f"{path}.expiry_date", "must be after issue_date"))
        except InvalidArgument as err:
            bad.extend(err.violations)
    if bad or kind is None:
        return None, bad
    return IdentityDocument(kind, number, issuer, issue, expiry), []


def check_money(value: MoneyInput, path: str) -> Money:
    bad: list[FieldViolation] = []
    currency = value.currency.strip().upper()
    if bad_currency := currency_violation(currency, f"{path}.currency"):
        bad.append(bad_currency)
    if value.amount_minor < 0:
        bad.append(FieldViolation(f"{path}.amount_minor", "must not be negative"))
    elif too_large := amount_violation(value.amount_minor, f"{path}.amount_minor"):
        bad.append(too_large)
    if bad:
        raise InvalidArgument.fields(bad)
    return Money(int(value.amount_minor), currency)


class _Collector:
    """Runs checks and keeps every violation, so one answer names all the bad fields."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def run(self, check: Callable[[], Any], default: Any = None) -> Any:
        try:
            return check()
        except InvalidArgument as err:
            self.violations.extend(err.violations)
            return default


def _address(c: _Collector, value: AddressInput, path: str) -> Address:
    return Address(
        line1=c.run(lambda: check_text(value.line1, f"{path}.line1"), ""),
        line2=c.run(lambda: check_text(value.line2, f"{path}.line2"), ""),
        city=c.run(lambda: check_text(value.city, f"{path}.city", 100), ""),
        region=c.run(lambda: check_text(value.region, f"{path}.region", 100), ""),
        postal_code=c.run(lambda: check_text(value.postal_code, f"{path}.postal_code", 20), ""),
        country=c.run(lambda: check_country(value.country, f"{path}.country"), ""),
    )


def current_or_none(country: str) -> str | None:
    """A usable region code, or None (an invalid one is reported by its own field)."""
    code = country.strip().upper()
    return code if code in COUNTRIES else None


def _optional_phone(value: str, field_name: str, region: str | None) -> str:
    return normalize_phone(value, field_name, region) if value.strip() else ""


def _identity_documents(
    c: _Collector, given: Sequence[IdentityDocumentInput], today: date
) -> list[IdentityDocument]:
    documents: list[IdentityDocument] = []
    if len(given) > MAX_IDENTITY_DOCUMENTS:
        c.violations.append(
            FieldViolation(
                "identity_documents", f"at most {MAX_IDENTITY_DOCUMENTS} documents are allowed"
            )
        )
    seen: dict[str, int] = {}
    for i, raw in enumerate(given[:MAX_IDENTITY_DOCUMENTS]):
        doc, bad = check_identity_document(raw, f"identity_documents[{i}]", today)
        c.violations.extend(bad)
        if doc is None:
            continue
        if doc.key in seen:
            c.violations.append(
                FieldViolation(
                    f"identity_documents[{i}].number",
                    f"repeats identity_documents[{seen[doc.key]}]",
                )
            )
            continue
        seen[doc.key] = i
        documents.append(doc)
    if not given:
        c.violations.append(
            FieldViolation("identity_documents", "at least one identity document is required")
        )
    return documents


def _employment(c: _Collector, job: EmploymentInput) -> Employment:
    return Employment(
        status=c.run(lambda: parse_enum(EmploymentStatus, job.status, "employment.status")),
        employer_or_business=c.run(
            lambda: check_text(job.employer_or_business, "employment.employer_or_business"), ""
        ),
        occupation=c.run(lambda: check_text(job.occupation, "employment.occupation", 100), ""),
        monthly_income=c.run(
            lambda: check_money(job.monthly_income, "employment.monthly_income")
            if job.monthly_income is not None
            else None
        ),
    )


def _emergency_contact(
    c: _Collector, ec: EmergencyContactInput, region: str | None
) -> EmergencyContact:
    contact = EmergencyContact(
        name=c.run(lambda: check_name(ec.name, "emergency_contact.name", required=False), ""),
        relationship=c.run(
            lambda: check_text(ec.relationship, "emergency_contact.relationship", 50), ""
        ),
        phone=c.run(
            lambda: _optional_phone(ec.phone, "emergency_contact.phone", region), ""
        ),
    )
    # Giving any part of a contact makes its name and phone required.
    if (ec.name.strip() or ec.relationship.strip() or ec.phone.strip()) and not (
        ec.name.strip() and ec.phone.strip()
    ):
        missing = "emergency_contact.name" if not ec.name.strip() else "emergency_contact.phone"
        if not any(v.field == missing for v in c.violations):
            c.violations.append(
                FieldViolation(missing, "is required when an emergency contact is given")
            )
    return contact


def validate_input(inp: BorrowerInput, *, today: date, phone_region: str | None) -> Profile:
    """Every field rule at once; InvalidArgument lists each bad field by its path."""
    c = _Collector()
    first = c.run(lambda: check_name(inp.first_name, "first_name", required=True), "")
    middle = c.run(lambda: check_name(inp.middle_name, "middle_name", required=False), "")
    last = c.run(lambda: check_name(inp.last_name, "last_name", required=True), "")
    born = c.run(lambda: check_date_of_birth(inp.date_of_birth, today))
    gender = c.run(lambda: parse_enum(Gender, inp.gender, "gender"))
    nationality = c.run(lambda: check_country(inp.nationality, "nationality"), "")
    marital = c.run(lambda: parse_enum(MaritalStatus, inp.marital_status, "marital_status"))
    # A number written locally ("0712 345 678") is read in the configured region, else in
    # the borrower's own country.
    region = phone_region or current_or_none(inp.current_address.country) or current_or_none(
        inp.nationality
    )
    phone = c.run(lambda: normalize_phone(inp.phone, "phone", region), "")
    alternate = c.run(
        lambda: _optional_phone(inp.alternate_phone, "alternate_phone", region), ""
    )
    if phone and alternate and phone == alternate:
        c.violations.append(FieldViolation("alternate_phone", "is the same as phone"))
    email = c.run(lambda: normalize_email(inp.email, "email") if inp.email.strip() else "", "")
    current = _address(c, inp.current_address, "current_address")
    permanent = _address(c, inp.permanent_address, "permanent_address")

    documents = _identity_documents(c, inp.identity_documents, today)
    employment = _employment(c, inp.employment)
    contact = _emergency_contact(c, inp.emergency_contact, region)
    notes = c.run(lambda: check_text_block(inp.notes, "notes", MAX_NOTES), "")

    if c.violations:
        raise InvalidArgument.fields(c.violations)
    return Profile(
        first_name=first,
        middle_name=middle,
        last_name=last,
        date_of_birth=born,
        gender=gender,
        nationality=nationality,
        marital_status=marital,
        phone=phone,
        alternate_phone=alternate,
        email=email,
        current_address=current,
        permanent_address=permanent,
        identity_documents=tuple(documents),
        employment=employment,
        emergency_contact=contact,
        notes=notes,
    )


def check_text_block(value: str, field_name: str, max_length: int) -> str:
    """Multi-line text (notes): trimmed, line breaks kept."""
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > max_length:
        raise InvalidArgument.field(field_name, f"must be at most {max_length} characters")
    return text


def check_reason(value: str, field_name: str = "reason", *, required: bool = True) -> str:
    return single_line(unicodedata.normalize("NFC", value), field_name, 500, required=required)


def check_branch(value: str, field_name: str = "branch_id") -> str:
    text = value.strip()
    if len(text) > 64:
        raise InvalidArgument.field(field_name, "must be at most 64 characters")
    return text


# ------------------------------------------------------------------ back to input


def _address_input(a: Address) -> AddressInput:
    return AddressInput(a.line1, a.line2, a.city, a.region, a.postal_code, a.country)


def to_input(b: Borrower) -> BorrowerInput:
    """The current record in input form, so an update is "overlay, then validate all"."""
    p = b.profile
    income = p.employment.monthly_income
    return BorrowerInput(
        first_name=p.first_name,
        middle_name=p.middle_name,
        last_name=p.last_name,
        date_of_birth=p.date_of_birth.isoformat(),
        gender=p.gender.value if p.gender else "",
        nationality=p.nationality,
        marital_status=p.marital_status.value if p.marital_status else "",
        phone=p.phone,
        alternate_phone=p.alternate_phone,
        email=p.email,
        current_address=_address_input(p.current_address),
        permanent_address=_address_input(p.permanent_address),
        identity_documents=tuple(
            IdentityDocumentInput(
                d.type.value,
                d.number,
                d.issuer,
                d.issue_date.isoformat() if d.issue_date else "",
                d.expiry_date.isoformat() if d.expiry_date else "",
            )
            for d in p.identity_documents
        ),
        employment=EmploymentInput(
            p.employment.status.value if p.employment.status else "",
            p.employment.employer_or_business,
            p.employment.occupation,
            MoneyInput(income.amount_minor, income.currency) if income else None,
        ),
        emergency_contact=EmergencyContactInput(
            p.emergency_contact.name, p.emergency_contact.relationship, p.emergency_contact.phone
        ),
        notes=p.notes,
        risk_profile=b.risk_profile.value if b.risk_profile else "",
        branch_id=b.branch_id,
        assigned_agent_id=b.assigned_agent_id,
    )


# ------------------------------------------------------------------ updates

# Top-level Borrower fields an UpdateBorrower mask may name; nested messages also by sub-path.
PROFILE_PATHS = (
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "gender",
    "nationality",
    "marital_status",
    "phone",
    "alternate_phone",
    "email",
    "current_address",
    "permanent_address",
    "identity_documents",
    "employment",
    "emergency_contact",
    "notes",
)
NESTED = {
    "current_address": AddressInput,
    "permanent_address": AddressInput,
    "employment": EmploymentInput,
    "emergency_contact": EmergencyContactInput,
}
UPDATABLE_PATHS = (*PROFILE_PATHS, "branch_id", "risk_profile")
ADMIN_ONLY_PATHS = frozenset({"risk_profile"})
# Managed by their own RPCs; naming them in a mask is a client mistake.
NOT_UPDATABLE = {
    "id": "is set by the server",
    "audit": "is set by the server",
    "version": "is set by the server",
    "kyc_status": "changes through SetKycStatus",
    "kyc_note": "changes through SetKycStatus",
    "account_status": "changes through Deactivate/Reactivate/BlacklistBorrower",
    "deactivation_reason": "changes through Deactivate/BlacklistBorrower",
    "assigned_agent_id": "changes through ReassignBorrower",
}
# A change to any of these on a VERIFIED borrower sends KYC back to PENDING.
KYC_FIELDS = ("first_name", "middle_name", "last_name", "date_of_birth", "identity_documents")


def check_mask(paths: Sequence[str], caller: Caller) -> list[str]:
    """Normalised, de-duplicated mask paths; every refusal names the path."""
    if not paths:
        raise InvalidArgument.field("update_mask", "names no field to update")
    bad: list[FieldViolation] = []
    clean: list[str] = []
    for raw in paths:
        path = raw.strip()
        top, _, sub = path.partition(".")
        if top in NOT_UPDATABLE:
            bad.append(FieldViolation("update_mask", f"{path} {NOT_UPDATABLE[top]}"))
        elif top not in UPDATABLE_PATHS or (
            sub and (top not in NESTED or sub not in {f.name for f in fields(NESTED[top])})
        ):
            bad.append(FieldViolation("update_mask", f"unknown field {path!r}"))
        elif top in ADMIN_ONLY_PATHS and not caller.is_admin:
            raise PermissionDenied(f"only an admin may change {top}")
        elif path not in clean:
            clean.append(path)
    if bad:
        raise InvalidArgument.fields(bad)
    return clean


def overlay(current: BorrowerInput, given: BorrowerInput, paths: Iterable[str]) -> BorrowerInput:
    """Take the values at ``paths`` from ``given``; keep everything else from ``current``."""
    merged = current
    for path in paths:
        top, _, sub = path.partition(".")
        if sub:
            inner = replace(getattr(merged, top), **{sub: getattr(getattr(given, top), sub)})
            merged = replace(merged, **{top: inner})
        else:
            merged = replace(merged, **{top: getattr(given, top)})
    return merged


# ------------------------------------------------------------------ scoping


def visible_to(borrower: Borrower, caller: Caller) -> bool:
    return caller.is_admin or borrower.assigned_agent_id == caller.acting_agent_id


# ------------------------------------------------------------------ history diff


def _enum(value: StrEnum | None) -> str:
    return value.value if value is not None else ""


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def document_json(d: IdentityDocument) -> dict[str, str]:
    return {
        "type": d.type.value,
        "number": d.number,
        "issuer": d.issuer,
        "issue_date": d.issue_date.isoformat() if d.issue_date else "",
        "expiry_date": d.expiry_date.isoformat() if d.expiry_date else "",
    }


def flatten(b: Borrower) -> dict[str, str]:
    """Every recorded field as ``path -> string``; messages are rendered as JSON."""
    p = b.profile
    out: dict[str, str] = {
        "first_name": p.first_name,
        "middle_name": p.middle_name,
        "last_name": p.last_name,
        "date_of_birth": p.date_of_birth.isoformat(),
        "gender": _enum(p.gender),
        "nationality": p.nationality,
        "marital_status": _enum(p.marital_status),
        "phone": p.phone,
        "alternate_phone": p.alternate_phone,
        "email": p.email,
    }
    for name in ("current_address", "permanent_address"):
        address: Address = getattr(p, name)
        for f in fields(Address):
            out[f"{name}.{f.name}"] = getattr(address, f.name)
    out["identity_documents"] = _json([document_json(d) for d in p.identity_documents])
    income = p.employment.monthly_income
    out.update(
        {
            "employment.status": _enum(p.employment.status),
            "employment.employer_or_business": p.employment.employer_or_business,
            "employment.occupation": p.employment.occupation,
            "employment.monthly_income": _json(
                {"amount_minor": income.amount_minor, "currency": income.currency}
            )
            if income
            else "",
            "emergency_contact.name": p.emergency_contact.name,
            "emergency_contact.relationship": p.emergency_contact.relationship,
            "emergency_contact.phone": p.emergency_contact.phone,
            "notes": p.notes,
            "branch_id": b.branch_id,
            "risk_profile": _enum(b.risk_profile),
            "assigned_agent_id": b.assigned_agent_id,
            "kyc_status": b.kyc_status.value,
            "kyc_note": b.kyc_note,
            "account_status": b.account_status.value,
            "deactivation_reason": b.deactivation_reason,
        }
    )
    return out


_EMPTY_VALUES = ("", "[]")


def diff(old: Borrower | None, new: Borrower) -> tuple[FieldChange, ...]:
    """The fields whose value differs, in a stable order; ``old`` None means created."""
    after = flatten(new)
    before: Mapping[str, str] = flatten(old) if old is not None else {}
    changes = []
    for name, value in after.items():
        previous = before.get(name, "")
        if value != previous and not (old is None and value in _EMPTY_VALUES):
            changes.append(FieldChange(name, previous, value))
    return tuple(changes)


def kyc_fields_changed(old: Profile, new: Profile) -> bool:
    return any(getattr(old, f) != getattr(new, f) for f in KYC_FIELDS)


# ------------------------------------------------------------------ lifecycle
# Each returns the changed borrower (audit fields and version are the repository's job).


def deactivate(b: Borrower, reason: str) -> Borrower:
    """No hard delete: ACTIVE -> INACTIVE, with the reason kept."""
    text = check_reason(reason)
    if b.account_status is not AccountStatus.ACTIVE:
        raise FailedPrecondition(
            f"borrower {b.id} is {b.account_status.value}; only an ACTIVE borrower can be "
            "deactivated"
        )
    return replace(b, account_status=AccountStatus.INACTIVE, deactivation_reason=text)


def reactivate(b: Borrower, caller: Caller) -> Borrower:
    if b.account_status is AccountStatus.ACTIVE:
        raise FailedPrecondition(f"borrower {b.id} is already ACTIVE")
    if b.account_status is AccountStatus.BLACKLISTED and not caller.is_admin:
        raise PermissionDenied("only an admin may reactivate a blacklisted borrower")
    return replace(b, account_status=AccountStatus.ACTIVE, deactivation_reason="")


def blacklist(b: Borrower, reason: str) -> Borrower:
    text = check_reason(reason)
    if b.account_status is AccountStatus.BLACKLISTED:
        raise FailedPrecondition(f"borrower {b.id} is already BLACKLISTED")
    return replace(b, account_status=AccountStatus.BLACKLISTED, deactivation_reason=text)


def reassign(b: Borrower, agent_id: str) -> Borrower:
    if b.assigned_agent_id == agent_id:
        raise FailedPrecondition(f"borrower {b.id} is already assigned to agent {agent_id}")
    return replace(b, assigned_agent_id=agent_id)


def set_kyc_status(b: Borrower, status: str, note: str, caller: Caller) -> Borrower:
    """Admins set any status; an agent may only send their borrower back to PENDING."""
    new = parse_enum(KycStatus, status, "status", required=True)
    assert new is not None
    text = check_reason(note, "note", required=new is KycStatus.REJECTED)
    if not caller.is_admin and new is not KycStatus.PENDING:
        raise PermissionDenied(f"only an admin may set the KYC status to {new.value}")
    return replace(b, kyc_status=new, kyc_note=text)


def apply_profile(b: Borrower, profile: Profile) -> Borrower:
    """A new profile; a VERIFIED borrower whose identity changed needs verifying again."""
    changed = replace(b, profile=profile)
    if b.kyc_status is KycStatus.VERIFIED and kyc_fields_changed(b.profile, profile):
        changed = replace(
            changed,
            kyc_status=KycStatus.PENDING,
            kyc_note="identity details changed; verify again",
        )
    return changed
