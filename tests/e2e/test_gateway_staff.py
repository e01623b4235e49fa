"""Staff management through the gateway: admin only, JSON merge updates, versions."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Login, Stack, unique_email

pytestmark = pytest.mark.e2e


async def test_agent_gets_403_on_every_admin_route(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    other, _ = await stack.create_staff(admin)
    calls = [
        ("POST", "/api/v1/staff", {"role": "AGENT", "full_name": "X", "email": unique_email(),
                                   "branch_id": "B", "initial_password": "long-enough-pw-1"}),
        ("GET", "/api/v1/staff", None),
        ("GET", f"/api/v1/staff/{other['id']}", None),
        ("GET", f"/api/v1/staff/{agent.staff_id}", None),
        ("PATCH", f"/api/v1/staff/{other['id']}", {"full_name": "Renamed"}),
        ("POST", f"/api/v1/staff/{other['id']}/deactivate", {"reason": "no"}),
        ("POST", f"/api/v1/staff/{other['id']}/reactivate", None),
        ("POST", f"/api/v1/staff/{other['id']}/reset-password",
         {"temporary_password": "temporary-pass-1"}),
    ]
    for method, path, body in calls:
        r = await c.request(method, path, json=body, headers=agent.headers)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "PERMISSION_DENIED"
    # Nothing was changed on the way.
    r = await c.get(f"/api/v1/staff/{other['id']}", headers=admin.headers)
    assert r.json()["full_name"] == other["full_name"]
    assert r.json()["active"] is True


async def test_create_get_list_and_duplicate_email(stack: Stack, admin: Login) -> None:
    c = stack.client
    branch = f"BR-{unique_email()[6:12]}"
    a1, _ = await stack.create_staff(admin, branch_id=branch, full_name="Zed Agent")
    a2, _ = await stack.create_staff(admin, branch_id=branch, full_name="Abe Agent")
    ad, _ = await stack.create_staff(admin, branch_id=branch, role="ADMIN", full_name="Mo Admin")

    r = await c.get(f"/api/v1/staff/{a1['id']}", headers=admin.headers)
    assert r.status_code == 200
    fetched = r.json()
    # Mongo keeps milliseconds; the create answer may carry microseconds.
    assert {**fetched, "audit": None} == {**a1, "audit": None}
    assert fetched["audit"]["created_at"][:23] == a1["audit"]["created_at"][:23]
    assert r.headers["etag"] == f'"{a1["version"]}"'

    r = await c.get(
        "/api/v1/staff",
        params={"branch_id": branch, "role": "AGENT", "order_by": "full_name"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [s["id"] for s in listed["staff"]] == [a2["id"], a1["id"]]
    assert listed["page"] == {"next_page_token": "", "total_size": 2}

    r = await c.get(
        "/api/v1/staff",
        params={"branch_id": branch, "page_size": 2, "order_by": "full_name desc"},
        headers=admin.headers,
    )
    first_page = r.json()
    assert [s["id"] for s in first_page["staff"]] == [a1["id"], ad["id"]]
    assert first_page["page"]["total_size"] == 3
    assert first_page["page"]["next_page_token"]
    r = await c.get(
        "/api/v1/staff",
        params={
            "branch_id": branch,
            "page_size": 2,
            "order_by": "full_name desc",
            "page_token": first_page["page"]["next_page_token"],
        },
        headers=admin.headers,
    )
    assert [s["id"] for s in r.json()["staff"]] == [a2["id"]]

    r = await c.post(
        f"/api/v1/staff/{a2['id']}/deactivate", json={"reason": "moved"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    for active, expected in (("true", {a1["id"], ad["id"]}), ("false", {a2["id"]})):
        r = await c.get(
            "/api/v1/staff", params={"branch_id": branch, "active": active}, headers=admin.headers
        )
        assert {s["id"] for s in r.json()["staff"]} == expected, active

    r = await c.post(
        "/api/v1/staff",
        json={
            "role": "AGENT",
            "full_name": "Copy Cat",
            "email": a1["email"].upper(),
            "branch_id": branch,
            "initial_password": "long-enough-pw-1",
        },
        headers=admin.headers,
    )
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "ALREADY_EXISTS"
    assert error["fields"] == [{"field": "email", "description": "already exists"}]


async def test_update_with_merge_and_versions(stack: Stack, admin: Login) -> None:
    c = stack.client
    staff, _ = await stack.create_staff(admin, phone="+254700000001")
    url = f"/api/v1/staff/{staff['id']}"

    r = await c.patch(url, json={"full_name": "New Name"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["full_name"] == "New Name"
    assert updated["phone"] == staff["phone"]
    assert updated["email"] == staff["email"]
    assert updated["version"] == staff["version"] + 1
    assert r.headers["etag"] == f'"{updated["version"]}"'

    # A stale If-Match is a conflict; the current one goes through.
    stale = {**admin.headers, "If-Match": f'"{staff["version"]}"'}
    r = await c.patch(url, json={"branch_id": "BR-99"}, headers=stale)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "ABORTED"
    current = {**admin.headers, "If-Match": f'W/"{updated["version"]}"'}
    r = await c.patch(url, json={"branch_id": "BR-99", "role": "ADMIN"}, headers=current)
    assert r.status_code == 200, r.text
    promoted = r.json()
    assert promoted["branch_id"] == "BR-99"
    assert promoted["role"] == "ADMIN"

    # expected_version in the body works the same way.
    r = await c.patch(url, json={"phone": "", "expected_version": 1}, headers=admin.headers)
    assert r.status_code == 409
    r = await c.patch(
        url, json={"phone": "", "expected_version": promoted["version"]}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == ""

    r = await c.patch(
        url, json={"full_name": "X"}, headers={**admin.headers, "If-Match": "not-a-version"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "If-Match"


async def test_deactivate_reactivate_and_reset_password(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    url = f"/api/v1/staff/{agent.staff_id}"

    r = await c.post(f"{url}/deactivate", json={"reason": "on leave"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["deactivation_reason"] == "on leave"
    r = await c.post(f"{url}/deactivate", json={"reason": "again"}, headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "FAILED_PRECONDITION"

    r = await c.post(f"{url}/reactivate", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True
    r = await c.post(f"{url}/reactivate", headers=admin.headers)
    assert r.status_code == 409
    await stack.login(agent.email, agent.password)

    r = await c.post(
        f"{url}/reset-password",
        json={"temporary_password": "temporary-Pass-77"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    relog = await stack.login(agent.email, "temporary-Pass-77")
    r = await c.post("/api/v1/auth/login", json={"username": agent.email, "password": "x"})
    assert r.status_code == 401
    r = await c.get("/api/v1/staff", headers=relog.headers)
    assert r.status_code == 403  # must change the temporary password first

    # An admin cannot deactivate themselves.
    r = await c.post(
        f"/api/v1/staff/{admin.staff_id}/deactivate", json={"reason": "oops"}, headers=admin.headers
    )
    assert r.status_code == 409


async def test_an_admin_cannot_reset_their_own_password(stack: Stack, admin: Login) -> None:
    # A reset asks for no old password: with a stolen access token it would be a takeover.
    r = await stack.client.post(
        f"/api/v1/staff/{admin.staff_id}/reset-password",
        json={"temporary_password": "temporary-Pass-77"},
        headers=admin.headers,
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "FAILED_PRECONDITION"
    # The password and the session are untouched.
    r = await stack.client.get("/api/v1/me", headers=admin.headers)
    assert r.status_code == 200, r.text
    await stack.login(admin.email, admin.password)


async def test_unknown_staff_id_is_404(stack: Stack, admin: Login) -> None:
    r = await stack.client.get("/api/v1/staff/0123456789abcdef", headers=admin.headers)
    assert r.status_code == 404
    body = r.json()["error"]
    assert body["code"] == "NOT_FOUND"
    assert body["request_id"] == r.headers["x-request-id"]
