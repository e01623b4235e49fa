"""Borrower messages <-> the JSON models of the HTTP API."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from api_gateway.convert import common as convert
from api_gateway.schemas import borrowers as s
from api_gateway.schemas.common import MoneyIn
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2
from shared.money import to_proto


def _value(enum_type: Any, value: StrEnum | None) -> Any:
    return enum_type.Value(value.value) if value is not None else 0


def borrower(b: user_pb2.Borrower) -> s.BorrowerOut:
    return convert.to_model(s.BorrowerOut, b)


def history_entry(e: user_pb2.BorrowerHistoryEntry) -> s.HistoryEntryOut:
    return convert.to_model(s.HistoryEntryOut, e)


def _money(m: MoneyIn | None) -> common_pb2.Money | None:
    if m is None:
        return None
    return to_proto(m.amount_minor, m.currency.upper())


def _text(value: str | None) -> str:
    return value or ""


def _address_in(a: BaseModel | None) -> user_pb2.Address:
    if a is None:
        return user_pb2.Address()
    return user_pb2.Address(
        **{k: _text(getattr(a, k)) for k in ("line1", "line2", "city", "region",
                                              "postal_code", "country")}
    )


def _documents(docs: list[s.IdentityDocumentIn] | None) -> list[user_pb2.IdentityDocument]:
    return [
        user_pb2.IdentityDocument(
            type=_value(user_pb2.IdentityDocument.Type, d.type),
            number=d.number,
            issuer=d.issuer,
            issue_date=d.issue_date,
            expiry_date=d.expiry_date,
        )
        for d in docs or []
    ]


def _employment(e: s.EmploymentIn | s.EmploymentPatch | None) -> user_pb2.Employment:
    if e is None:
        return user_pb2.Employment()
    return user_pb2.Employment(
        status=_value(user_pb2.EmploymentStatus, e.status),
        employer_or_business=_text(e.employer_or_business),
        occupation=_text(e.occupation),
        monthly_income=_money(e.monthly_income),
    )


def _contact(c: s.EmergencyContactIn | s.EmergencyContactPatch | None) -> user_pb2.EmergencyContact:
    if c is None:
        return user_pb2.EmergencyContact()
    return user_pb2.EmergencyContact(
        name=_text(c.name), relationship=_text(c.relationship), phone=_text(c.phone)
    )


def borrower_in(body: s.BorrowerCreate | s.BorrowerPatch) -> user_pb2.Borrower:
    """The request's borrower message; for a patch, unset fields are simply empty."""
    return user_pb2.Borrower(
        first_name=_text(body.first_name),
        middle_name=_text(body.middle_name),
        last_name=_text(body.last_name),
        date_of_birth=_text(body.date_of_birth),
        gender=_value(user_pb2.Gender, body.gender),
        nationality=_text(body.nationality),
        marital_status=_value(user_pb2.MaritalStatus, body.marital_status),
        phone=_text(body.phone),
        alternate_phone=_text(body.alternate_phone),
        email=_text(body.email),
        current_address=_address_in(body.current_address),
        permanent_address=_address_in(body.permanent_address),
        identity_documents=_documents(body.identity_documents),
        employment=_employment(body.employment),
        emergency_contact=_contact(body.emergency_contact),
        notes=_text(body.notes),
        risk_profile=_value(user_pb2.RiskProfile, body.risk_profile),
        branch_id=_text(body.branch_id),
        assigned_agent_id=body.assigned_agent_id if isinstance(body, s.BorrowerCreate) else "",
    )


def enum_value(enum_type: Any, value: StrEnum | None) -> Any:
    return _value(enum_type, value)
