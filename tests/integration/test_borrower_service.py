"""Borrower use cases on real MongoDB, Redis, Elasticsearch and RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from microfinance_cli.backends import free_port
from shared.cache import Cache, create_redis
from shared.config import Settings
from shared.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from shared.events import OutboxRelay, outbox_indexes, processed_indexes
from shared.search import SearchUnavailable, create_es_client
from tests.integration.borrower_support import (
    Env,
    admin,
    borrower_input,
    make_env,
    national_id,
    page,
    unique_number,
)
from tests.integration.support import TcpProxy, eventually
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import BorrowerSearch
from user_service.consumers import BorrowerIndexer, search_consumer
from user_service.domain.borrower import (
    AddressInput,
    Borrower,
    BorrowerInput,
    IdentityDocumentInput,
    RiskProfile,
)
from user_service.reindex import reindex_borrowers

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(mongo_client, mongo_db, es_client, es_prefix, redis_client, redis_prefix) -> Env:
    return await make_env(
        mongo_client, mongo_db, es_client, es_prefix, Cache(redis_client, prefix=redis_prefix)
    )


@pytest.fixture
async def pipeline(env: Env, mongo_client, amqp_url, amqp_names) -> AsyncIterator[BorrowerIndexer]:
    """The outbox relay and the search consumer, as user_service runs them."""
    await outbox_indexes().merge(processed_indexes()).apply(env.db)
    settings = Settings(amqp_url=amqp_url, amqp_exchange=amqp_names.exchange)
    amqp_names.queue("user.borrower-search")  # deleted after the test
    indexer = BorrowerIndexer(env.repo, env.search)
    consumer = search_consumer(settings, mongo_client, env.db, indexer, retry_backoff=0.05)
    relay = OutboxRelay(env.outbox, amqp_url, amqp_names.exchange, poll_interval=0.2)
    await consumer.start()
    await relay.start()
    try:
        yield indexer
    finally:
        await relay.stop()
        await consumer.stop()


async def indexed(env: Env, indexer: BorrowerIndexer, count: int) -> None:
    await eventually(lambda: indexer.indexed >= count, what=f"{count} borrowers indexed")
    await env.search.refresh()


# ------------------------------------------------------------------ scoping


async def test_agents_reach_only_their_own_borrowers(env: Env) -> None:
    a, b = await env.new_agent(), await env.new_agent()
    mine = await env.service.create(a, borrower_input())
    theirs = await env.service.create(b, borrower_input())
    assert mine.assigned_agent_id == a.subject
    assert mine.kyc_status.value == "PENDING"
    assert mine.account_status.value == "ACTIVE"
    assert (await env.service.get(a, mine.id)).id == mine.id

    # Every path by id answers NOT_FOUND, exactly as for an id that does not exist.
    for call in (
        lambda: env.service.get(a, theirs.id),
        lambda: env.service.update(a, theirs.id, BorrowerInput(notes="x"), ["notes"]),
        lambda: env.service.deactivate(a, theirs.id, "moved away"),
        lambda: env.service.reactivate(a, theirs.id),
        lambda: env.service.set_kyc_status(a, theirs.id, "PENDING", ""),
        lambda: env.service.history(a, theirs.id, page()),
        lambda: env.service.get(a, "no-such-id"),
    ):
        with pytest.raises(NotFound) as err:
            await call()
        assert "not found" in str(err.value)

    # The cached copy (b read it, so it is in Redis) is scoped just the same.
    await env.service.get(b, theirs.id)
    with pytest.raises(NotFound):
        await env.service.get(a, theirs.id)

    listed, total = await env.service.list_borrowers(a, _list(agent_id=b.subject), page())
    assert [x.id for x in listed] == [mine.id]
    assert total == 1
    both = await env.service.batch_get(a, [theirs.id, mine.id, "missing"])
    assert [x.id for x in both] == [mine.id]
    everyone = await env.service.batch_get(admin(), [theirs.id, mine.id])
    assert [x.id for x in everyone] == [theirs.id, mine.id]

    with pytest.raises(PermissionDenied):
        await env.service.create(a, borrower_input(assigned_agent_id=b.subject))
    with pytest.raises(PermissionDenied):
        await env.service.create(a, borrower_input(risk_profile="LOW"))


async def test_admin_assigns_new_borrowers_to_an_active_agent(env: Env) -> None:
    boss = admin()
    with pytest.raises(InvalidArgument) as err:
        await env.service.create(boss, borrower_input())
    assert err.value.violations[0].field == "assigned_agent_id"
    with pytest.raises(InvalidArgument):
        await env.service.create(boss, borrower_input(assigned_agent_id="nobody"))
    gone = await env.new_agent(active=False)
    with pytest.raises(FailedPrecondition):
        await env.service.create(boss, borrower_input(assigned_agent_id=gone.subject))
    a = await env.new_agent()
    made = await env.service.create(
        boss, borrower_input(assigned_agent_id=a.subject, risk_profile="HIGH", branch_id="BR-9")
    )
    assert (made.assigned_agent_id, made.risk_profile, made.branch_id) == (
        a.subject, RiskProfile.HIGH, "BR-9"
    )
    assert (await env.service.get(a, made.id)).id == made.id


# ------------------------------------------------------------------ uniqueness


async def test_duplicate_identity_document_names_the_existing_borrower(env: Env) -> None:
    a, b = await env.new_agent(), await env.new_agent()
    number = unique_number("NID")
    first = await env.service.create(a, borrower_input(identity_documents=national_id(number)))
    # Another agent, the number written differently: still the same document.
    spaced = f"{number[:3].lower()} {number[3:]}"
    with pytest.raises(AlreadyExists) as err:
        await env.service.create(b, borrower_input(identity_documents=national_id(spaced)))
    assert err.value.existing_id == first.id
    assert first.id in err.value.message
    assert err.value.violations[0].field == "identity_documents[0].number"
    # Same number, another document type: a different document.
    passport = (IdentityDocumentInput(type="PASSPORT", number=number),)
    await env.service.create(b, borrower_input(identity_documents=passport))
    # Nothing of the refused create was left behind.
    assert await env.repo.count() == 2


async def test_two_concurrent_creates_with_one_national_id_exactly_one_wins(env: Env) -> None:
    agents = [await env.new_agent() for _ in range(4)]
    number = unique_number("RACE")
    results = await asyncio.gather(
        *(
            env.service.create(a, borrower_input(identity_documents=national_id(number)))
            for a in agents
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(e, AlreadyExists) for e in losers), losers
    assert {e.existing_id for e in losers if isinstance(e, AlreadyExists)} == {winners[0].id}
    assert await env.repo.count() == 1
    history = await env.db["borrower_history"].count_documents({})
    events = await env.db["outbox"].count_documents({"type": "borrower.created"})
    assert (history, events) == (1, 1)


async def test_changing_a_document_number_moves_the_unique_key(env: Env) -> None:
    a = await env.new_agent()
    old, new = unique_number("OLD"), unique_number("NEW")
    b1 = await env.service.create(a, borrower_input(identity_documents=national_id(old)))
    b2 = await env.service.create(a, borrower_input())
    await env.service.update(
        a, b1.id, BorrowerInput(identity_documents=national_id(new)), ["identity_documents"]
    )
    # The old number is free again; the new one is taken.
    await env.service.update(
        a, b2.id, BorrowerInput(identity_documents=national_id(old)), ["identity_documents"]
    )
    with pytest.raises(AlreadyExists) as err:
        await env.service.create(a, borrower_input(identity_documents=national_id(new)))
    assert err.value.existing_id == b1.id
    # An update onto a number another borrower holds is refused the same way, and undone.
    with pytest.raises(AlreadyExists) as err:
        await env.service.update(
            a, b2.id, BorrowerInput(identity_documents=national_id(new)), ["identity_documents"]
        )
    assert err.value.existing_id == b1.id
    assert err.value.violations[0].field == "identity_documents[0].number"
    kept = await env.repo.get(b2.id)
    assert (kept.version, kept.profile.identity_keys) == (2, [f"NATIONAL_ID:{old}"])
    assert await env.repo.owner_of(f"NATIONAL_ID:{old}") == b2.id


# ------------------------------------------------------------------ validation


async def test_every_bad_field_is_named(env: Env) -> None:
    a = await env.new_agent()
    bad = borrower_input(
        first_name="",
        last_name="R2D2",
        date_of_birth="2010-02-30",
        gender="ROBOT",
        phone="12",
        email="not-an-email",
        current_address=AddressInput(country="XX"),
        identity_documents=(
            IdentityDocumentInput(
                type="NATIONAL_ID", number="A1", issue_date="2020-01-01", expiry_date="2019-01-01"
            ),
        ),
    )
    with pytest.raises(InvalidArgument) as err:
        await env.service.create(a, bad)
    fields = {v.field for v in err.value.violations}
    assert fields >= {
        "first_name",
        "last_name",
        "date_of_birth",
        "gender",
        "phone",
        "email",
        "current_address.country",
        "identity_documents[0].expiry_date",
    }
    with pytest.raises(InvalidArgument) as err:
        await env.service.create(a, borrower_input(date_of_birth="2009-01-01"))
    assert "at least 18" in err.value.violations[0].description
    assert await env.repo.count() == 0


# ------------------------------------------------------------------ updates, history, cache


async def test_update_is_audited_and_invalidates_the_cache(env: Env) -> None:
    a = await env.new_agent()
    made = await env.service.create(a, borrower_input())
    await env.service.get(a, made.id)  # now cached
    assert await env.cache.get(made.id) is not None

    updated = await env.service.update(
        a,
        made.id,
        BorrowerInput(phone="0722 000 111", current_address=AddressInput(city="Mombasa")),
        ["phone", "current_address.city"],
    )
    assert updated.profile.phone == "+254722000111"  # local format, default region KE
    assert updated.profile.current_address.line1 == "12 Moi Avenue"  # untouched sibling
    assert updated.version == 2
    assert await env.cache.get(made.id) is None
    again = await env.service.get(a, made.id)
    assert again.profile.current_address.city == "Mombasa"
    assert again.version == 2

    # No change at all: no write, no version bump, no history entry.
    same = await env.service.update(a, made.id, BorrowerInput(phone="+254722000111"), ["phone"])
    assert same.version == 2

    entries, total = await env.service.history(a, made.id, page())
    assert total == 2
    newest, created = entries
    assert newest.action.value == "UPDATED"
    assert created.action.value == "CREATED"
    assert newest.actor == a.subject
    assert newest.version == 2
    changes = {c.field: (c.old_value, c.new_value) for c in newest.changes}
    assert changes == {
        "phone": (made.profile.phone, "+254722000111"),
        "current_address.city": ("Nairobi", "Mombasa"),
    }
    assert {c.field for c in created.changes} >= {"first_name", "phone", "identity_documents"}

    with pytest.raises(InvalidArgument):
        await env.service.update(a, made.id, BorrowerInput(), ["kyc_status"])
    with pytest.raises(InvalidArgument):
        await env.service.update(a, made.id, BorrowerInput(), ["current_address.planet"])
    with pytest.raises(PermissionDenied):
        await env.service.update(a, made.id, BorrowerInput(risk_profile="LOW"), ["risk_profile"])
    boss = admin()
    risky = await env.service.update(
        boss, made.id, BorrowerInput(risk_profile="LOW"), ["risk_profile"]
    )
    assert risky.risk_profile is not None
    assert risky.risk_profile.value == "LOW"


class HeldRepository(BorrowerRepository):
    """The real repository, whose next plain read can be held after it has read MongoDB.

    It puts a GetBorrower cache miss exactly between its MongoDB read and its cache
    write, so a concurrent update can commit in between: the race, made deterministic.
    """

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.hold = False
        self.has_read = asyncio.Event()
        self.release = asyncio.Event()

    async def find(self, borrower_id: str, session: Any = None) -> Borrower | None:
        found = await super().find(borrower_id, session)
        if self.hold and session is None:
            self.hold = False
            self.has_read.set()
            await self.release.wait()
        return found


async def test_a_read_that_races_an_update_never_leaves_the_old_version_cached(
    env: Env, mongo_client, es_client, es_prefix, redis_client, redis_prefix
) -> None:
    held = HeldRepository(env.db)
    # A second replica of the service: same MongoDB, same Redis keys, its reads held.
    replica = await make_env(
        mongo_client, env.db, es_client, es_prefix, Cache(redis_client, prefix=redis_prefix),
        repo=held,
    )
    a = await env.new_agent()
    made = await env.service.create(a, borrower_input(notes="first"))

    # 1. The replica's GetBorrower misses the cache and reads version 1 from MongoDB.
    held.hold = True
    reader = asyncio.create_task(replica.service.get(a, made.id))
    await asyncio.wait_for(held.has_read.wait(), 10)
    # 2. An update commits version 2 and invalidates the cache.
    updated = await env.service.update(a, made.id, BorrowerInput(notes="second"), ["notes"])
    assert updated.version == 2
    # 3. The replica's read now finishes and tries to cache what it read: version 1.
    held.release.set()
    assert (await asyncio.wait_for(reader, 10)).version == 1  # it began before the update

    # Version 1 must not be what the cache serves from now on.
    cached = await env.cache.get(made.id)
    assert cached is None or cached.version == 2
    for service in (env.service, replica.service):
        got = await service.get(a, made.id)
        assert (got.version, got.profile.notes) == (2, "second")
    # The read after the update filled the cache with version 2.
    cached = await env.cache.get(made.id)
    assert cached is not None
    assert cached.version == 2


async def test_versions_guard_concurrent_updates(env: Env) -> None:
    a = await env.new_agent()
    made = await env.service.create(a, borrower_input())
    with pytest.raises(Conflict):
        await env.service.update(
            a, made.id, BorrowerInput(notes="late"), ["notes"], expected_version=7
        )
    # Unpinned concurrent updates of different fields: both land, none is lost.
    await asyncio.gather(
        env.service.update(a, made.id, BorrowerInput(notes="from one"), ["notes"]),
        env.service.update(
            a, made.id, BorrowerInput(current_address=AddressInput(city="Kisumu")),
            ["current_address.city"],
        ),
    )
    final = await env.repo.get(made.id)
    assert final.profile.notes == "from one"
    assert final.profile.current_address.city == "Kisumu"
    assert final.version == 3


async def test_kyc_and_lifecycle_rules(env: Env) -> None:
    a, other = await env.new_agent(), await env.new_agent()
    boss = admin()
    made = await env.service.create(a, borrower_input())

    with pytest.raises(PermissionDenied):
        await env.service.set_kyc_status(a, made.id, "VERIFIED", "looks fine")
    with pytest.raises(InvalidArgument):
        await env.service.set_kyc_status(boss, made.id, "REJECTED", "")  # a reason is needed
    verified = await env.service.set_kyc_status(boss, made.id, "VERIFIED", "documents seen")
    assert verified.kyc_status.value == "VERIFIED"
    assert verified.kyc_note == "documents seen"
    # A changed identity has to be verified again.
    renamed = await env.service.update(a, made.id, BorrowerInput(last_name="Otieno"), ["last_name"])
    assert renamed.kyc_status.value == "PENDING"
    # Changing the notes does not touch KYC.
    await env.service.set_kyc_status(boss, made.id, "VERIFIED", "again")
    noted = await env.service.update(a, made.id, BorrowerInput(notes="tea seller"), ["notes"])
    assert noted.kyc_status.value == "VERIFIED"

    with pytest.raises(InvalidArgument):
        await env.service.deactivate(a, made.id, "  ")
    off = await env.service.deactivate(a, made.id, "moved to another town")
    assert (off.account_status.value, off.deactivation_reason) == (
        "INACTIVE", "moved to another town"
    )
    with pytest.raises(FailedPrecondition):
        await env.service.deactivate(a, made.id, "again")
    on = await env.service.reactivate(a, made.id, "came back")
    assert on.account_status.value == "ACTIVE"
    assert on.deactivation_reason == ""
    with pytest.raises(FailedPrecondition):
        await env.service.reactivate(a, made.id)

    with pytest.raises(PermissionDenied):
        await env.service.blacklist(a, made.id, "fraud")
    black = await env.service.blacklist(boss, made.id, "forged payslip")
    assert black.account_status.value == "BLACKLISTED"
    with pytest.raises(PermissionDenied):
        await env.service.reactivate(a, made.id)
    await env.service.reactivate(boss, made.id, "cleared by audit")

    with pytest.raises(PermissionDenied):
        await env.service.reassign(a, made.id, other.subject)
    with pytest.raises(FailedPrecondition):
        await env.service.reassign(boss, made.id, a.subject)
    inactive = await env.new_agent(active=False)
    with pytest.raises(FailedPrecondition):
        await env.service.reassign(boss, made.id, inactive.subject)
    moved = await env.service.reassign(boss, made.id, other.subject, "territory change")
    assert moved.assigned_agent_id == other.subject
    with pytest.raises(NotFound):
        await env.service.get(a, made.id)
    assert (await env.service.get(other, made.id)).id == made.id

    entries, _ = await env.service.history(boss, made.id, page())
    actions = [e.action.value for e in entries]
    assert actions[0] == "REASSIGNED"
    assert actions[-1] == "CREATED"
    assert entries[0].reason == "territory change"
    assert {"BLACKLISTED", "DEACTIVATED", "REACTIVATED", "KYC_STATUS_CHANGED"} <= set(actions)
    versions = [e.version for e in entries]
    assert versions == sorted(versions, reverse=True)
    assert len(set(versions)) == len(versions)
    events = [d["type"] async for d in env.db["outbox"].find({"aggregate_id": made.id})]
    assert {"borrower.created", "borrower.updated", "borrower.blacklisted",
            "borrower.reassigned", "borrower.kyc_status_changed"} <= set(events)


def _list(**kw: str) -> Any:
    from user_service.borrower_service import ListQuery

    return ListQuery(**kw)


async def test_list_filters_sorts_and_pages(env: Env) -> None:
    a, b = await env.new_agent(), await env.new_agent()
    boss = admin()
    names = ["Zawadi", "amani", "Baraka", "Éric"]
    made = [await env.service.create(a, borrower_input(last_name=n)) for n in names]
    await env.service.create(b, borrower_input(last_name="Other"))
    await env.service.deactivate(a, made[0].id, "left")
    await env.service.set_kyc_status(boss, made[1].id, "VERIFIED", "ok")

    got, total = await env.service.list_borrowers(a, _list(), page(order_by="last_name"))
    assert [x.profile.last_name for x in got] == ["amani", "Baraka", "Éric", "Zawadi"]
    assert total == 4
    first, _ = await env.service.list_borrowers(a, _list(), page(size=3, order_by="created_at"))
    assert [x.id for x in first] == [m.id for m in made[:3]]
    token = page(size=3, order_by="created_at").next_token(3, 4)
    rest, _ = await env.service.list_borrowers(
        a, _list(), page(size=3, token=token, order_by="created_at")
    )
    assert [x.id for x in rest] == [made[3].id]

    inactive, _ = await env.service.list_borrowers(a, _list(account_status="INACTIVE"), page())
    assert [x.id for x in inactive] == [made[0].id]
    verified, _ = await env.service.list_borrowers(boss, _list(kyc_status="VERIFIED"), page())
    assert [x.id for x in verified] == [made[1].id]
    by_agent, n = await env.service.list_borrowers(boss, _list(agent_id=b.subject), page())
    assert n == 1
    assert by_agent[0].assigned_agent_id == b.subject
    day = made[0].created_at.date().isoformat() if made[0].created_at else ""
    _in_range, n = await env.service.list_borrowers(
        a, _list(created_from=day, created_to=day), page()
    )
    assert n == 4
    _, n = await env.service.list_borrowers(a, _list(created_from="2001-01-01",
                                                     created_to="2001-12-31"), page())
    assert n == 0
    with pytest.raises(InvalidArgument):
        await env.service.list_borrowers(a, _list(created_from="2026-13-01"), page())
    with pytest.raises(InvalidArgument):
        await env.service.list_borrowers(a, _list(kyc_status="MAYBE"), page())


# ------------------------------------------------------------------ search


async def test_search_through_the_outbox_finds_misspellings_phones_and_ids(
    env: Env, pipeline: BorrowerIndexer
) -> None:
    a, b = await env.new_agent(), await env.new_agent()
    muhammad = await env.service.create(
        a, borrower_input(first_name="Muhammad", last_name="Hassan", phone="+254 712 345 678")
    )
    jose = await env.service.create(a, borrower_input(first_name="José", last_name="Mwangi"))
    number = unique_number("A")
    amina = await env.service.create(
        a, borrower_input(identity_documents=national_id(number))
    )
    elsewhere = await env.service.create(b, borrower_input(first_name="Mohamed", last_name="Ali"))
    await indexed(env, pipeline, 4)

    async def ids(caller: Any, q: str) -> list[str]:
        found, _ = await env.service.search(caller, q, page())
        return [x.id for x in found]

    assert (await ids(a, "Mohamed"))[:1] == [muhammad.id]  # three edits away: sounds-like
    assert (await ids(a, "Muhamad Hasan"))[:1] == [muhammad.id]  # typos in both words
    assert (await ids(a, "Jose"))[:1] == [jose.id]  # no accent typed
    assert (await ids(a, "josé mwan"))[:1] == [jose.id]  # prefix of the last name
    assert (await ids(a, "0712345678"))[:1] == [muhammad.id]  # local format
    assert (await ids(a, "+254-712-345678"))[:1] == [muhammad.id]
    assert (await ids(a, "254712345678"))[:1] == [muhammad.id]
    assert (await ids(a, number.lower()))[:1] == [amina.id]  # ID number, any case
    # Scope: agent a never sees b's Mohamed; the admin sees both spellings.
    assert elsewhere.id not in await ids(a, "Mohamed Ali")
    assert {muhammad.id, elsewhere.id} <= set(await ids(admin(), "Mohamed"))

    # Updates reach the index through the outbox too.
    await env.service.update(a, jose.id, BorrowerInput(last_name="Kamau"), ["last_name"])
    await indexed(env, pipeline, 5)
    assert (await ids(a, "Kamau"))[:1] == [jose.id]
    await env.service.deactivate(a, jose.id, "left")
    await indexed(env, pipeline, 6)
    found, _ = await env.service.search(a, "Kamau", page(), account_status="ACTIVE")
    assert found == []

    with pytest.raises(InvalidArgument):
        await env.service.search(a, "   ", page())


async def test_search_rechecks_status_and_scope_against_mongodb(env: Env) -> None:
    """The index may lag a deactivation or a reassignment; MongoDB has the last word."""
    boss = admin()
    a, b = await env.new_agent(), await env.new_agent()
    gone = await env.service.create(a, borrower_input(first_name="Zawadi", last_name="Otieno"))
    moved = await env.service.create(a, borrower_input(first_name="Zawadi", last_name="Banda"))
    assert await env.search.put(gone)
    assert await env.search.put(moved)
    await env.search.refresh()
    # Changed in MongoDB; the index still has the old copies (nothing relays here).
    await env.service.deactivate(a, gone.id, "moved away")
    await env.service.reassign(boss, moved.id, b.subject, "territory")
    found, _ = await env.service.search(a, "zawadi", page(), account_status="ACTIVE")
    assert found == []
    everything, _ = await env.service.search(boss, "zawadi", page(), account_status="ACTIVE")
    assert [x.id for x in everything] == [moved.id]


async def test_search_is_unavailable_while_es_is_down_and_reindex_catches_up(
    env: Env, mongo_client, es_client, es_prefix
) -> None:
    dead = create_es_client(f"http://127.0.0.1:{free_port()}", request_timeout=1.0)
    try:
        # The same database, a search backend nobody answers at, and no Redis at all.
        outage = await make_env(mongo_client, env.db, dead, es_prefix, Cache(None))
        a = await outage.new_agent()
        made = await outage.service.create(a, borrower_input(first_name="Wanjiru"))
        assert (await outage.service.get(a, made.id)).id == made.id
        with pytest.raises(SearchUnavailable) as err:
            await outage.service.search(a, "Wanjiru", page())
        assert "unavailable" in str(err.value)
    finally:
        await dead.close()

    result = await reindex_borrowers(env.db, es_client, es_prefix)
    assert (result.total, result.indexed) == (1, 1)
    found, total = await env.service.search(a, "Wanjru", page())
    assert [x.id for x in found] == [made.id]
    assert total == 1
    # Running it again changes nothing (same versions).
    again = await reindex_borrowers(env.db, es_client, es_prefix)
    assert again.total == 1


async def test_index_writes_missed_by_a_crash_or_an_outage_catch_up_from_the_outbox(
    env: Env, mongo_client, amqp_url, amqp_names, es_url
) -> None:
    a = await env.new_agent()
    # Committed while no relay runs, as when the process dies right after the commit:
    # the event waits in the outbox.
    before = await env.service.create(a, borrower_input(first_name="Nyokabi"))

    # The pipeline starts with Elasticsearch unreachable (behind a cut proxy).
    target = urlsplit(es_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 9200).start()
    await proxy.cut()
    es = create_es_client(proxy.url("http://"), request_timeout=1.0)
    await outbox_indexes().merge(processed_indexes()).apply(env.db)
    settings = Settings(amqp_url=amqp_url, amqp_exchange=amqp_names.exchange)
    amqp_names.queue("user.borrower-search")
    indexer = BorrowerIndexer(env.repo, BorrowerSearch(es, env.search.prefix))
    consumer = search_consumer(
        settings, mongo_client, env.db, indexer, retry_backoff=0.05, retry_backoff_max=0.2
    )
    relay = OutboxRelay(env.outbox, amqp_url, amqp_names.exchange, poll_interval=0.2)
    await consumer.start()
    await relay.start()
    try:
        # Writes go on succeeding while the index cannot be written.
        during = await env.service.create(
            a, borrower_input(first_name="Nyokabi", last_name="Kariuki")
        )
        await env.service.update(a, before.id, BorrowerInput(notes="seen"), ["notes"])
        await eventually(lambda: indexer.failed >= 3, what="index attempts failing")
        assert indexer.indexed == 0
        # Elasticsearch is back: the retried events index everything, no reindex needed.
        await proxy.restore()
        await eventually(lambda: indexer.indexed >= 3, what="the backlog indexed")
    finally:
        await relay.stop()
        await consumer.stop()
        await es.close()
        await proxy.close()
    await env.search.refresh()
    found, total = await env.service.search(a, "Nyokabi", page())
    assert {x.id for x in found} == {before.id, during.id}
    assert total == 2
    stored = await env.search.es.get(index=env.search.index, id=before.id)
    assert stored["_source"]["version"] == 2  # the update, not only the create


async def test_get_works_with_redis_down(env: Env, mongo_client, es_client, es_prefix) -> None:
    dead_redis = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        outage = await make_env(
            mongo_client, env.db, es_client, es_prefix, Cache(dead_redis, breaker_seconds=60)
        )
        a = await outage.new_agent()
        made = await outage.service.create(a, borrower_input())
        for _ in range(3):
            assert (await outage.service.get(a, made.id)).id == made.id
        updated = await outage.service.update(a, made.id, BorrowerInput(notes="n"), ["notes"])
        assert updated.version == 2
        assert (await outage.service.get(a, made.id)).profile.notes == "n"
    finally:
        await dead_redis.aclose()
