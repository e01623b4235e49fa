"""MongoDB plumbing shared by every service: client factory, indexes, transactions.

Clients are created inside the running event loop (``AsyncMongoClient`` binds
to it), never at import time. Uniqueness is enforced by unique indexes, and a
duplicate key becomes ``AlreadyExists`` through ``duplicate_key_to_error``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict, TypeVar

import pymongo
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from shared.clock import utcnow
from shared.errors import AlreadyExists, Conflict, FieldViolation, Unavailable

log = logging.getLogger(__name__)

Document = dict[str, Any]
MongoClient = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
T = TypeVar("T")



class Stamped(Protocol):
    """A record that says who created and last changed it, when, and its version."""

    @property
    def created_by(self) -> str: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def updated_by(self) -> str: ...
    @property
    def updated_at(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...


class Stamps(TypedDict):
    created_by: str
    created_at: datetime | None
    updated_by: str
    updated_at: datetime | None
    version: int


def stamps_doc(record: Stamped) -> Stamps:
    """The stamps of ``record`` as stored, beside its own fields."""
    return {
        "created_by": record.created_by,
        "created_at": record.created_at,
        "updated_by": record.updated_by,
        "updated_at": record.updated_at,
        "version": record.version,
    }


def stamps_from_doc(doc: Document) -> Stamps:
    """The stamps of a stored record, for its constructor; older records may lack some."""
    return {
        "created_by": doc.get("created_by", ""),
        "created_at": doc.get("created_at"),
        "updated_by": doc.get("updated_by", ""),
        "updated_at": doc.get("updated_at"),
        "version": int(doc.get("version", 1)),
    }


DUPLICATE_KEY = 11000
_INDEX_CONFLICT_CODES = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict
_INDEX_NAME_RE = re.compile(r"index: (\S+) dup key")
MIGRATIONS_COLLECTION = "schema_migrations"


def create_mongo_client(
    url: str,
    app_name: str,
    *,
    server_selection_timeout_ms: int = 5_000,
    connect_timeout_ms: int = 5_000,
    max_pool_size: int = 100,
    **options: Any,
) -> MongoClient:
    """A client bound to the running loop. Nothing connects until the first operation."""
    asyncio.get_running_loop()  # raises outside a loop: clients must not be made at import time
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        tzinfo=UTC,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=connect_timeout_ms,
        maxPoolSize=max_pool_size,
        retryWrites=True,
        retryReads=True,
        **options,
    )


async def ping(client: MongoClient, deadline_seconds: float = 2.0) -> bool:
    """True when the server answers; used by health checks, so it never raises."""
    try:
        with pymongo.timeout(deadline_seconds):
            await client.admin.command("ping")
        return True
    except PyMongoError:
        return False


# --------------------------------------------------------------- indexes --
Migration = Callable[[Database], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _NamedMigration:
    id: str
    run: Migration


class IndexRegistry:
    """The indexes (and one-off data migrations) a service declares for its database.

    ``apply`` is idempotent: existing identical indexes are left alone, an
    index whose definition changed is dropped and rebuilt, and each migration
    runs once (recorded in ``schema_migrations``).
    """

    def __init__(self, indexes: Mapping[str, Sequence[IndexModel]] | None = None) -> None:
        self._indexes: dict[str, list[IndexModel]] = {}
        self._migrations: list[_NamedMigration] = []
        for collection, models in (indexes or {}).items():
            self.add(collection, *models)

    def add(self, collection: str, *models: IndexModel) -> IndexRegistry:
        self._indexes.setdefault(collection, []).extend(models)
        return self

    def merge(self, other: IndexRegistry) -> IndexRegistry:
        for collection, models in other._indexes.items():
            self.add(collection, *models)
        self._migrations.extend(other._migrations)
        return self

    def migration(self, migration_id: str) -> Callable[[Migration], Migration]:
        """Decorator: register a data migration that runs once, in registration order."""

        def register(fn: Migration) -> Migration:
            if any(m.id == migration_id for m in self._migrations):
                raise ValueError(f"migration {migration_id!r} is registered twice")
            self._migrations.append(_NamedMigration(migration_id, fn))
            return fn

        return register

    @property
    def collections(self) -> dict[str, list[IndexModel]]:
        return {name: list(models) for name, models in self._indexes.items()}

    async def apply(self, db: Database) -> dict[str, list[str]]:
        """Create every declared index and run pending migrations; returns index names."""
        created: dict[str, list[str]] = {}
        for collection, models in self._indexes.items():
            if models:
                created[collection] = await _ensure_indexes(db, collection, models)
        await self._run_migrations(db)
        return created

    async def _run_migrations(self, db: Database) -> None:
        if not self._migrations:
            return
        done_coll = db[MIGRATIONS_COLLECTION]
        done = {doc["_id"] async for doc in done_coll.find({}, {"_id": 1})}
        for migration in self._migrations:
            if migration.id in done:
                continue
            log.info("running migration %s on %s", migration.id, db.name)
            await migration.run(db)
            # Recorded after it ran: a migration must itself be safe to re-run
            # if the process dies in between.
            await done_coll.update_one(
                {"_id": migration.id}, {"$setOnInsert": {"applied_at": utcnow()}}, upsert=True
            )


async def _ensure_indexes(db: Database, collection: str, models: Sequence[IndexModel]) -> list[str]:
    try:
        return await db[collection].create_indexes(list(models))
    except OperationFailure as exc:
        if exc.code not in _INDEX_CONFLICT_CODES:
            raise
    # A declared index changed (same name, new options): rebuild them one by one.
    names: list[str] = []
    for model in models:
        spec = model.document
        try:
            names.extend(await db[collection].create_indexes([model]))
        except OperationFailure as exc:
            if exc.code not in _INDEX_CONFLICT_CODES:
                raise
            log.warning("index %s.%s changed; rebuilding it", collection, spec["name"])
            await db[collection].drop_index(spec["name"])
            names.extend(await db[collection].create_indexes([model]))
    return names


# ---------------------------------------------------------- duplicate keys --
def is_duplicate_key(exc: BaseException) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
    return isinstance(exc, OperationFailure) and exc.code == DUPLICATE_KEY


def _duplicate_details(exc: PyMongoError) -> Mapping[str, Any]:
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return errors[0] if errors else {}
    if isinstance(exc, OperationFailure):
        return exc.details or {}
    return {}


def duplicate_key_index(exc: PyMongoError) -> str | None:
    """The name of the unique index that was violated, when the server says."""
    match = _INDEX_NAME_RE.search(str(_duplicate_details(exc).get("errmsg", "")))
    return match.group(1) if match else None


def duplicate_key_fields(exc: PyMongoError) -> list[str]:
    """The keys of the violated unique index (from ``keyPattern``), e.g. ``["email"]``."""
    pattern = _duplicate_details(exc).get("keyPattern") or {}
    return list(pattern)


def duplicate_key_to_error(
    exc: PyMongoError,
    message: str,
    field: str | None = None,
    *,
    existing_id: str | None = None,
) -> AlreadyExists:
    """Map a duplicate-key failure (code 11000) to ``AlreadyExists``.

    Use as ``except DuplicateKeyError as exc: raise duplicate_key_to_error(exc, ...) from exc``.
    Anything that is not a duplicate key is a programming error and re-raised.
    """
    if not is_duplicate_key(exc):
        raise exc
    violations = [FieldViolation(field, "already exists")] if field else []
    return AlreadyExists(message, violations=violations, existing_id=existing_id)


# ------------------------------------------------------------- transactions --
_TXN_WRITE_CONCERN = WriteConcern("majority")
_TXN_READ_CONCERN = ReadConcern("snapshot")


async def _commit(session: AsyncClientSession) -> None:
    # The commit itself may be retried when its outcome is unknown (network
    # blip): commitTransaction is idempotent for the same transaction. Not when no
    # server could be selected: that already waited the whole selection timeout.
    for attempt in range(3):
        try:
            await session.commit_transaction()
            return
        except PyMongoError as exc:
            if (
                exc.has_error_label("UnknownTransactionCommitResult")
                and not isinstance(exc, ServerSelectionTimeoutError)
                and attempt < 2
            ):
                continue
            raise


# What to tell once a transaction ends, per session (weak: a session never run through
# ``transaction`` must not keep its callbacks alive).
TransactionOutcome = bool | None
_ON_END: weakref.WeakKeyDictionary[
    AsyncClientSession, list[Callable[[TransactionOutcome], None]]
] = weakref.WeakKeyDictionary()


def on_transaction_end(
    session: AsyncClientSession, callback: Callable[[TransactionOutcome], None]
) -> None:
    """Have ``transaction`` call ``callback(outcome)`` when ``session``'s transaction ends.

    ``outcome`` is True once committed, False when it aborted before committing (nothing
    was written), None when the commit itself failed (it may or may not have committed).
    Callbacks run in the committing task, right after the commit, before anything else
    runs; they must be quick and not raise (a raise is logged and ignored).
    """
    _ON_END.setdefault(session, []).append(callback)


def _ended(session: AsyncClientSession, outcome: TransactionOutcome) -> None:
    for callback in _ON_END.pop(session, ()):
        try:
            callback(outcome)
        except Exception:
            log.exception("a transaction-end callback failed")


# How long ending a failed transaction may take (its abort, or a commit that never went
# out), counted apart from the request's own budget.
_END_SECONDS = 2.0
# Endings still running after their request answered; held so they are not collected.
_ENDINGS: set[asyncio.Task[None]] = set()


async def _end(session: AsyncClientSession, finish: Callable[[], Awaitable[None]]) -> None:
    try:
        with pymongo.timeout(_END_SECONDS):
            await finish()
    except PyMongoError:
        log.debug("ending a failed transaction also failed", exc_info=True)
    finally:
        await session.end_session()


def _end_apart(
    session: AsyncClientSession, finish: Callable[[], Awaitable[None]]
) -> asyncio.Task[None]:
    """Run ``finish`` (an abort or a commit) and end the session in a task of its own, with
    its own short time budget: a request's budget may be spent already (that is often why
    its transaction failed), and ``pymongo.timeout`` blocks nest, the earliest deadline
    winning, so inside it the abort would fail before it was sent. The transaction would
    then stay open on the server, holding its documents (a loan) against every other writer
    until the server's transaction lifetime (60 s) ends it."""
    # An empty context: none of the request's budget, whatever awaits the task.
    task = asyncio.get_running_loop().create_task(
        _end(session, finish), context=contextvars.Context()
    )
    _ENDINGS.add(task)
    task.add_done_callback(_ENDINGS.discard)
    return task


