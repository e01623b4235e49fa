"""Borrower messages <-> the JSON models of the HTTP API."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from api_gateway.convert import common as convert
from api_gateway.schemas import borrowers as s
from microfinance.user.v1 import user_pb2
from shared.protos import message_of


def _value(enum_type: Any, value: StrEnum | None) -> Any:
    return enum_type.Value(value.value) if value is not None else 0


def borrower(b: user_pb2.Borrower) -> s.BorrowerOut:
    return convert.to_model(s.BorrowerOut, b)


def history_entry(e: user_pb2.BorrowerHistoryEntry) -> s.HistoryEntryOut:
    return convert.to_model(s.HistoryEntryOut, e)


# Request bodies name their fields as the Borrower message does; None is "not given" and
# leaves the field empty (shared.protos.message_of). The nested parts are always set.


def _address_in(a: s.AddressIn | s.AddressPatch | None) -> user_pb2.Address:
    return user_pb2.Address() if a is None else message_of(user_pb2.Address, a)


def _employment(e: s.EmploymentIn | s.EmploymentPatch | None) -> user_pb2.Employment:
    return user_pb2.Employment() if e is None else message_of(user_pb2.Employment, e)


def _contact(c: s.EmergencyContactIn | s.EmergencyContactPatch | None) -> user_pb2.EmergencyContact:
    return user_pb2.EmergencyContact() if c is None else message_of(user_pb2.EmergencyContact, c)


def borrower_in(body: s.BorrowerCreate | s.BorrowerPatch) -> user_pb2.Borrower:
    """The request's borrower message; for a patch, unset fields are simply empty."""
    return message_of(
        user_pb2.Borrower,
        body,
        current_address=_address_in(body.current_address),
        permanent_address=_address_in(body.permanent_address),
        identity_documents=[
            message_of(user_pb2.IdentityDocument, d) for d in body.identity_documents or []
        ],
        employment=_employment(body.employment),
        emergency_contact=_contact(body.emergency_contact),
    )


def enum_value(enum_type: Any, value: StrEnum | None) -> Any:
    return _value(enum_type, value)
