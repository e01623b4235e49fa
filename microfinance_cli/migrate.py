"""`microfinance migrate`: every service's indexes and ES mappings, then the first admin.

Each data-owning package ships `<package>/migrations.py` with
`async def migrate(settings: Settings) -> None`; they are idempotent, so `up` runs them
on every start. The first admin spans two services, so the CLI pairs them: user_service
seeds the staff record, auth_service the credential, each in its own migrations module.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from microfinance_cli.services import MIGRATING_PACKAGES
from shared.config import Settings

Say = Callable[[str], None]


@dataclass(frozen=True)
class AdminRequest:
    email: str
    password: str


def _optional_module(name: str) -> ModuleType | None:
    """The module, or None when it does not exist yet; an import error inside it still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


async def run_migrations(settings: Settings, say: Say) -> list[str]:
    """Runs every package's migrate(); returns the packages that had none yet."""
    missing: list[str] = []
    for package in MIGRATING_PACKAGES:
        module = _optional_module(f"{package}.migrations")
        migrate: Callable[[Settings], Awaitable[None]] | None = (
            getattr(module, "migrate", None) if module is not None else None
        )
        if migrate is None:
            say(f"{package}: no migrations module yet; skipped")
            missing.append(package)
            continue
        await migrate(settings)
        say(f"{package}: indexes and mappings up to date")
    return missing


def admin_from_settings(settings: Settings) -> AdminRequest | None:
    if settings.admin_email and settings.admin_password is not None:
        return AdminRequest(settings.admin_email, settings.admin_password.get_secret_value())
    return None


async def create_admin(
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str = "Administrator",
    branch_id: str = "HQ",
) -> str:
    """An admin who can log in (idempotent: an existing admin with this email is left as it is).

    No admin exists yet to authorise an RPC, so each half is written with direct database
    access by the service that owns it: the staff record by user_service, then the
    credential, keyed by the staff id, by auth_service.
    """
    from auth_service.migrations import seed_admin_credential
    from user_service.migrations import seed_admin

    staff, created = await seed_admin(
        settings, email=email, full_name=full_name, branch_id=branch_id
    )
    if await seed_admin_credential(
        settings,
        staff_id=staff.id,
        username=staff.email,
        role=staff.role.value,
        branch_id=staff.branch_id,
        password=password,
    ):
        return f"created, staff id {staff.id}"
    return f"already present, staff id {staff.id}" if not created else staff.id


async def create_first_admin(settings: Settings, admin: AdminRequest, say: Say) -> None:
    result = await create_admin(settings, email=admin.email, password=admin.password)
    say(f"first admin: {admin.email} ready ({result})")