@asynccontextmanager
async def transaction(client: MongoClient) -> AsyncIterator[AsyncClientSession]:
    """One multi-document transaction: ``async with transaction(client) as session``.

    Pass ``session=session`` to every operation in the block. It commits when
    the block ends and aborts when it raises. A transient failure (a write
    conflict with another transaction) is raised as ``Conflict`` (ABORTED,
    safe to retry); use ``run_in_transaction`` to have it retried for you.
    A lost connection (the server down or restarting) is raised as
    ``Unavailable``, though the driver labels it transient too: it is an outage,
    not a conflict, and nothing of the transaction was committed unless the
    commit itself was under way (then the caller's retry must be idempotent).

    A failed transaction is always ended on the server, even once the time budget
    (``time_budget``) is spent or the task cancelled: aborted, or, when the commit's
    outcome is unknown (it may never have been sent), committed again, which settles it
    either way. After an outage, a spent budget or a cancel that runs apart, so the
    answer is not held up; otherwise it is awaited.
    """
    session = client.start_session()
    ending: asyncio.Task[None] | None = None
    try:
        await session.start_transaction(
            read_concern=_TXN_READ_CONCERN, write_concern=_TXN_WRITE_CONCERN
        )
        committing = False
        try:
            yield session
            committing = True
            await _commit(session)
        except BaseException as exc:
            # A commit refused as transient (a write conflict) did not happen either.
            transient = isinstance(exc, PyMongoError) and exc.has_error_label(
                "TransientTransactionError"
            )
            unknown = committing and not transient
            _ended(session, None if unknown else False)
            if session.in_transaction:
                ending = _end_apart(session, session.abort_transaction)
            elif unknown:
                ending = _end_apart(session, session.commit_transaction)
            if ending is not None and not (
                isinstance(exc, asyncio.CancelledError) or is_outage(exc)
            ):
                await asyncio.shield(ending)
            if isinstance(exc, PyMongoError) and is_outage(exc):
                raise unavailable(exc) from exc
            if transient:
                raise Conflict("the write conflicted with a concurrent change; retry") from exc
            raise
        _ended(session, True)
    finally:
        if ending is None:
            await session.end_session()


