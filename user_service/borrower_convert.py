"""Borrower protobuf messages <-> domain values."""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from typing import Any

from microfinance.user.v1 import user_pb2
from shared.money import to_proto
from shared.protos import audit, message_of
from shared.records import record_of
from user_service.domain.borrower import (
    Address,
    AddressInput,
    Borrower,
    BorrowerInput,
    EmergencyContactInput,
    EmploymentInput,
    HistoryEntry,
    IdentityDocumentInput,
    MoneyInput,
)


def enum_name(enum_type: Any, value: int) -> str:
    """The value's name, "" for the zero value; an unknown number stays visible as a number."""
    if value == 0:
        return ""
    try:
        return str(enum_type.Name(value))
    except ValueError:
        return str(value)


def enum_value(enum_type: Any, value: StrEnum | None) -> Any:
    return enum_type.Value(value.value) if value is not None else 0


def _address_input(message: user_pb2.Address) -> AddressInput:
    return record_of(AddressInput, message)


def borrower_input(message: user_pb2.Borrower) -> BorrowerInput:
    job = message.employment
    contact = message.emergency_contact
    return BorrowerInput(
        first_name=message.first_name,
        middle_name=message.middle_name,
        last_name=message.last_name,
        date_of_birth=message.date_of_birth,
        gender=enum_name(user_pb2.Gender, message.gender),
        nationality=message.nationality,
        marital_status=enum_name(user_pb2.MaritalStatus, message.marital_status),
        phone=message.phone,
        alternate_phone=message.alternate_phone,
        email=message.email,
        current_address=_address_input(message.current_address),
        permanent_address=_address_input(message.permanent_address),
        identity_documents=tuple(
            IdentityDocumentInput(
                type=enum_name(user_pb2.IdentityDocument.Type, d.type),
                number=d.number,
                issuer=d.issuer,
                issue_date=d.issue_date,
                expiry_date=d.expiry_date,
            )
            for d in message.identity_documents
        ),
        employment=EmploymentInput(
            status=enum_name(user_pb2.EmploymentStatus, job.status),
            employer_or_business=job.employer_or_business,
            occupation=job.occupation,
            monthly_income=MoneyInput(job.monthly_income.amount_minor, job.monthly_income.currency)
            if job.HasField("monthly_income")
            else None,
        ),
        emergency_contact=EmergencyContactInput(
            name=contact.name, relationship=contact.relationship, phone=contact.phone
        ),
        notes=message.notes,
        risk_profile=enum_name(user_pb2.RiskProfile, message.risk_profile),
        branch_id=message.branch_id,
        assigned_agent_id=message.assigned_agent_id,
    )


def _address(a: Address) -> user_pb2.Address:
    return user_pb2.Address(**asdict(a))


def borrower_proto(b: Borrower) -> user_pb2.Borrower:
    p = b.profile
    income = p.employment.monthly_income
    return user_pb2.Borrower(
        id=b.id,
        first_name=p.first_name,
        middle_name=p.middle_name,
        last_name=p.last_name,
        date_of_birth=p.date_of_birth.isoformat(),
        gender=enum_value(user_pb2.Gender, p.gender),
        nationality=p.nationality,
        marital_status=enum_value(user_pb2.MaritalStatus, p.marital_status),
        phone=p.phone,
        alternate_phone=p.alternate_phone,
        email=p.email,
        current_address=_address(p.current_address),
        permanent_address=_address(p.permanent_address),
        identity_documents=[
            user_pb2.IdentityDocument(
                type=enum_value(user_pb2.IdentityDocument.Type, d.type),
                number=d.number,
                issuer=d.issuer,
                issue_date=d.issue_date.isoformat() if d.issue_date else "",
                expiry_date=d.expiry_date.isoformat() if d.expiry_date else "",
            )
            for d in p.identity_documents
        ],
        employment=user_pb2.Employment(
            status=enum_value(user_pb2.EmploymentStatus, p.employment.status),
            employer_or_business=p.employment.employer_or_business,
            occupation=p.employment.occupation,
            monthly_income=to_proto(income) if income else None,
        ),
        emergency_contact=user_pb2.EmergencyContact(
            name=p.emergency_contact.name,
            relationship=p.emergency_contact.relationship,
            phone=p.emergency_contact.phone,
        ),
        kyc_status=enum_value(user_pb2.KycStatus, b.kyc_status),
        kyc_note=b.kyc_note,
        risk_profile=enum_value(user_pb2.RiskProfile, b.risk_profile),
        account_status=enum_value(user_pb2.AccountStatus, b.account_status),
        assigned_agent_id=b.assigned_agent_id,
        branch_id=b.branch_id,
        notes=p.notes,
        deactivation_reason=b.deactivation_reason,
        audit=audit(b.created_by, b.created_at, b.updated_by, b.updated_at),
        version=b.version,
    )


def history_proto(e: HistoryEntry) -> user_pb2.BorrowerHistoryEntry:
    changes = [message_of(user_pb2.FieldChange, c) for c in e.changes]
    return message_of(user_pb2.BorrowerHistoryEntry, e, changes=changes)
