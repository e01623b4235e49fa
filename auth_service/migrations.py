"""Operator tasks on auth_service's own database, run by the CLI without a server.

Its indexes (`microfinance migrate`, and again at start), the first admin's
credential (no admin exists yet to authorise an RPC; the CLI pairs it with the
staff record user_service writes), and key rotation (`microfinance rotate-keys`).
"""

from __future__ import annotations

from auth_service.adapters.repository import INDEXES, AuthRepository
from auth_service.domain.passwords import PasswordHashing
from auth_service.service import AuthPolicy, AuthService
from shared.config import Settings
from shared.events import outbox_indexes
from shared.mongo import IndexRegistry, create_mongo_client
from shared.runtime import apply_indexes, database_name

REGISTRY = IndexRegistry(INDEXES).merge(outbox_indexes())


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "auth", REGISTRY)


class _NoStore:
    """These tasks need no lockout counters."""

    async def get(self, key: str) -> None:
        return None

    async def set(self, key: str, value: str, ttl: int | None = None) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None

    async def incr_with_ttl(self, key: str, ttl: int) -> int | None:
        return None

    async def set_and_publish(
        self, key: str, value: str, ttl: int, channel: str, message: str
    ) -> bool:
        return False


async def seed_admin_credential(
    settings: Settings,
    *,
    staff_id: str,
    username: str,
    role: str,
    branch_id: str,
    password: str,
) -> bool:
    """The first admin's credential; True if created now, False if ``staff_id`` had one."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-create-admin")
    try:
        db = client[database_name(settings, "auth")]
        await IndexRegistry(INDEXES).apply(db)
        repo = AuthRepository(db)
        if await repo.get_by_id(staff_id) is not None:
            return False
        auth = AuthService(repo, _NoStore(), PasswordHashing(), policy=AuthPolicy())
        # The operator chose this password; no forced change at first login.
        await auth.create_credential(
            staff_id=staff_id,
            username=username,
            role=role,
            branch_id=branch_id,
            initial_password=password,
            must_change_password=False,
        )
        return True
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
