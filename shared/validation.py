"""Field validators shared by services: phone numbers, emails, dates."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from shared.errors import InvalidArgument
from shared.text import single_line


def normalize_phone(value: str, field: str, default_region: str | None = None) -> str:
    """Any common way of writing a number -> E.164 (``+254712345678``)."""
    raw = value.strip()
    if not raw:
        raise InvalidArgument.field(field, "is required")
    region = None if raw.startswith(("+", "00")) else default_region
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region else " (use the international format, e.g. +254712345678)"
        raise InvalidArgument.field(field, f"is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument.field(field, "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str, field: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidArgument.field(field, f"is not a valid email address: {exc}") from exc
    return result.normalized.casefold()


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: str, field: str) -> date:
    text = value.strip()
    # fromisoformat alone also takes "19900412" and week dates; the contract is YYYY-MM-DD.
    if not _DATE.fullmatch(text):
        raise InvalidArgument.field(field, "must be a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidArgument.field(field, "must be a date in YYYY-MM-DD form") from exc


def required_text(value: str, field: str, max_length: int = 200) -> str:
    return single_line(value, field, max_length, required=True)


def proto_enum_name(enum_type: Any, value: int, field: str) -> str:
    """A protobuf enum number's name, "" for the zero value.

    Protobuf keeps numbers it does not know, so a direct caller can send one;
    that is the caller's mistake (INVALID_ARGUMENT naming the field).
    """
    if value == 0:
        return ""
    try:
        return str(enum_type.Name(value))
    except ValueError:
        raise InvalidArgument.field(field, f"{value} is not a known value") from None

