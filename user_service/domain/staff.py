"""Staff records: validation rules, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.errors import FieldViolation, InvalidArgument
from shared.identity import STAFF_ROLES, Role
from shared.records import Audited, created
from shared.validation import normalize_email, normalize_phone, required_text

UPDATABLE = ("full_name", "email", "phone", "branch_id", "role")


@dataclass(frozen=True, slots=True)
class Staff(Audited):
    id: str
    role: Role
    full_name: str
    email: str
    phone: str
    branch_id: str
    active: bool = True
    deactivation_reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def parse_role(value: str, field_name: str = "role") -> Role:
    try:
        role = Role(value)
    except ValueError as exc:
        raise InvalidArgument.field(field_name, "must be ADMIN or AGENT") from exc
    if role not in STAFF_ROLES:
        raise InvalidArgument.field(field_name, "must be ADMIN or AGENT")
    return role


def validate_fields(
    *,
    role: str,
    full_name: str,
    email: str,
    phone: str,
    branch_id: str,
    phone_region: str | None,
) -> dict[str, object]:
    """Checks every field and reports all bad ones at once."""
    violations: list[FieldViolation] = []
    result: dict[str, object] = {}
    checks: dict[str, Callable[[], object]] = {
        "role": lambda: parse_role(role),
        "full_name": lambda: required_text(full_name, "full_name"),
        "email": lambda: normalize_email(email, "email"),
        "phone": lambda: normalize_phone(phone, "phone", phone_region) if phone.strip() else "",
        "branch_id": lambda: required_text(branch_id, "branch_id", 64),
    }
    for name, check in checks.items():
        try:
            result[name] = check()
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument.fields(violations)
    return result


def new_staff(staff_id: str, fields: Mapping[str, object], *, actor: str, at: datetime) -> Staff:
    """A staff record as first stored, from the fields ``validate_fields`` checked."""
    return Staff(id=staff_id, **created(actor, at), **fields)  # type: ignore[arg-type]


def apply_update(staff: Staff, changes: dict[str, object]) -> Staff:
    return replace(staff, **changes)  # type: ignore[arg-type]
