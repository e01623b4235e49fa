"""JSON bodies of the public HTTP API.

Shapes follow the protos: snake_case names, enums by name, money as
``{"amount_minor", "currency"}`` and instants as ISO 8601 strings. Request
bodies refuse unknown fields, so a misspelt field is a 422 rather than a
silently ignored value. Strings are never coerced from numbers (pydantic v2), and
booleans and integers are strict too: ``"yes"`` is not ``true``, ``"3"`` is not ``3``.
Enums stay lax only in accepting their names as strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from shared.money import max_amount_minor

# Amounts and versions travel as protobuf int64: a larger number is the client's mistake
# (422 naming the field), not a failure to build the message.
INT64_MAX = 2**63 - 1
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def _within_business_maximum(value: int) -> int:
    # Read at each request: the limit is MF_MAX_AMOUNT_MINOR, set when the app is built.
    limit = max_amount_minor()
    if value > limit:
        raise ValueError(f"must be at most {limit} minor units")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: Any) -> Any:
    # pydantic alone reads 0 or "0" as 1970-01-01 (Unix time) and takes datetimes whose
    # time is midnight; the contract is YYYY-MM-DD only, in bodies and queries alike.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date in YYYY-MM-DD form")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
"""A calendar date written YYYY-MM-DD, and nothing else."""


AmountMinor = Annotated[
    StrictInt,
    Field(
        ge=0,
        le=INT64_MAX,
        description=(
            "Integer count of the minor unit; at most MF_MAX_AMOUNT_MINOR "
            "(10^12 by default), else 422 naming the field."
        ),
    ),
    AfterValidator(_within_business_maximum),
]


class RoleName(StrEnum):
    ADMIN = "ADMIN"
    AGENT = "AGENT"


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ errors


class FieldError(ResponseBody):
    field: str = Field(description="The offending field, e.g. `email` or `items[0].amount`.")
    description: str


class ErrorDetail(ResponseBody):
    code: str = Field(description="gRPC-style status name.", examples=["NOT_FOUND"])
    message: str
    fields: list[FieldError] = Field(default_factory=list)
    request_id: str = ""
    existing_id: str | None = Field(
        default=None, description="For ALREADY_EXISTS: the id of the record that holds the key."
    )


class ErrorResponse(ResponseBody):
    error: ErrorDetail


# ------------------------------------------------------------------ shared types


class Money(ResponseBody):
    amount_minor: int = Field(description="Integer count of the currency's minor unit.")
    currency: str = Field(description="ISO 4217 code.", examples=["KES"])


class MoneyIn(RequestBody):
    amount_minor: AmountMinor
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code.")


class Audit(ResponseBody):
    created_by: str
    created_at: datetime | None
    updated_by: str
    updated_at: datetime | None


class PageInfo(ResponseBody):
    next_page_token: str = Field(description="Pass back as page_token; empty on the last page.")
    total_size: int


# ------------------------------------------------------------------ auth


class LoginRequest(RequestBody):
    username: str = Field(min_length=1, max_length=320, description="Staff email.")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(RequestBody):
    refresh_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description=(
            "Required, unless the request sends `X-Token-Transport: cookie`: then the "
            "`mf_refresh` cookie is used when this is left out."
        ),
    )


class LogoutRequest(RequestBody):
    refresh_token: str | None = Field(
        default=None, max_length=1024, description="Its whole family is revoked."
    )
    all_sessions: StrictBool = Field(
        default=False, description="Revoke every session of the caller."
    )


class ChangePasswordRequest(RequestBody):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(
        min_length=1, max_length=1024, description="At least 10 characters, not the username."
    )


class Identity(ResponseBody):
    staff_id: str
    role: RoleName | None
    agent_id: str = Field(description="Set for agents only (equal to staff_id).")
    branch_id: str
    username: str


class TokenResponse(ResponseBody):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds until access_token expires.")
    refresh_token: str = Field(
        description=(
            "Single use: each refresh returns a new one. Empty when the request sent "
            "`X-Token-Transport: cookie` (it is then in the httpOnly `mf_refresh` cookie)."
        )
    )
    refresh_expires_in: int
    must_change_password: bool = Field(
        description="While true, only /auth/password, /auth/logout and /me are allowed."
    )
    identity: Identity


# ------------------------------------------------------------------ staff


class StaffOut(ResponseBody):
    id: str
    role: RoleName | None
    full_name: str
    email: str
    phone: str
    branch_id: str
    active: bool
    deactivation_reason: str
    audit: Audit
    version: int = Field(description="Bumps on every write; send it back as If-Match.")


class MeResponse(ResponseBody):
    staff: StaffOut
    must_change_password: bool


class StaffList(ResponseBody):
    staff: list[StaffOut]
    page: PageInfo


class CreateStaffRequest(RequestBody):
    role: RoleName
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    phone: str = Field(default="", max_length=32, description="E.164, or local with a region.")
    branch_id: str = Field(min_length=1, max_length=64)
    initial_password: str = Field(
        min_length=1, max_length=1024, description="Must be changed at first login."
    )


class UpdateStaffRequest(RequestBody):
    """JSON merge: the fields present are changed, the others are left alone."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    branch_id: str | None = Field(default=None, min_length=1, max_length=64)
    role: RoleName | None = None
    expected_version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=INT64_MAX,
        description="Alternative to If-Match; 409 if the record moved on.",
    )

    @field_validator("full_name", "email", "phone", "branch_id", "role", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only runs for fields actually sent; null cannot mean "clear" for these.
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    def changed_fields(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in ("full_name", "email", "phone", "branch_id", "role")
            if name in self.model_fields_set
        }


class DeactivateStaffRequest(RequestBody):
    reason: str = Field(min_length=1, max_length=500)


class ResetPasswordRequest(RequestBody):
    temporary_password: str = Field(
        min_length=1, max_length=1024, description="Must be changed at next login."
    )


# ------------------------------------------------------------------ health


class Liveness(ResponseBody):
    status: str = "ok"


class Readiness(ResponseBody):
    status: str = Field(description="`ready` when every service is SERVING.")
    services: dict[str, str] = Field(
        description="Per service: SERVING, NOT_SERVING, UNKNOWN or UNAVAILABLE."
    )
