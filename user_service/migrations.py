"""Operator tasks on user_service's own data, run by the CLI without a server.

Its indexes and the borrower search mapping (`microfinance migrate`): the Mongo
indexes are applied again at every start; the search index is created at start
too when Elasticsearch answers (and otherwise by the indexer before its first
write). And the first admin's staff record: no admin exists yet to authorise
CreateStaff, so the CLI seeds it here and pairs it with auth_service's credential.
"""

from __future__ import annotations

import logging
import uuid

from shared.clock import utcnow
from shared.config import Settings
from shared.events import outbox_indexes, processed_indexes
from shared.identity import Role
from shared.mongo import IndexRegistry, create_mongo_client
from shared.runtime import apply_indexes, database_name
from shared.search import SearchUnavailable, create_es_client, ensure_indices
from user_service.adapters.borrower_repository import BORROWER_INDEXES
from user_service.adapters.borrower_search import SEARCH_INDEXES
from user_service.adapters.staff_repository import STAFF_INDEXES, StaffRepository, from_doc
from user_service.domain.staff import Staff, new_staff, validate_fields

log = logging.getLogger(__name__)

# The actor recorded on a seeded admin; admins seeded earlier carry the same value.
SEEDED_BY = "bootstrap"

REGISTRY = (
    IndexRegistry(STAFF_INDEXES)
    .merge(IndexRegistry(BORROWER_INDEXES))
    .merge(outbox_indexes())
    .merge(processed_indexes())
)


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "user", REGISTRY)
    es = create_es_client(settings.es_url_or_default())
    try:
        await ensure_indices(es, SEARCH_INDEXES, settings.es_index_prefix)
    except SearchUnavailable:
        # Search is secondary: the service creates the index once Elasticsearch answers.
        log.warning(
            "elasticsearch is unreachable; the borrower search index will be created when "
            "user_service starts (then run `microfinance reindex borrowers` if needed)"
        )
    finally:
        await es.close()


async def seed_admin(
    settings: Settings, *, email: str, full_name: str, branch_id: str = "HQ"
) -> tuple[Staff, bool]:
    """The admin's staff record (idempotent per email), and whether it was created now."""
    fields = validate_fields(
        role=Role.ADMIN.value,
        full_name=full_name,
        email=email,
        phone="",
        branch_id=branch_id,
        phone_region=None,
    )
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-create-admin")
    try:
        db = client[database_name(settings, "user")]
        await IndexRegistry(STAFF_INDEXES).apply(db)
        existing = await db["staff"].find_one({"email": fields["email"]})
        if existing is not None:
            return from_doc(existing), False
        staff = new_staff(uuid.uuid4().hex, fields, actor=SEEDED_BY, at=utcnow())
        await StaffRepository(db).insert(staff)
        return staff, True
    finally:
        await client.close()
