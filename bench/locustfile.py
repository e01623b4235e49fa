"""A field agent's day against the public REST API, for Locust (the ``bench`` extra).

Each simulated user is one demo agent (``agent001@demo.example.org`` ... as
``microfinance demo-data`` creates them): it logs in, then, with a few seconds' thought
between steps, opens its collection sheet, searches its borrowers, posts small repayments
with an Idempotency-Key (now and then repeating one, as a phone that lost the answer does),
reads its loans one by one and as a list, and glances at the reports. The weights follow
what an agent does on a collection round: the sheet, the lookups and the repayments most,
the reports least.

Run by bench/load_day.py against a stack it started itself; by hand:

    locust --headless -u 20 -r 2 --run-time 10m -f bench/locustfile.py --host http://127.0.0.1:PORT

Environment: LOAD_AGENTS (how many demo agents exist, default 20; users beyond that share
logins), LOAD_PASSWORD (default ``demo-password``), LOAD_WAIT_MIN / LOAD_WAIT_MAX (seconds
of thought between steps, default 1 and 3).
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from typing import Any

from locust import HttpUser, between, task

AGENTS = int(os.environ.get("LOAD_AGENTS", "20"))
PASSWORD = os.environ.get("LOAD_PASSWORD", "demo-password")
DOMAIN = "demo.example.org"
# Names demo-data gives borrowers (microfinance_cli/demo_plan.py), for when a sheet is empty.
NAMES = ("Amina", "Brian", "Grace", "Otieno", "Mwangi", "Wanjiku", "Kimani", "Chebet", "Njeri")
REPORTS = ("portfolio", "par", "aging", "collections", "collection-efficiency", "agents")
REPLAY_SHARE = 0.1  # of repayments sent twice with the same key

_numbers = itertools.count()


class Payable:
    """A loan the agent may pay into: its id, currency and what is still owed."""

    def __init__(self, loan_id: str, currency: str, owed: int, name: str) -> None:
        self.loan_id, self.currency, self.owed, self.name = loan_id, currency, owed, name


class Agent(HttpUser):
    wait_time = between(
        float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3"))
    )

    def on_start(self) -> None:
        self.email = f"agent{next(_numbers) % AGENTS + 1:03d}@{DOMAIN}"
        self.headers: dict[str, str] = {}
        self.payable: dict[str, Payable] = {}
        self.loan_ids: list[str] = []
        self.login()
        self.collection_sheet()
        self.list_loans()

    # ---------------------------------------------------------------- helpers

    def login(self) -> None:
        with self.client.post(
            "/api/v1/auth/login",
            json={"username": self.email, "password": PASSWORD},
            name="POST /auth/login",
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"login {self.email}: {r.status_code} {r.text[:200]}")
                return
            self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def get(self, path: str, name: str, **params: Any) -> dict[str, Any] | None:
        """GET as the agent; logs in again once if the token has expired."""
        for attempt in range(2):
            with self.client.get(
                path, params=params or None, headers=self.headers, name=name, catch_response=True
            ) as r:
                if r.status_code == 401 and attempt == 0:
                    r.success()  # counted under its name; the retry follows
                    self.login()
                    continue
                if r.status_code != 200:
                    r.failure(f"{r.status_code} {r.text[:200]}")
                    return None
                body: dict[str, Any] = r.json()
                return body
        return None

    def remember(self, loan_id: str, currency: str, owed: int, name: str) -> None:
        if owed > 0:
            self.payable[loan_id] = Payable(loan_id, currency, owed, name)
        else:
            self.payable.pop(loan_id, None)

    # ---------------------------------------------------------------- the day

    @task(4)
    def collection_sheet(self) -> None:
        sheet = self.get("/api/v1/collection-sheet", "GET /collection-sheet")
        for row in (sheet or {}).get("rows", []):
            due = row["total_due"]
            name = row["borrower_name"]
            self.remember(row["loan_id"], due["currency"], due["amount_minor"], name)

    @task(4)
    def search_borrowers(self) -> None:
        names = [p.name for p in self.payable.values()] or list(NAMES)
        words = random.choice(names).split()
        q = random.choice(words) if words else random.choice(NAMES)
        self.get("/api/v1/borrowers", "GET /borrowers?q", q=q, page_size=20)

    @task(5)
    def post_repayment(self) -> None:
        if not self.payable:
            self.list_loans()
            if not self.payable:
                return
        loan = random.choice(list(self.payable.values()))
        # A small part of what is owed: never an overpayment, so never a 409 by design.
        amount = max(1, min(loan.owed, random.randint(1, 5) * max(1, loan.owed // 50)))
        key = str(uuid.uuid4())
        body = {
            "loan_id": loan.loan_id,
            "amount": {"amount_minor": amount, "currency": loan.currency},
            "channel": random.choice(("CASH", "MOBILE_MONEY")),
        }
        sends = 2 if random.random() < REPLAY_SHARE else 1
        for n in range(sends):
            name = "POST /payments" if n == 0 else "POST /payments (replay)"
            with self.client.post(
                "/api/v1/payments", json=body, name=name, catch_response=True,
                headers={**self.headers, "Idempotency-Key": key},
            ) as r:
                if r.status_code == 401:
                    r.success()
                    self.login()
                    return
                if r.status_code == 409:
                    # Paid off meanwhile (or a rule we did not foresee): not a server fault,
                    # but counted, so the table shows it.
                    r.failure(f"409 {r.text[:200]}")
                    self.payable.pop(loan.loan_id, None)
                    return
                if r.status_code not in (200, 201, 202):
                    r.failure(f"{r.status_code} {r.text[:200]}")
                    return
        loan.owed -= amount
        self.remember(loan.loan_id, loan.currency, loan.owed, loan.name)

    @task(2)
    def list_loans(self) -> None:
        page = self.get("/api/v1/loans", "GET /loans", status="ACTIVE", page_size=50)
        loans = (page or {}).get("loans", [])
        self.loan_ids = [loan["id"] for loan in loans] or self.loan_ids
        for loan in loans:
            summary = loan.get("summary") or {}
            owed = (summary.get("total_outstanding") or {}).get("amount_minor", 0)
            if loan["id"] not in self.payable and owed > 0:
                currency = loan["principal"]["currency"]
                self.remember(loan["id"], currency, owed, loan["borrower_name"])

    @task(4)
    def read_loan(self) -> None:
        ids = self.loan_ids or list(self.payable)
        if ids:
            self.get(f"/api/v1/loans/{random.choice(ids)}", "GET /loans/{id}")

    @task(1)
    def report(self) -> None:
        kind = random.choice(REPORTS)
        self.get(f"/api/v1/reports/{kind}", f"GET /reports/{kind}")
