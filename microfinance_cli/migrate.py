"""`microfinance migrate`: every service's indexes and ES mappings, then the first admin.

Each data-owning package ships `<package>/migrations.py` with
`async def migrate(settings: Settings) -> None`; they are idempotent, so `up` runs them
on every start. The first admin is created by `auth_service.bootstrap.create_admin`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

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


def create_admin_available() -> bool:
    module = _optional_module("auth_service.bootstrap")
    return module is not None and hasattr(module, "create_admin")


async def create_first_admin(settings: Settings, admin: AdminRequest, say: Say) -> bool:
    """Creates the first admin; returns False when the auth service cannot do it yet."""
    module = _optional_module("auth_service.bootstrap")
    create: Callable[..., Any] | None = getattr(module, "create_admin", None) if module else None
    if create is None:
        say("first admin: auth_service.bootstrap.create_admin is not available yet; skipped")
        return False
    result = create(settings, email=admin.email, password=admin.password)
    if inspect.isawaitable(result):
        result = await result
    say(f"first admin: {admin.email} ready" + (f" ({result})" if isinstance(result, str) else ""))
    return True