def _worth_retrying(exc: Unavailable) -> bool:
    """A connection that broke at once (a pooled socket to a restarted server) may work on
    the next try; a server selection that timed out, or a spent time budget, has already
    waited long enough."""
    cause = exc.__cause__
    return (
        isinstance(cause, ConnectionFailure)
        and not isinstance(cause, ServerSelectionTimeoutError)
        and not cause.timeout
    )


async def run_in_transaction(
    client: MongoClient,
    body: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """Run ``body(session)`` in a transaction, re-running it on transient conflicts.

    ``body`` must be safe to re-run: it reads what it needs through the session.
    After ``attempts`` conflicts the ``Conflict`` (ABORTED) reaches the caller. A
    connection that broke at once is retried once; an outage (no server to select)
    reaches the caller as ``Unavailable`` at once, so the request fails inside its
    deadline.
    """
    reconnected = False
    for attempt in range(1, attempts + 1):
        try:
            async with transaction(client) as session:
                return await body(session)
        except Unavailable as exc:
            if reconnected or attempt == attempts or not _worth_retrying(exc):
                raise
            reconnected = True
        except Conflict:
            if attempt == attempts:
                raise
            # Jittered backoff so two writers don't collide again in lockstep.
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


# ----------------------------------------------------------------- errors --
DATABASE_UNAVAILABLE = "the database is unavailable, try again shortly"


def is_outage(exc: BaseException | None) -> bool:
    """The database could not answer now: a lost connection, no server to select, or the
    request's time budget spent (``time_budget``). UNAVAILABLE, unlike a refused operation."""
    return isinstance(exc, ConnectionFailure) or (isinstance(exc, PyMongoError) and exc.timeout)


def time_budget(seconds: float | None) -> AbstractContextManager[None]:
    """Every operation in the block ends within ``seconds`` of entering it, retries and
    server selection included (the driver's client-side operation timeout); None: no bound.
    A request's budget is what is left of its deadline, so an outage answers in time."""
    return pymongo.timeout(max(0.01, seconds)) if seconds is not None else nullcontext()


def unavailable(exc: PyMongoError, what: str = "the database") -> Unavailable:
    """Map a lost connection / server selection timeout to UNAVAILABLE; the driver's
    text (addresses, timeouts) is logged, not sent."""
    log.warning("%s is unavailable (%s: %.200s)", what, type(exc).__name__, exc)
    return Unavailable(f"{what} is unavailable, try again shortly")


__all__ = [
    "DATABASE_UNAVAILABLE",
    "DUPLICATE_KEY",
    "Database",
    "Document",
    "IndexRegistry",
    "MongoClient",
    "create_mongo_client",
    "duplicate_key_fields",
    "duplicate_key_index",
    "duplicate_key_to_error",
    "is_duplicate_key",
    "is_outage",
    "on_transaction_end",
    "ping",
    "run_in_transaction",
    "time_budget",
    "transaction",
    "unavailable",
]
