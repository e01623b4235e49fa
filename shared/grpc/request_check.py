"""The shape every request must have, checked from its descriptor before any handler runs.

Field names carry meaning across the contracts (proto/): ``id``, ``ids`` and ``*_id`` are
short opaque tokens, ``date`` and ``*_date`` are "YYYY-MM-DD", ``currency`` is an ISO 4217
code. A direct caller can send anything, so these rules and a length cap on every string,
and known enum numbers, are checked here once for every RPC, in the interceptor after the
token and role checks: INVALID_ARGUMENT naming each field, never a lookup of a 10,000-char
id, a date that a query cannot parse, or an 8 MiB note reaching the database or an event.
Each service's own rules (required fields, narrower limits, ranges) still apply after it.
"""

from __future__ import annotations

import re
from datetime import date

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from shared.errors import FieldViolation, InvalidArgument
from shared.money import is_currency

# Longer than any field's own limit; a backstop, not the rule of any one field.
MAX_TEXT = 4096
MAX_ID = 128
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID_NAMES = frozenset({"id", "ids", "on_behalf_of", "agent_scope"})
# Counts whose zero means "the default" (common.v1.PageRequest) or "no check" (optimistic
# concurrency): below zero they mean nothing.
_NON_NEGATIVE = frozenset({"page_size", "expected_version"})

_STRING = FieldDescriptor.TYPE_STRING
_ENUM = FieldDescriptor.TYPE_ENUM
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _is_id(name: str) -> bool:
    return name in _ID_NAMES or name.endswith("_id")


def _is_date(name: str) -> bool:
    return name == "date" or name.endswith("_date") or name == "date_of_birth"


def _text_problem(name: str, value: str) -> str | None:
    if len(value) > MAX_TEXT:
        return f"must be at most {MAX_TEXT} characters"
    if not value:
        return None  # unset (an optional field may be set to ""): required is the service's rule
    if _is_id(name):
        if len(value) > MAX_ID or not _ID.fullmatch(value):
            return "is not a valid id"
    elif _is_date(name):
        text = value.strip()
        if text and not _valid_date(text):
            return "must be a date in YYYY-MM-DD form"
    elif name == "currency":
        code = value.strip().upper()
        # Lower case is the callers' common slip and is normalised by every service.
        if code and not is_currency(code):
            return "is not an ISO 4217 currency code"
    return None


def _valid_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# A create or update request's resource: the services name its fields from inside it
# ("date_of_birth", not "borrower.date_of_birth"), as the gateway's bodies do.
_RESOURCES = frozenset({"borrower", "staff", "product"})


def request_violations(message: Message, prefix: str = "") -> list[FieldViolation]:
    """Every set field of ``message`` (recursively) that breaks the shared rules."""
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        if not prefix and field.name in _RESOURCES and field.type == _MESSAGE:
            found.extend(request_violations(value, ""))
            continue
        path = f"{prefix}{field.name}"
        repeated = field.is_repeated
        items = list(value) if repeated else [value]
        for index, item in enumerate(items):
            here = f"{path}[{index}]" if repeated else path
            if field.type == _MESSAGE:
                found.extend(request_violations(item, f"{here}."))
            elif field.type == _STRING:
                problem = _text_problem(field.name, item)
                if problem:
                    found.append(FieldViolation(here, problem))
            elif field.type == _ENUM:
                enum = field.enum_type
                if enum is not None and enum.values_by_number.get(item) is None:
                    found.append(FieldViolation(here, f"{item} is not a known value"))
            elif field.name in _NON_NEGATIVE and isinstance(item, int) and item < 0:
                found.append(FieldViolation(here, "must not be negative"))
    return found


def check_request(message: Message) -> None:
    """INVALID_ARGUMENT naming every field that breaks the shared rules."""
    violations = request_violations(message)
    if violations:
        raise InvalidArgument.fields(violations)


__all__ = ["MAX_ID", "MAX_TEXT", "check_request", "request_violations"]
