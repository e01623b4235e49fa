"""Creating the first admin, for `microfinance migrate` / `create-admin`.

There is no admin yet to authorise an RPC, so this runs with direct database
access, each part through the code of the service that owns the data.
"""

from __future__ import annotations

from auth_service.adapters.repository import INDEXES, AuthRepository
from auth_service.domain.passwords import PasswordHashing
from auth_service.service import AuthPolicy, AuthService
from shared.config import Settings
from shared.mongo import IndexRegistry, create_mongo_client
from shared.runtime import database_name
from user_service.adapters.staff_repository import STAFF_INDEXES
from user_service.bootstrap import ensure_admin_staff


class _NoStore:
    """Bootstrap needs no lockout counters."""

    async def get(self, key: str) -> None:
        return None

    async def set(self, key: str, value: str, ttl: int | None = None) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None

    async def incr_with_ttl(self, key: str, ttl: int) -> int | None:
        return None


async def create_admin(
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str = "Administrator",
    branch_id: str = "HQ",
) -> str:
    """Idempotent: an existing admin with this email is left as it is."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-bootstrap")
    try:
        user_db = client[database_name(settings, "user")]
        auth_db = client[database_name(settings, "auth")]
        await IndexRegistry(STAFF_INDEXES).apply(user_db)
        await IndexRegistry(INDEXES).apply(auth_db)
        staff, created = await ensure_admin_staff(
            user_db, email=email, full_name=full_name, branch_id=branch_id
        )
        auth = AuthService(
            AuthRepository(auth_db), _NoStore(), PasswordHashing(), policy=AuthPolicy()
        )
        existing = await AuthRepository(auth_db).get_by_id(staff.id)
        if existing is None:
            # The operator chose this password; no forced change at first login.
            await auth.create_credential(
                staff_id=staff.id,
                username=staff.email,
                role=staff.role.value,
                branch_id=staff.branch_id,
                initial_password=password,
                must_change_password=False,
            )
            return f"created, staff id {staff.id}"
        return f"already present, staff id {staff.id}" if not created else staff.id
    finally:
        await client.close()


async def rotate_keys(settings: Settings) -> tuple[str, list[str]]:
    """A new signing key; returns its kid and every kid still published.

    Running auth servers start signing with it within their key-reload
    interval; tokens signed with the old key stay valid until they expire.
    """
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-rotate-keys")
    try:
        auth_db = client[database_name(settings, "auth")]
        policy = AuthPolicy(access_ttl_seconds=settings.access_token_ttl_seconds)
        auth = AuthService(AuthRepository(auth_db), _NoStore(), PasswordHashing(), policy=policy)
        key = await auth.rotate_keys()
        return key.kid, [k.kid for k in await auth.public_keys()]
    finally:
        await client.close()
