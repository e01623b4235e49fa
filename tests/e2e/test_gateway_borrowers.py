"""Borrowers through the gateway and directly over gRPC: scoping, validation, duplicates,
search, history and lifecycle, with the whole stack running."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from typing import Any

import grpc
import pytest

from microfinance.user.v1 import user_pb2, user_pb2_grpc
from microfinance_cli.backends import free_port
from shared.grpc.server import GrpcServiceHost
from shared.runtime import open_infrastructure
from shared.search import create_es_client
from tests.e2e.conftest import Login, Stack, running_gateway
from tests.integration.support import eventually
from user_service.adapters.borrower_search import BorrowerSearch
from user_service.main import build

pytestmark = pytest.mark.e2e

BASE = "/api/v1/borrowers"


def new_borrower(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Amina",
        "last_name": "Wanjiru",
        "date_of_birth": "1990-04-12",
        "gender": "FEMALE",
        "nationality": "KE",
        "phone": f"+2547{uuid.uuid4().int % 10**8:08d}",
        "current_address": {"line1": "12 Moi Avenue", "city": "Nairobi", "country": "KE"},
        "identity_documents": [
            {"type": "NATIONAL_ID", "number": f"N{uuid.uuid4().hex[:10].upper()}",
             "issue_date": "2012-05-01", "expiry_date": "2032-05-01"}
        ],
        "employment": {"status": "SELF_EMPLOYED",
                       "monthly_income": {"amount_minor": 4_500_000, "currency": "KES"}},
    }
    body.update(overrides)
    return body


async def create(stack: Stack, who: Login, **overrides: Any) -> dict[str, Any]:
    r = await stack.client.post(BASE, json=new_borrower(**overrides), headers=who.headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{BASE}/{r.json()['id']}"
    body: dict[str, Any] = r.json()
    return body


def md(login: Login) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {login.access_token}"),)


async def search_ids(stack: Stack, who: Login, q: str) -> list[str]:
    r = await stack.client.get(BASE, params={"q": q}, headers=who.headers)
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()["borrowers"]]


# ------------------------------------------------------------------ scoping


async def test_agents_see_only_their_own_borrowers_at_the_gateway(
    stack: Stack, admin: Login
) -> None:
    c = stack.client
    a = await stack.ready_staff(admin)
    b = await stack.ready_staff(admin)
    mine = await create(stack, a, first_name="Scopea")
    theirs = await create(stack, b, first_name="Scopea")
    assert mine["assigned_agent_id"] == a.staff_id
    assert (mine["kyc_status"], mine["account_status"], mine["version"]) == (
        "PENDING", "ACTIVE", 1
    )
    assert mine["phone"].startswith("+2547")
    assert mine["employment"]["monthly_income"] == {"amount_minor": 4_500_000, "currency": "KES"}

    for method, path, body in [
        ("GET", f"{BASE}/{theirs['id']}", None),
        ("PATCH", f"{BASE}/{theirs['id']}", {"notes": "mine now"}),
        ("POST", f"{BASE}/{theirs['id']}/deactivate", {"reason": "x"}),
        ("POST", f"{BASE}/{theirs['id']}/kyc", {"status": "PENDING"}),
        ("GET", f"{BASE}/{theirs['id']}/history", None),
        ("GET", f"{BASE}/{uuid.uuid4().hex}", None),
    ]:
        r = await c.request(method, path, json=body, headers=a.headers)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "NOT_FOUND"

    r = await c.get(BASE, params={"agent_id": b.staff_id}, headers=a.headers)
    assert [x["id"] for x in r.json()["borrowers"]] == [mine["id"]]
    r = await c.get(BASE, params={"agent_id": b.staff_id}, headers=admin.headers)
    assert [x["id"] for x in r.json()["borrowers"]] == [theirs["id"]]
    r = await c.get(f"{BASE}/{theirs['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'

    # Search is scoped too (once the index has caught up through the outbox).
    await eventually(
        lambda: _has(stack, admin, "Scopea", {mine["id"], theirs["id"]}), what="both indexed"
    )
    assert await search_ids(stack, a, "Scopea") == [mine["id"]]
    # Agents may not reassign or blacklist.
    for action, body in (("reassign", {"agent_id": a.staff_id}), ("blacklist", {"reason": "x"})):
        r = await c.post(f"{BASE}/{mine['id']}/{action}", json=body, headers=a.headers)
        assert r.status_code == 403, r.text


async def _has(stack: Stack, who: Login, q: str, ids: set[str]) -> bool:
    return ids <= set(await search_ids(stack, who, q))


async def test_scoping_holds_when_the_service_is_called_directly(
    stack: Stack, admin: Login
) -> None:
    a = await stack.ready_staff(admin)
    b = await stack.ready_staff(admin)
    theirs = await create(stack, b)
    async with grpc.aio.insecure_channel(stack.hosts["user"].address) as channel:
        stub = user_pb2_grpc.BorrowerServiceStub(channel)
        calls = [
            stub.GetBorrower(user_pb2.GetBorrowerRequest(id=theirs["id"]), metadata=md(a)),
            stub.DeactivateBorrower(
                user_pb2.DeactivateBorrowerRequest(id=theirs["id"], reason="x"), metadata=md(a)
            ),
            stub.GetBorrowerHistory(
                user_pb2.GetBorrowerHistoryRequest(id=theirs["id"]), metadata=md(a)
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() is grpc.StatusCode.NOT_FOUND
        got = await stub.BatchGetBorrowers(
            user_pb2.BatchGetBorrowersRequest(ids=[theirs["id"]]), metadata=md(a)
        )
        assert list(got.borrowers) == []
        listed = await stub.ListBorrowers(
            user_pb2.ListBorrowersRequest(agent_id=b.staff_id), metadata=md(a)
        )
        assert all(x.assigned_agent_id == a.staff_id for x in listed.borrowers)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ReassignBorrower(
                user_pb2.ReassignBorrowerRequest(id=theirs["id"], new_agent_id=a.staff_id),
                metadata=md(a),
            )
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        # An agent cannot register a borrower for someone else either.
        request = user_pb2.CreateBorrowerRequest(
            borrower=user_pb2.Borrower(
                first_name="X", last_name="Y", date_of_birth="1990-01-01",
                phone="+254712000999", assigned_agent_id=b.staff_id,
                identity_documents=[user_pb2.IdentityDocument(
                    type=user_pb2.IdentityDocument.PASSPORT, number=uuid.uuid4().hex[:9])],
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateBorrower(request, metadata=md(a))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        # No token, no borrowers.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetBorrower(user_pb2.GetBorrowerRequest(id=theirs["id"]))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------ validation and duplicates


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        # Refused by the gateway's models:
        ({"first_name": ""}, "first_name"),
        ({"date_of_birth": "12/04/1990"}, "date_of_birth"),
        ({"gender": "ROBOT"}, "gender"),
        ({"identity_documents": []}, "identity_documents"),
        ({"identity_documents": [{"type": "DNA", "number": "1"}]}, "identity_documents[0].type"),
        ({"employment": {"monthly_income": {"amount_minor": "9", "currency": "KES"}}},
         "employment.monthly_income.amount_minor"),
        ({"shoe_size": 42}, "shoe_size"),
        # Refused by user_service's rules:
        ({"date_of_birth": "2015-06-01"}, "date_of_birth"),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"nationality": "XX"}, "nationality"),
        ({"last_name": "R2-D2"}, "last_name"),
        ({"identity_documents": [{"type": "PASSPORT", "number": "P123456",
                                  "issue_date": "2020-01-01", "expiry_date": "2019-12-31"}]},
         "identity_documents[0].expiry_date"),
        ({"employment": {"monthly_income": {"amount_minor": 1, "currency": "XYZ"}}},
         "employment.monthly_income.currency"),
        ({"emergency_contact": {"name": "Grace"}}, "emergency_contact.phone"),
    ],
)
async def test_each_field_class_is_a_422_naming_the_field(
    stack: Stack, admin: Login, overrides: dict[str, Any], field: str
) -> None:
    agent = await _agent(stack, admin)
    r = await stack.client.post(BASE, json=new_borrower(**overrides), headers=agent.headers)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert field in [f["field"] for f in error["fields"]], error


_AGENTS: dict[str, Login] = {}


async def _agent(stack: Stack, admin: Login) -> Login:
    # One agent for the parametrized validation cases: logging in each time is slow.
    if "v" not in _AGENTS:
        _AGENTS["v"] = await stack.ready_staff(admin)
    return _AGENTS["v"]


async def test_a_duplicate_national_id_is_a_409_with_the_existing_id(
    stack: Stack, admin: Login
) -> None:
    a = await stack.ready_staff(admin)
    b = await stack.ready_staff(admin)
    number = f"DUP{uuid.uuid4().hex[:8].upper()}"
    doc = [{"type": "NATIONAL_ID", "number": number}]
    first = await create(stack, a, identity_documents=doc)
    r = await stack.client.post(
        BASE,
        json=new_borrower(identity_documents=[{"type": "NATIONAL_ID", "number": number.lower()}]),
        headers=b.headers,
    )
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "ALREADY_EXISTS"
    assert error["existing_id"] == first["id"]
    assert first["id"] in error["message"]
    assert error["fields"] == [
        {"field": "identity_documents[0].number", "description": "already exists"}
    ]

    # Two agents register the same person at the same moment: exactly one wins.
    race = [{"type": "NATIONAL_ID", "number": f"RACE{uuid.uuid4().hex[:8]}"}]
    answers = await asyncio.gather(
        *(
            stack.client.post(BASE, json=new_borrower(identity_documents=race), headers=h)
            for h in (a.headers, b.headers)
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409], [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 201).json()
    loser = next(r for r in answers if r.status_code == 409).json()
    assert loser["error"]["existing_id"] == winner["id"]


# ------------------------------------------------------------------ search


async def test_search_by_misspelled_name_phone_format_and_id_number(
    stack: Stack, admin: Login
) -> None:
    agent = await stack.ready_staff(admin)
    # Letters only (names may not hold digits), unique to this run.
    tag = "".join(chr(ord("a") + int(ch, 16)) for ch in uuid.uuid4().hex[:6])
    number = f"{tag.upper()}77"
    muhammad = await create(stack, agent, first_name="Muhammad", last_name=f"Hassan{tag}")
    jose = await create(stack, agent, first_name="José", last_name=f"Mwangi{tag}")
    with_id = await create(
        stack, agent, first_name="Wanjiku", identity_documents=[
            {"type": "PASSPORT", "number": number}
        ],
    )
    await eventually(
        lambda: _has(stack, agent, f"Hassan{tag}", {muhammad["id"]}), what="indexed"
    )
    await eventually(lambda: _has(stack, agent, number, {with_id["id"]}), what="indexed")
    await eventually(lambda: _has(stack, agent, f"Mwangi{tag}", {jose["id"]}), what="indexed")

    assert (await search_ids(stack, agent, f"Mohamed Hassan{tag}"))[0] == muhammad["id"]
    assert (await search_ids(stack, agent, f"Jose Mwangi{tag}"))[0] == jose["id"]
    national = muhammad["phone"][4:]  # +254 712345678 -> 712345678
    for written in (f"0{national}", f"+254 {national[:3]} {national[3:6]} {national[6:]}",
                    f"254-{national}"):
        assert (await search_ids(stack, agent, written))[0] == muhammad["id"], written
    assert (await search_ids(stack, agent, number.lower()))[0] == with_id["id"]

    # Paged: three matches, two per page, the token carries on; every match once.
    extra = [
        await create(stack, agent, first_name=first, last_name=f"Hassan{tag}")
        for first in ("Halima", "Omar")
    ]
    await eventually(
        lambda: _has(stack, agent, f"Hassan{tag}", {e["id"] for e in extra}), what="indexed"
    )
    params: dict[str, str | int] = {"q": f"Hassan{tag}", "page_size": 2}
    r = await stack.client.get(BASE, params=params, headers=agent.headers)
    first_page = r.json()
    assert len(first_page["borrowers"]) == 2
    assert first_page["page"]["total_size"] >= 3
    token = first_page["page"]["next_page_token"]
    assert token
    r = await stack.client.get(BASE, params={**params, "page_token": token}, headers=agent.headers)
    rest = r.json()
    assert rest["page"]["next_page_token"] == ""
    seen = [b["id"] for b in first_page["borrowers"] + rest["borrowers"]]
    assert len(seen) == len(set(seen)) == first_page["page"]["total_size"]
    assert {muhammad["id"], *(e["id"] for e in extra)} <= set(seen)

    r = await stack.client.get(BASE, params={"q": "x", "kyc_status": "PENDING"},
                               headers=agent.headers)
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "kyc_status"
    r = await stack.client.get(BASE, params={"q": "  "}, headers=agent.headers)
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "q"


async def test_list_filters_sort_and_pages_at_the_gateway(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    names = ["Zuberi", "amani", "Éliane", "Baraka"]
    made = [await create(stack, agent, last_name=n) for n in names]
    r = await c.post(f"{BASE}/{made[0]['id']}/deactivate", json={"reason": "left"},
                     headers=agent.headers)
    assert r.status_code == 200, r.text
    r = await c.post(f"{BASE}/{made[1]['id']}/kyc", json={"status": "VERIFIED", "note": "ok"},
                     headers=admin.headers)
    assert r.status_code == 200, r.text

    async def listed(who: Login, **params: Any) -> dict[str, Any]:
        r = await c.get(BASE, params=params, headers=who.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def last_names(body: dict[str, Any]) -> list[str]:
        return [b["last_name"] for b in body["borrowers"]]

    # Sort: case- and accent-insensitive by last name, either way; the default is newest first.
    assert last_names(await listed(agent, order_by="last_name")) == [
        "amani", "Baraka", "Éliane", "Zuberi"
    ]
    assert last_names(await listed(agent, order_by="last_name desc")) == [
        "Zuberi", "Éliane", "Baraka", "amani"
    ]
    assert [b["id"] for b in (await listed(agent))["borrowers"]] == [
        m["id"] for m in reversed(made)
    ]
    # Paging.
    first = await listed(agent, order_by="created_at", page_size=3)
    assert [b["id"] for b in first["borrowers"]] == [m["id"] for m in made[:3]]
    assert first["page"]["total_size"] == 4
    rest = await listed(agent, order_by="created_at", page_size=3,
                        page_token=first["page"]["next_page_token"])
    assert [b["id"] for b in rest["borrowers"]] == [made[3]["id"]]
    assert rest["page"]["next_page_token"] == ""
    # Filters: statuses, agent (admins), created range.
    inactive = await listed(agent, account_status="INACTIVE")
    assert [b["id"] for b in inactive["borrowers"]] == [made[0]["id"]]
    verified = await listed(admin, agent_id=agent.staff_id, kyc_status="VERIFIED")
    assert [b["id"] for b in verified["borrowers"]] == [made[1]["id"]]
    assert (await listed(admin, agent_id=agent.staff_id))["page"]["total_size"] == 4
    day = made[0]["audit"]["created_at"][:10]
    assert (await listed(agent, created_from=day, created_to=day))["page"]["total_size"] == 4
    old = await listed(agent, created_from="2001-01-01", created_to="2001-12-31")
    assert old["page"]["total_size"] == 0
    for params, field in (
        ({"created_from": "2026-02-30"}, "created_from"),
        ({"created_to": "01/05/2026"}, "created_to"),
        ({"created_from": "2026-05-02", "created_to": "2026-05-01"}, "created_to"),
        ({"kyc_status": "MAYBE"}, "kyc_status"),
        ({"order_by": "shoe_size"}, "order_by"),
    ):
        r = await c.get(BASE, params=params, headers=agent.headers)
        assert r.status_code == 422, (params, r.text)
        assert field in [f["field"] for f in r.json()["error"]["fields"]], r.json()


# ------------------------------------------------------------------ updates and lifecycle


async def test_patch_history_and_lifecycle(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    other = await stack.ready_staff(admin)
    made = await create(stack, agent)
    url = f"{BASE}/{made['id']}"

    r = await c.patch(url, json={"phone": "0722 000 111", "current_address": {"city": "Mombasa"}},
                      headers={**agent.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+254722000111"  # written locally, stored as E.164
    assert r.json()["current_address"] == {**made["current_address"], "city": "Mombasa"}
    assert r.headers["etag"] == '"2"'
    r = await c.patch(url, json={"notes": "stale"}, headers={**agent.headers, "If-Match": '"1"'})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ABORTED"
    r = await c.patch(url, json={"risk_profile": "HIGH"}, headers=agent.headers)
    assert r.status_code == 403
    r = await c.patch(url, json={}, headers=agent.headers)
    assert r.status_code == 422

    r = await c.post(f"{url}/kyc", json={"status": "VERIFIED", "note": "seen"},
                     headers=agent.headers)
    assert r.status_code == 403
    r = await c.post(f"{url}/kyc", json={"status": "VERIFIED", "note": "seen"},
                     headers=admin.headers)
    assert r.json()["kyc_status"] == "VERIFIED"
    r = await c.post(f"{url}/deactivate", json={"reason": "moved away"}, headers=agent.headers)
    assert (r.json()["account_status"], r.json()["deactivation_reason"]) == (
        "INACTIVE", "moved away"
    )
    r = await c.post(f"{url}/deactivate", json={"reason": "again"}, headers=agent.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "FAILED_PRECONDITION"
    r = await c.post(f"{url}/reactivate", headers=agent.headers)
    assert r.json()["account_status"] == "ACTIVE"
    r = await c.post(f"{url}/blacklist", json={"reason": "fraud"}, headers=admin.headers)
    assert r.json()["account_status"] == "BLACKLISTED"
    r = await c.post(f"{url}/reassign", json={"agent_id": other.staff_id, "reason": "area"},
                     headers=admin.headers)
    assert r.json()["assigned_agent_id"] == other.staff_id
    r = await c.get(url, headers=agent.headers)
    assert r.status_code == 404  # no longer theirs
    r = await c.get(url, headers=other.headers)
    assert r.status_code == 200

    r = await c.get(f"{url}/history", headers=other.headers)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["action"] for e in entries] == [
        "REASSIGNED", "BLACKLISTED", "REACTIVATED", "DEACTIVATED", "KYC_STATUS_CHANGED",
        "UPDATED", "CREATED",
    ]
    update = entries[5]
    assert update["actor"] == agent.staff_id
    assert {ch["field"]: ch["new_value"] for ch in update["changes"]} == {
        "phone": "+254722000111", "current_address.city": "Mombasa"
    }
    assert entries[0]["reason"] == "area"
    assert entries[0]["actor"] == admin.staff_id
    r = await c.get(f"{url}/history", params={"page_size": 2}, headers=admin.headers)
    assert len(r.json()["entries"]) == 2
    assert r.json()["page"]["total_size"] == 7


# ------------------------------------------------------------------ outages


async def test_search_503_while_es_is_down_creates_still_work_and_reindex_catches_up(
    stack: Stack, admin: Login, es_url: str, mongo_client: Any
) -> None:
    """A second user_service with its own database and a dead Elasticsearch address."""
    agent = await stack.ready_staff(admin)
    dead_es = f"http://127.0.0.1:{free_port()}"
    settings = stack.settings.model_copy(
        update={
            "mongo_db": f"mfe2e_es_{uuid.uuid4().hex[:8]}",
            "es_url": dead_es,
            "amqp_exchange": f"mfe2e.esdown.{uuid.uuid4().hex[:8]}",
            "es_index_prefix": f"mfe2e{uuid.uuid4().hex[:6]}",
        }
    )
    try:
        infra = await open_infrastructure(settings, "user")
        host = GrpcServiceHost(await build(infra), host="127.0.0.1", port=0, grace_seconds=0.5)
        await host.start()
        try:
            gateway_settings = settings.model_copy(update={"user_addr": host.address})
            async with running_gateway(gateway_settings) as (_, client):
                r = await client.post(BASE, json=new_borrower(first_name="Outage"),
                                      headers=agent.headers)
                assert r.status_code == 201, r.text
                made = r.json()
                r = await client.get(f"{BASE}/{made['id']}", headers=agent.headers)
                assert r.status_code == 200
                r = await client.get(BASE, params={"q": "Outage"}, headers=agent.headers)
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "UNAVAILABLE"
                assert "search is temporarily unavailable" in r.json()["error"]["message"]
        finally:
            await host.stop()
            await infra.close()

        # Elasticsearch is back: `microfinance reindex borrowers` rebuilds from MongoDB.
        env = {
            **os.environ,
            "MF_MONGO_URL": settings.mongo_url or "",
            "MF_MONGO_DB": settings.mongo_db,
            "MF_ES_URL": es_url,
            "MF_ES_INDEX_PREFIX": settings.es_index_prefix,
        }
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "microfinance_cli", "reindex", "borrowers"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"{settings.es_index_prefix}-borrowers: 1 of 1 borrowers indexed" in done.stdout
        assert "reindexing borrowers" in done.stdout  # the progress bar's label
        es = create_es_client(es_url)
        try:
            search = BorrowerSearch(es, settings.es_index_prefix)
            ids, _ = await search.search(
                "Outage", agent_id=agent.staff_id, account_status=None, offset=0, size=10
            )
            assert ids == [made["id"]]
        finally:
            await es.close()
    finally:
        # Whatever failed above: the run leaves no database, index, queue or exchange.
        es = create_es_client(es_url)
        with contextlib.suppress(Exception):
            await es.indices.delete(index=f"{settings.es_index_prefix}-borrowers")
        await es.close()
        with contextlib.suppress(Exception):
            await mongo_client.drop_database(f"{settings.mongo_db}_user")
        await _drop_amqp(settings.amqp_url, settings.amqp_exchange)


async def _drop_amqp(url: str, exchange: str) -> None:
    """The second service's durable queue and exchanges, so runs leave nothing behind."""
    import aio_pika

    from user_service.consumers import search_queue

    queue = search_queue(stack_settings(exchange))
    connection = await aio_pika.connect(url, timeout=5)
    try:
        for kind, name in (("q", queue), ("q", f"{queue}.dead"), ("x", exchange),
                           ("x", f"{exchange}.dlx")):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                if kind == "q":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
            with contextlib.suppress(Exception):
                await channel.close()
    finally:
        await connection.close()


def stack_settings(exchange: str) -> Any:
    from shared.config import Settings

    return Settings(amqp_exchange=exchange)
