"""`microfinance backup` and `microfinance restore`: every service database, consistent.

Backup reads every collection of every service database (``<MF_MONGO_DB>_<service>``) at
one point in time, and says which way it got there (``Mode``):

* ``snapshot``: MongoDB 5.0+ as a replica set. A snapshot session: the first read picks a
  cluster time and every later read, in any database, reads at it. The server keeps that
  history for ``minSnapshotHistoryWindowInSeconds`` (300 s by default); a longer backup
  fails with SnapshotTooOld rather than mixing times.
* ``transaction``: the embedded stand-in (secantusdb). It accepts snapshot sessions but
  does not pin their reads (checked: a write made between two snapshot reads shows in
  the second), so it would be silently inconsistent. Reads inside one multi-document
  transaction are pinned, across databases, so the backup reads in a read-only
  transaction, which it aborts at the end. The stand-in ends a transaction idle for 60 s;
  the backup never idles that long.
* ``offline``: any server, with every service stopped (their health probes unreachable),
  so nothing writes while the collections are read one after another.

On a standalone MongoDB, or one older than 5.0, backup refuses unless ``--offline``.

Restore checks the whole backup first (``backup_files.verify``), refuses a target that
holds any document unless told to drop it, writes each collection (options, documents,
then indexes), removes the target's cached borrowers and reports from Redis, and rebuilds
both search indexes from the restored data.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern

from microfinance_cli.backup_files import (
    BackupInvalid,
    CollectionEntry,
    CollectionWriter,
    DatabaseEntry,
    Manifest,
    collection_file,
    from_canonical,
    read_documents,
    to_canonical,
    verify,
    write_manifest,
)
from microfinance_cli.services import SERVICES
from shared.config import Settings
from shared.mongo import MongoClient, create_mongo_client
from shared.runtime import database_name

Say = Callable[[str], None]
RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
# The services that own a database, in start order.
DATA_SERVICES: tuple[str, ...] = tuple(s.name for s in SERVICES if s.kind == "grpc")
_INSERT_DOCS = 5_000  # measured: 25 s -> 19 s for 47k documents on the stand-in
_INSERT_BYTES = 16 << 20
_BATCH = 1_000


class Mode(StrEnum):
    SNAPSHOT = "snapshot"
    TRANSACTION = "transaction"
    OFFLINE = "offline"


NOTES = {
    Mode.SNAPSHOT: "every collection read in one snapshot session, at one cluster time",
    Mode.TRANSACTION: "every collection read in one read-only multi-document transaction "
    "(one storage snapshot); the stand-in does not pin snapshot-session reads",
    Mode.OFFLINE: "services stopped (every health probe unreachable) while the "
    "collections were read one after another; nothing is pinned",
}


class BackupRefused(Exception):
    """The backup or restore would not be what it claims; nothing was written."""


@dataclass(frozen=True, slots=True)
class Server:
    version: tuple[int, ...]
    replica_set: str | None
    stand_in: str | None  # the stand-in's own version, when it is one

    def describe(self) -> str:
        mongo = ".".join(map(str, self.version[:3]))
        role = f"replica set {self.replica_set}" if self.replica_set else "standalone"
        if self.stand_in:
            return f"secantusdb {self.stand_in} (reports MongoDB {mongo}, {role})"
        return f"MongoDB {mongo}, {role}"


async def describe_server(client: MongoClient) -> Server:
    info = await client.admin.command("buildInfo")
    hello = await client.admin.command("hello")
    stand_in = info.get("secantusVersion")
    return Server(
        version=tuple(int(v) for v in info.get("versionArray", [0])[:3]),
        replica_set=hello.get("setName"),
        stand_in=str(stand_in) if stand_in else None,
    )


def choose_mode(server: Server, offline: bool) -> Mode:
    """The one way this server can give a consistent backup, or a refusal saying why."""
    if offline:
        return Mode.OFFLINE
    if server.stand_in:
        return Mode.TRANSACTION
    if server.replica_set is None:
        raise BackupRefused(
            f"{server.describe()}: a standalone server has no point-in-time reads. "
            "Stop the services and run `microfinance backup --offline`, or run MongoDB "
            "as a replica set (one node is enough)"
        )
    if server.version < (5, 0):
        raise BackupRefused(
            f"{server.describe()}: snapshot reads need MongoDB 5.0 or newer. Stop the "
            "services and run `microfinance backup --offline`"
        )
    return Mode.SNAPSHOT


async def services_answering(settings: Settings) -> list[str]:
    """The data services whose health probe gets any answer (SERVING or not)."""
    from microfinance_cli.health import UNREACHABLE, probe_all

    chosen = [s for s in SERVICES if s.kind == "grpc"]
    probes = await probe_all(chosen, settings, rpc_timeout=2.0)
    return [f"{p.name} ({p.status} at {p.target})" for p in probes if p.status != UNREACHABLE]


# ---- backup ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    service: str
    db: str
    # name -> (options, index specs), listed before the reads.
    collections: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = field(
        default_factory=dict
    )


async def _list(client: MongoClient, service: str, name: str) -> _Plan:
    plan = _Plan(service, name)
    db = client[name]
    async for info in await db.list_collections():
        coll = str(info["name"])
        if coll.startswith("system."):
            continue
        if info.get("type", "collection") != "collection":
            raise BackupRefused(f"{name}.{coll} is a {info['type']}; only collections are "
                                "backed up")
        indexes = [dict(spec) async for spec in await db[coll].list_indexes()]
        plan.collections[coll] = (dict(info.get("options", {})), indexes)
    return plan


async def _names(client: MongoClient, plans: Sequence[_Plan]) -> list[set[str]]:
    return [
        {n for n in await client[p.db].list_collection_names() if not n.startswith("system.")}
        for p in plans
    ]


@asynccontextmanager
async def _reading(client: MongoClient, mode: Mode) -> AsyncIterator[AsyncClientSession | None]:
    """The session every read goes through: pinned in the way ``mode`` says."""
    if mode is Mode.OFFLINE:
        yield None
        return
    if mode is Mode.SNAPSHOT:
        async with client.start_session(snapshot=True, causal_consistency=False) as session:
            yield session
        return
    async with client.start_session() as session:
        await session.start_transaction(read_concern=ReadConcern("snapshot"))
        try:
            yield session
        finally:
            if session.in_transaction:
                await session.abort_transaction()  # read-only: nothing to commit


async def _pin(client: MongoClient, plans: Sequence[_Plan], session: Any) -> str | None:
    """Makes the first read, which fixes the point in time; returns its cluster time."""
    first = next(((p.db, c) for p in plans for c in sorted(p.collections)), None)
    db, coll = first or (plans[0].db if plans else "admin", "__backup_pin__")
    await client[db][coll].find_one({}, {"_id": 1}, session=session)
    when = session.operation_time if session is not None else None
    return f"{when.time}.{when.inc}" if when is not None else None


async def _dump(
    client: MongoClient, plan: _Plan, session: Any, root: Path, say: Say
) -> DatabaseEntry:
    entry = DatabaseEntry(plan.service, plan.db)
    # Raw documents: the bytes go to the file as the server sent them, never decoded.
    db = cast(AsyncDatabase[RawBSONDocument], client.get_database(plan.db, codec_options=RAW))
    for name, (options, indexes) in sorted(plan.collections.items()):
        writer = CollectionWriter(root, collection_file(plan.db, name))
        try:
            async for doc in db[name].find({}, session=session, batch_size=_BATCH):
                writer.write(doc)
        finally:
            size, digest = writer.close()
        entry.collections.append(CollectionEntry(
            name=name, file=writer.relative, documents=writer.documents, bytes=size,
            sha256=digest, options=to_canonical(options),
            indexes=[to_canonical(spec) for spec in indexes],
        ))
        say(f"  {plan.db}.{name}: {writer.documents} documents")
    return entry


def _empty_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupRefused(f"{out} exists and is not an empty directory; give a new one")
    out.mkdir(parents=True, exist_ok=True)


async def backup(
    settings: Settings, out: Path, say: Say, *, offline: bool = False,
    mode: Mode | None = None, check_services: bool = True,
) -> Manifest:
    """Writes a backup of every service database into ``out`` (new or empty).

    ``mode`` forces a way of reading (tests); by default the server decides, see above.
    """
    started = time.monotonic()
    _empty_dir(out)
    if offline and check_services and (running := await services_answering(settings)):
        raise BackupRefused(
            "--offline needs every service stopped, but these answer: " + ", ".join(running)
        )
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-backup")
    try:
        server = await describe_server(client)
        mode = mode or choose_mode(server, offline)
        say(f"backing up {settings.mongo_db} from {server.describe()}: {mode.value} "
            f"({NOTES[mode]})")
        plans = [await _list(client, s, database_name(settings, s)) for s in DATA_SERVICES]
        async with _reading(client, mode) as session:
            read_at = await _pin(client, plans, session)
            # A collection made or dropped between the listing and the pin would be missed.
            if await _names(client, plans) != [set(p.collections) for p in plans]:
                raise BackupRefused("collections were created or dropped while the backup "
                                    "started (a migration running?); run it again")
            databases = [await _dump(client, p, session, out, say) for p in plans]
    except PyMongoError as exc:
        raise BackupRefused(f"reading failed, so no backup was made: {exc}") from exc
    finally:
        await client.close()
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        app_version=importlib.metadata.version("microfinance"),
        mongo_db=settings.mongo_db, server=server.describe(), consistency=mode.value,
        consistency_note=NOTES[mode], read_at=read_at, databases=databases,
        seconds=round(time.monotonic() - started, 3),
    )
    write_manifest(out, manifest)
    return manifest


# ---- restore --------------------------------------------------------------------------------


@dataclass(slots=True)
class RestoreResult:
    manifest: Manifest
    documents: int = 0
    indexes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    search: list[str] = field(default_factory=list)
    cleared: int | None = None  # cache keys removed; None when Redis did not answer


async def _held(client: MongoClient, names: Sequence[str]) -> list[str]:
    """``db.collection (N)`` for each target collection that holds any document."""
    held = []
    for name in names:
        db = client[name]
        for coll in await db.list_collection_names():
            if coll.startswith("system."):
                continue
            count = await db[coll].estimated_document_count()
            if count or await db[coll].find_one({}, {"_id": 1}) is not None:
                held.append(f"{name}.{coll} ({count})")
    return held


def _index_model(spec: dict[str, Any]) -> IndexModel:
    options = {k: v for k, v in spec.items() if k not in ("v", "key", "ns")}
    return IndexModel(list(spec["key"].items()), **options)


async def _load(
    client: MongoClient, root: Path, source: DatabaseEntry, target: str, say: Say
) -> tuple[int, int]:
    db = client[target]
    documents = indexes = 0
    for coll in source.collections:
        if coll.name in await db.list_collection_names():
            await db.drop_collection(coll.name)  # empty (checked): remade as backed up
        await db.create_collection(coll.name, **from_canonical(coll.options))
        batch: list[RawBSONDocument] = []
        size = 0
        for doc in read_documents(root, coll):
            batch.append(doc)
            size += len(doc.raw)
            if len(batch) >= _INSERT_DOCS or size >= _INSERT_BYTES:
                await db[coll.name].insert_many(batch, ordered=True)
                batch, size = [], 0
        if batch:
            await db[coll.name].insert_many(batch, ordered=True)
        models = [_index_model(from_canonical(s)) for s in coll.indexes]
        models = [m for m in models if m.document["name"] != "_id_"]
        if models:
            await db[coll.name].create_indexes(models)
        documents += coll.documents
        indexes += len(models)
        say(f"  {target}.{coll.name}: {coll.documents} documents, {len(models)} indexes")
    return documents, indexes


async def restore(
    settings: Settings, root: Path, say: Say, *, drop: bool = False, reindex: bool = True,
    check_services: bool = True,
) -> RestoreResult:
    """Restores a backup into the service databases ``settings`` names.

    Nothing is written until every file checks out and the target is found empty (or
    ``drop`` is given, which drops the target's service databases first).
    """
    started = time.monotonic()
    try:
        manifest = verify(root)
    except BackupInvalid as exc:
        raise BackupRefused(f"backup refused, nothing written: {exc}") from None
    result = RestoreResult(manifest)
    result.seconds["verify"] = time.monotonic() - started
    say(f"verified {len(manifest.databases)} databases, {manifest.documents} documents, "
        f"{manifest.bytes} bytes (backup of {manifest.mongo_db}, {manifest.created_at}, "
        f"{manifest.consistency})")
    unknown = [d.service for d in manifest.databases if d.service not in DATA_SERVICES]
    if unknown:
        raise BackupRefused(f"the backup holds databases of unknown services: {unknown}")
    if check_services and (running := await services_answering(settings)):
        raise BackupRefused("stop the services first; these answer: " + ", ".join(running))
    targets = {d.service: database_name(settings, d.service) for d in manifest.databases}
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-restore")
    try:
        held = await _held(client, list(targets.values()))
        if held and not drop:
            raise BackupRefused(
                f"the target {settings.mongo_db} is not empty: {', '.join(held[:5])}"
                + (f" and {len(held) - 5} more" if len(held) > 5 else "")
                + "; give --drop to replace it, or set MF_MONGO_DB to a new name"
            )
        if drop:
            for name in targets.values():
                await client.drop_database(name)
        loading = time.monotonic()
        for source in manifest.databases:
            docs, idx = await _load(client, root, source, targets[source.service], say)
            result.documents += docs
            result.indexes += idx
        result.seconds["load"] = time.monotonic() - loading
    finally:
        await client.close()
    result.cleared = await _clear_caches(settings, say)
    if reindex:
        searching = time.monotonic()
        result.search = await _rebuild_search(settings, say)
        result.seconds["search"] = time.monotonic() - searching
    return result


async def _rebuild_search(settings: Settings, say: Say) -> list[str]:
    """Both search indexes, dropped and rebuilt from the restored data; on failure, the
    command that does it later."""
    from loan_service.reindex import reindex_from_settings as reindex_loans
    from shared.reindex import ReindexOptions
    from user_service.reindex import reindex_from_settings as reindex_borrowers

    done = []
    for name, run in (("borrowers", reindex_borrowers), ("loans", reindex_loans)):
        try:
            outcome = await run(settings, ReindexOptions(recreate=True))
        except Exception as exc:  # search is a copy: the data is restored either way
            say(f"search index of {name} not rebuilt ({exc}); run "
                f"`microfinance reindex {name} --recreate` once Elasticsearch answers")
            continue
        done.append(outcome.index)
        say(f"  search {outcome.index}: {outcome.indexed} of {outcome.total} indexed")
    return done


async def _clear_caches(settings: Settings, say: Say) -> int | None:
    """Removes the cached borrowers and reports of the target deployment.

    Their keys carry a record's version or a data version, and a restore can set those
    back: a borrower cached at a later version would be served in place of the restored
    one until its TTL, and a report cached under a version the restored data reaches
    again, by another history, for a day. Nothing else in Redis depends on the data."""
    from redis.exceptions import RedisError

    from reporting_service.service import CACHE_PREFIX
    from shared.cache import create_redis
    from user_service.adapters.borrower_cache import KEY_PREFIX

    redis = create_redis(settings.redis_url, socket_timeout=5.0, connect_timeout=5.0)
    removed = 0
    try:
        for pattern in (CACHE_PREFIX, KEY_PREFIX):
            match = f"{settings.redis_key_prefix}{pattern}*"
            keys = [k async for k in redis.scan_iter(match=match, count=1000)]
            for start in range(0, len(keys), 1000):
                removed += int(await redis.unlink(*keys[start:start + 1000]))
    except (RedisError, OSError) as exc:
        say(f"cached borrowers and reports not cleared ({exc}): before starting the "
            f"services, delete the keys {settings.redis_key_prefix}{KEY_PREFIX}* and "
            f"{settings.redis_key_prefix}{CACHE_PREFIX}* (or wait a day for them to expire)")
        return None
    finally:
        await redis.aclose()
    say(f"  cache: {removed} cached borrowers and reports removed")
    return removed
