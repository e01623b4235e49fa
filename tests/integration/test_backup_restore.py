"""`microfinance backup` / `restore` against the real stand-ins.

A demo portfolio with history (disbursements, repayments, penalties, a write-off, every
past date closed by the end of day) plus a reversal posted through loan_service's own use
case is backed up, then restored under a new database prefix. Every restored collection
equals the original document for document (byte for byte: every BSON type kept), with
the same indexes; every restored loan replays from its transactions to its stored figures
and to the same state as the original; both search indexes are rebuilt. A backup with
one byte changed, or a truncated one, is refused before anything is written, and so is a
non-empty target unless ``drop``.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from bson.raw_bson import RawBSONDocument
from elasticsearch import AsyncElasticsearch
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from loan_service.adapters.loan_repository import LoanRepository, loan_from_doc
from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import facts_of
from loan_service.service import LoanService
from microfinance_cli.backup import (
    DATA_SERVICES,
    RAW,
    BackupRefused,
    Mode,
    Server,
    backup,
    choose_mode,
    restore,
)
from microfinance_cli.backup_files import MANIFEST, Manifest
from microfinance_cli.demo_data import DemoOptions, LogReporter, build
from microfinance_cli.demo_plan import DemoSizes
from shared.clock import business_date, utcnow
from shared.config import Settings
from shared.events import Outbox
from shared.identity import Caller, Role
from shared.mongo import run_in_transaction
from shared.runtime import database_name
from tests.cleanup import delete_indices, delete_keys, drop_databases

pytestmark = pytest.mark.integration

Client = AsyncMongoClient[dict[str, Any]]
SIZES = DemoSizes(borrowers=25, loans=30, days=30, seed=11, currencies=("KES", "USD"), agents=3)
NOT_RUNNING = "127.0.0.1:1"


def settings_for(mongo_url: str, es_url: str, tmp: Path, redis_url: str = "") -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings(
        env="test", mongo_url=mongo_url, mongo_db=f"mfbk_{token}", es_url=es_url,
        es_index_prefix=f"mfbk{token}", data_dir=tmp, log_json=False,
        redis_url=redis_url or "redis://127.0.0.1:1/0", redis_key_prefix=f"mfbk:{token}:",
        auth_addr=NOT_RUNNING, user_addr=NOT_RUNNING, loan_addr=NOT_RUNNING,
        payment_addr=NOT_RUNNING, reporting_addr=NOT_RUNNING,
    )


@dataclass
class Portfolio:
    settings: Settings
    reversed_loan: str
    build_seconds: float


async def _reverse_one_repayment(client: Client, settings: Settings) -> str:
    """The last repayment of a loan with several, reversed as payment_service asks it."""
    db = client[database_name(settings, "loan")]
    today = business_date(utcnow(), settings.business_tz())

    async def in_transaction(body: Any) -> Any:
        return await run_in_transaction(client, body)

    service = LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a reversal
        LoanRepository(db), None,  # type: ignore[arg-type]  # borrowers: not used either
        in_transaction, Outbox(db, producer="loan_service"), clock=utcnow,
    )
    async for doc in db["loans"].find({"status": "ACTIVE"}):
        paid = [t for t in doc["transactions"] if t["type"] == "REPAYMENT"]
        if len(paid) >= 2:
            outcome = await service.reverse_repayment(
                Caller(subject="service:payment", role=Role.SERVICE), paid[-1]["payment_id"],
                "cheque bounced", loan_id=doc["_id"], on_behalf_of="admin-1",
            )
            assert not outcome.replayed
            assert today >= date.fromisoformat(paid[-1]["value_date"])
            return str(doc["_id"])
    raise AssertionError("no loan with two repayments to reverse")


@pytest.fixture(scope="module")
async def portfolio(
    mongo_url: str, es_url: str, mongo_client: Client, es_client: AsyncElasticsearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Portfolio]:
    settings = settings_for(mongo_url, es_url, tmp_path_factory.mktemp("portfolio"))
    started = time.monotonic()
    try:
        await build(settings, DemoOptions(SIZES, "demo-password"), LogReporter(print))
        reversed_loan = await _reverse_one_repayment(mongo_client, settings)
        yield Portfolio(settings, reversed_loan, time.monotonic() - started)
    finally:
        await drop_databases(mongo_client, f"{settings.mongo_db}_")
        await delete_indices(es_client, settings.es_index_prefix)


@pytest.fixture
async def target(
    mongo_url: str, es_url: str, redis_url: str, mongo_client: Client,
    es_client: AsyncElasticsearch, redis_client: Redis, tmp_path: Path,
) -> AsyncIterator[Settings]:
    settings = settings_for(mongo_url, es_url, tmp_path, redis_url)
    try:
        yield settings
    finally:
        await drop_databases(mongo_client, f"{settings.mongo_db}_")
        await delete_indices(es_client, settings.es_index_prefix)
        await delete_keys(redis_client, settings.redis_key_prefix)


@pytest.fixture(scope="module")
async def backed_up(
    portfolio: Portfolio, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Manifest, float]:
    out = tmp_path_factory.mktemp("backup") / "b1"
    started = time.monotonic()
    manifest = await backup(portfolio.settings, out, print)
    return out, manifest, time.monotonic() - started


async def _raw(client: Client, db: str, coll: str) -> dict[Any, bytes]:
    raw = cast(AsyncDatabase[RawBSONDocument], client.get_database(db, codec_options=RAW))
    return {d["_id"]: bytes(d.raw) async for d in raw[coll].find({})}


async def _indexes(client: Client, db: str, coll: str) -> list[dict[str, Any]]:
    specs = [dict(s) async for s in await client[db][coll].list_indexes()]
    return sorted(({k: v for k, v in s.items() if k != "ns"} for s in specs),
                  key=lambda s: str(s["name"]))


async def _databases(client: Client, prefix: str) -> list[str]:
    return [n for n in await client.list_database_names() if n.startswith(f"{prefix}_")]


def _replayed(doc: dict[str, Any]) -> ledger.LoanState | None:
    loan = loan_from_doc(doc)
    if loan.schedule is None:
        assert not loan.transactions, loan.loan_number
        return None
    assert loan.facts.as_of is not None
    state = ledger.replay(loan.terms, loan.schedule, loan.transactions, loan.facts.as_of)
    assert facts_of(state) == loan.facts, loan.loan_number
    assert state.written_off == (loan.status is LoanStatus.WRITTEN_OFF), loan.loan_number
    assert state.closed == (loan.status is LoanStatus.CLOSED), loan.loan_number
    return state


async def test_a_restore_equals_the_original_and_every_loan_replays(
    portfolio: Portfolio, backed_up: tuple[Path, Manifest, float], target: Settings,
    mongo_client: Client, es_client: AsyncElasticsearch, redis_client: Redis,
) -> None:
    out, manifest, backup_seconds = backed_up
    # What a restore in place must not leave behind: records and reports cached from the
    # history it replaces (their versions can come round again). Other keys stay.
    prefix = target.redis_key_prefix
    cached = [f"{prefix}user:borrower:b1", f"{prefix}reports:v1:x"]
    kept = f"{prefix}mf:auth:deny:t1"
    for key in [*cached, kept]:
        await redis_client.set(key, "1", ex=60)
    source = portfolio.settings
    assert manifest.consistency in (Mode.TRANSACTION, Mode.SNAPSHOT)
    if "secantusdb" in manifest.server:
        assert manifest.consistency == Mode.TRANSACTION  # its snapshot sessions don't pin
    assert [d.service for d in manifest.databases] == list(DATA_SERVICES)
    started = time.monotonic()
    result = await restore(target, out, print, check_services=False)
    restore_seconds = time.monotonic() - started
    print(f"portfolio built in {portfolio.build_seconds:.1f}s; {manifest.documents} documents, "
          f"{manifest.bytes} bytes backed up in {backup_seconds:.2f}s, restored in "
          f"{restore_seconds:.2f}s ({result.seconds})")
    assert result.documents == manifest.documents
    assert result.cleared == len(cached)
    assert await redis_client.exists(*cached) == 0
    assert await redis_client.exists(kept) == 1

    for entry in manifest.databases:
        original = database_name(source, entry.service)
        copy = database_name(target, entry.service)
        names = sorted(await mongo_client[original].list_collection_names())
        assert sorted(await mongo_client[copy].list_collection_names()) == names
        assert sorted(c.name for c in entry.collections) == names
        for coll in entry.collections:
            # Byte for byte: every BSON type (Decimal128, dates, Int64) came back exactly.
            theirs = await _raw(mongo_client, original, coll.name)
            assert await _raw(mongo_client, copy, coll.name) == theirs, coll.name
            assert len(theirs) == coll.documents
            assert (await _indexes(mongo_client, copy, coll.name)
                    == await _indexes(mongo_client, original, coll.name)), coll.name

    originals = {d["_id"]: d async for d in mongo_client[database_name(source, "loan")]
                 ["loans"].find({})}
    restored = [d async for d in mongo_client[database_name(target, "loan")]["loans"].find({})]
    assert len(restored) == len(originals) == SIZES.loans
    replayed = 0
    for doc in restored:
        state = _replayed(doc)
        if state is not None:
            replayed += 1
            assert state == _replayed(originals[doc["_id"]])
    assert replayed >= SIZES.loans - 5
    reversed_doc = next(d for d in restored if d["_id"] == portfolio.reversed_loan)
    assert [t for t in reversed_doc["transactions"] if t["type"] == "REVERSAL"]

    for index, count in ((f"{target.es_index_prefix}-borrowers", SIZES.borrowers),
                         (f"{target.es_index_prefix}-loans", SIZES.loans)):
        found = await es_client.count(index=index)
        assert found["count"] == count, index


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip-data", "truncate-data", "flip-manifest"])
async def test_a_damaged_backup_is_refused_naming_the_file_and_nothing_is_written(
    backed_up: tuple[Path, Manifest, float], target: Settings, mongo_client: Client,
    tmp_path: Path, damage: str,
) -> None:
    out, manifest, _ = backed_up
    copy = tmp_path / "damaged"
    shutil.copytree(out, copy)
    loans = next(c for d in manifest.databases for c in d.collections if c.name == "loans")
    if damage == "flip-data":
        _flip_byte(copy / loans.file)
        named = loans.file
    elif damage == "truncate-data":
        path = copy / loans.file
        path.write_bytes(path.read_bytes()[:-10])
        named = loans.file
    else:
        _flip_byte(copy / MANIFEST)
        named = MANIFEST
    with pytest.raises(BackupRefused, match="nothing written") as refused:
        await restore(target, copy, print, check_services=False)
    assert named in str(refused.value)
    assert await _databases(mongo_client, target.mongo_db) == []


async def test_a_non_empty_target_is_refused_unless_drop(
    backed_up: tuple[Path, Manifest, float], target: Settings, mongo_client: Client,
) -> None:
    out, manifest, _ = backed_up
    loans = mongo_client[database_name(target, "loan")]["loans"]
    await loans.insert_one({"_id": "already-here"})
    with pytest.raises(BackupRefused, match="not empty"):
        await restore(target, out, print, check_services=False, reindex=False)
    assert [d["_id"] async for d in loans.find({})] == ["already-here"]

    result = await restore(target, out, print, check_services=False, reindex=False, drop=True)
    assert result.documents == manifest.documents
    assert await loans.count_documents({}) == SIZES.loans
    assert await loans.find_one({"_id": "already-here"}) is None


@pytest.mark.parametrize("mode", [None, Mode.SNAPSHOT])
async def test_a_write_made_during_the_backup_is_not_in_it(
    mongo_url: str, mongo_client: Client, tmp_path: Path, es_url: str, mode: Mode | None,
) -> None:
    """The backup reads every database at the one point it pinned: on the stand-in, in a
    transaction. Its snapshot sessions are accepted but not pinned, which is why the
    backup does not use them there (``mode`` SNAPSHOT forces one, to show it)."""
    settings = settings_for(mongo_url, es_url, tmp_path)
    first, last = database_name(settings, "auth"), database_name(settings, "reporting")
    await mongo_client[first]["a"].insert_many([{"i": i} for i in range(3)])
    await mongo_client[last]["z"].insert_many([{"i": i} for i in range(3)])
    stand_in = "secantusVersion" in await mongo_client.admin.command("buildInfo")
    writer: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    written: list[str] = []

    def say(line: str) -> None:
        # Once the first collection is read, another client writes to the last one.
        if f"{first}.a" in line and not written:
            writer[last]["z"].insert_one({"i": "late"})
            written.append(line)

    try:
        manifest = await backup(settings, tmp_path / "b", say, mode=mode)
    finally:
        writer.close()
        await drop_databases(mongo_client, f"{settings.mongo_db}_")
    assert written
    counts = {(d.service, c.name): c.documents for d in manifest.databases
              for c in d.collections}
    late = 1 if mode is Mode.SNAPSHOT and stand_in else 0
    assert counts == {("auth", "a"): 3, ("reporting", "z"): 3 + late}


def test_the_mode_is_chosen_by_what_the_server_can_pin() -> None:
    stand_in = Server((8, 2, 11), "secantus", "0.7.0b3")
    assert choose_mode(stand_in, offline=False) is Mode.TRANSACTION
    assert choose_mode(Server((7, 0, 2), "rs0", None), offline=False) is Mode.SNAPSHOT
    assert choose_mode(Server((7, 0, 2), None, None), offline=True) is Mode.OFFLINE
    with pytest.raises(BackupRefused, match="standalone"):
        choose_mode(Server((7, 0, 2), None, None), offline=False)
    with pytest.raises(BackupRefused, match=r"5\.0 or newer"):
        choose_mode(Server((4, 4, 0), "rs0", None), offline=False)


async def test_offline_is_refused_while_a_service_answers(
    mongo_url: str, es_url: str, tmp_path: Path,
) -> None:
    import grpc
    from grpc_health.v1 import health_pb2_grpc
    from grpc_health.v1._async import HealthServicer

    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        settings = settings_for(mongo_url, es_url, tmp_path).model_copy(
            update={"loan_addr": f"127.0.0.1:{port}"}
        )
        with pytest.raises(BackupRefused, match="loan"):
            await backup(settings, tmp_path / "b", print, offline=True)
        assert not any((tmp_path / "b").iterdir())
    finally:
        await server.stop(None)


def test_the_commands_back_up_refuse_and_restore(
    mongo_url: str, es_url: str, redis_url: str, tmp_path: Path,
) -> None:
    """The CLI wiring: exit codes and what each command says."""
    from typer.testing import CliRunner

    from microfinance_cli.main import app

    source, copy = (settings_for(mongo_url, es_url, tmp_path, redis_url) for _ in range(2))
    env = {
        "MF_MONGO_URL": mongo_url, "MF_ES_URL": es_url, "MF_REDIS_URL": redis_url,
        "MF_REDIS_KEY_PREFIX": source.redis_key_prefix, "MF_ES_INDEX_PREFIX": copy.es_index_prefix,
        **{f"MF_{s.upper()}_ADDR": NOT_RUNNING for s in DATA_SERVICES},
    }
    sync: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    runner = CliRunner()
    out = tmp_path / "b"
    try:
        sync[database_name(source, "loan")]["loans"].insert_one({"_id": "L1", "n": 1})
        done = runner.invoke(app, ["backup", "--out", str(out)],
                             env={**env, "MF_MONGO_DB": source.mongo_db})
        assert done.exit_code == 0, done.output
        assert "1 documents" in done.output
        assert "(transaction)" in done.output or "(snapshot)" in done.output
        again = runner.invoke(app, ["restore", "--from", str(out), "--no-reindex"],
                              env={**env, "MF_MONGO_DB": source.mongo_db})
        assert again.exit_code == 1
        assert "is not empty" in again.output
        assert "--drop" in again.output
        restored = runner.invoke(app, ["restore", "--from", str(out), "--no-reindex"],
                                 env={**env, "MF_MONGO_DB": copy.mongo_db})
        assert restored.exit_code == 0, restored.output
        assert "restored 1 documents" in restored.output
        assert "microfinance reindex loans --recreate" in restored.output
        assert sync[database_name(copy, "loan")]["loans"].find_one() == {"_id": "L1", "n": 1}
    finally:
        for settings in (source, copy):
            for name in sync.list_database_names():
                if name.startswith(f"{settings.mongo_db}_"):
                    sync.drop_database(name)
        sync.close()
