"""Quick test setup through the running gateway's public API (httpx), so a browser test
spends its time on the screen it is about, not on clicking through the ones before it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.test_gateway_borrowers import new_borrower
from tests.e2e.test_gateway_loans import product_body


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@mfi-browser.org"


@dataclass
class Session:
    email: str
    password: str
    staff_id: str
    access_token: str
    must_change_password: bool

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """The gateway's REST API for test setup. Every call asserts the status it expects and
    shows the body when it is another."""

    def __init__(self, base_url: str, admin_email: str, admin_password: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self._admin_email = admin_email
        self._admin_password = admin_password
        self._admin: Session | None = None

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, session: Session | None, *, expect: int = 200, **kw: Any
    ) -> Any:
        headers = {**(session.headers if session else {}), **kw.pop("headers", {})}
        r = self.http.request(method, path, headers=headers, **kw)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def login(self, email: str, password: str) -> Session:
        body = self.call(
            "POST", "/api/v1/auth/login", None, json={"username": email, "password": password}
        )
        return Session(
            email=email,
            password=password,
            staff_id=body["identity"]["staff_id"],
            access_token=body["access_token"],
            must_change_password=body["must_change_password"],
        )

    def admin(self) -> Session:
        """The first admin (from MF_ADMIN_EMAIL), logged in once and reused."""
        if self._admin is None:
            self._admin = self.login(self._admin_email, self._admin_password)
        return self._admin

    def create_staff(
        self, role: str = "AGENT", *, by: Session | None = None, **fields: Any
    ) -> tuple[dict[str, Any], str]:
        """A new staff member as the admin creates them: returns the record and the initial
        password (which must be changed at first login)."""
        password = fields.pop("initial_password", f"Initial-{uuid.uuid4().hex[:12]}")
        body = {
            "role": role,
            "full_name": fields.pop("full_name", f"{role.title()} {uuid.uuid4().hex[:4]}"),
            "email": fields.pop("email", unique_email(role.lower())),
            "branch_id": fields.pop("branch_id", "BR-01"),
            "initial_password": password,
            **fields,
        }
        record = self.call("POST", "/api/v1/staff", by or self.admin(), expect=201, json=body)
        return record, password

    def ready_staff(self, role: str = "AGENT", *, by: Session | None = None) -> Session:
        """A staff member who has logged in and replaced the initial password."""
        record, initial = self.create_staff(role, by=by)
        first = self.login(record["email"], initial)
        password = f"Changed-{uuid.uuid4().hex[:12]}"
        self.call(
            "POST",
            "/api/v1/auth/password",
            first,
            json={"old_password": initial, "new_password": password},
        )
        return self.login(record["email"], password)

    def create_product(self, *, by: Session | None = None, **overrides: Any) -> dict[str, Any]:
        """A monthly USD product (see tests/e2e/test_gateway_loans.py: product_body)."""
        body = product_body(**overrides)
        admin = by or self.admin()
        return dict(self.call("POST", "/api/v1/loan-products", admin, expect=201, json=body))

    def create_borrower(self, agent: Session, **overrides: Any) -> dict[str, Any]:
        """A borrower registered by ``agent`` (see tests/e2e/test_gateway_borrowers.py)."""
        body = new_borrower(**overrides)
        return dict(self.call("POST", "/api/v1/borrowers", agent, expect=201, json=body))
