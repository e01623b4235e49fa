"""MongoDB storage for credentials, refresh tokens and signing keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth_service.domain.keys import SigningKey
from shared.errors import AlreadyExists, FieldViolation

CREDENTIALS = "credentials"
REFRESH_TOKENS = "refresh_tokens"
SIGNING_KEYS = "signing_keys"

INDEXES: dict[str, list[IndexModel]] = {
    CREDENTIALS: [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")],
    REFRESH_TOKENS: [
        IndexModel([("family_id", ASCENDING)], name="family"),
        IndexModel([("staff_id", ASCENDING)], name="staff"),
    ],
    SIGNING_KEYS: [IndexModel([("created_at", ASCENDING)], name="created")],
}


@dataclass(frozen=True, slots=True)
class Credential:
    staff_id: str
    username: str
    password_hash: str
    role: str
    branch_id: str
    active: bool
    must_change_password: bool

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Credential:
        return Credential(
            staff_id=str(doc["_id"]),
            username=doc["username"],
            password_hash=doc["password_hash"],
            role=doc["role"],
            branch_id=doc.get("branch_id", ""),
            active=bool(doc.get("active", True)),
            must_change_password=bool(doc.get("must_change_password", False)),
        )


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    token_hash: str
    family_id: str
    staff_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class AuthRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._credentials = db[CREDENTIALS]
        self._refresh = db[REFRESH_TOKENS]
        self._keys = db[SIGNING_KEYS]

    # credentials
    async def insert_credential(self, cred: Credential, now: datetime) -> None:
        doc = {
            "_id": cred.staff_id,
            "username": cred.username,
            "password_hash": cred.password_hash,
            "role": cred.role,
            "branch_id": cred.branch_id,
            "active": cred.active,
            "must_change_password": cred.must_change_password,
            "created_at": now,
            "updated_at": now,
            "password_changed_at": now,
        }
        try:
            await self._credentials.insert_one(doc)
        except DuplicateKeyError as exc:
            field = "username" if "username" in str(exc) else "staff_id"
            raise AlreadyExists(
                f"a credential for this {field} already exists",
                violations=[FieldViolation(field, "already exists")],
            ) from exc

    async def get_by_username(self, username: str) -> Credential | None:
        doc = await self._credentials.find_one({"username": username})
        return Credential.from_doc(doc) if doc else None

    async def get_by_id(self, staff_id: str) -> Credential | None:
        doc = await self._credentials.find_one({"_id": staff_id})
        return Credential.from_doc(doc) if doc else None

    async def count_credentials(self) -> int:
        return await self._credentials.count_documents({})

    async def update_credential(
        self, staff_id: str, changes: dict[str, Any], now: datetime
    ) -> bool:
        result = await self._credentials.update_one(
            {"_id": staff_id}, {"$set": {**changes, "updated_at": now}}
        )
        return result.matched_count == 1

    # refresh tokens
    async def insert_refresh(
        self, token_hash: str, family_id: str, staff_id: str, now: datetime, expires_at: datetime
    ) -> None:
        await self._refresh.insert_one(
            {
                "_id": token_hash,
                "family_id": family_id,
                "staff_id": staff_id,
                "issued_at": now,
                "expires_at": expires_at,
                "used_at": None,
                "revoked_at": None,
            }
        )

    async def claim_refresh(self, token_hash: str, now: datetime) -> RefreshRecord | None:
        """Marks an unused, unrevoked token used; only one concurrent caller wins."""
        doc = await self._refresh.find_one_and_update(
            {"_id": token_hash, "used_at": None, "revoked_at": None},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _refresh(doc) if doc else None

    async def get_refresh(self, token_hash: str) -> RefreshRecord | None:
        doc = await self._refresh.find_one({"_id": token_hash})
        return _refresh(doc) if doc else None

    async def revoke_family(self, family_id: str, now: datetime, reason: str) -> int:
        result = await self._refresh.update_many(
            {"family_id": family_id, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )
        return result.modified_count

    async def revoke_staff_tokens(self, staff_id: str, now: datetime, reason: str) -> int:
        result = await self._refresh.update_many(
            {"staff_id": staff_id, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )
        return result.modified_count

    # signing keys
    async def list_keys(self) -> list[SigningKey]:
        keys: list[SigningKey] = []
        async for doc in self._keys.find({}).sort("created_at", ASCENDING):
            keys.append(
                SigningKey(
                    kid=doc["_id"],
                    private_pem=doc["private_pem"],
                    created_at=doc["created_at"],
                    retired_at=doc.get("retired_at"),
                )
            )
        return keys

    async def add_key(self, key: SigningKey) -> None:
        await self._keys.insert_one(
            {
                "_id": key.kid,
                "private_pem": key.private_pem,
                "created_at": key.created_at,
                "retired_at": None,
            }
        )

    async def retire_keys_except(self, kid: str, now: datetime) -> None:
        await self._keys.update_many(
            {"_id": {"$ne": kid}, "retired_at": None}, {"$set": {"retired_at": now}}
        )


def _refresh(doc: dict[str, Any]) -> RefreshRecord:
    return RefreshRecord(
        token_hash=doc["_id"],
        family_id=doc["family_id"],
        staff_id=doc["staff_id"],
        expires_at=doc["expires_at"],
        used_at=doc.get("used_at"),
        revoked_at=doc.get("revoked_at"),
    )
