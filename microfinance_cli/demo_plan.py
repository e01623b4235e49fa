"""What `microfinance demo-data` builds: a deterministic plan from a seed (no I/O).

Branches, staff (one admin who approves, agents spread over the branches), products
(weekly, biweekly and monthly; flat and declining; upfront fees and late penalties; in
each currency asked for), borrowers (Kenyan E.164 mobile numbers and national ids, both
unique; adults) and loans disbursed over the past ``days`` with how each is repaid.
The same seed, sizes and date give the same plan, ids included.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from loan_service.domain.loan import LoanProduct
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.seeding import Conduct, LoanPlan
from shared.identity import Role
from user_service.domain.borrower import (
    AddressInput,
    BorrowerInput,
    EmploymentInput,
    IdentityDocumentInput,
    MoneyInput,
)
from user_service.seeding import StaffSeed

BRANCHES = ("NAIROBI", "MOMBASA", "KISUMU", "NAKURU", "ELDORET")
FIRST_NAMES = (
    "Amina", "Brian", "Carol", "David", "Esther", "Felix", "Grace", "Hassan", "Irene", "James",
    "Kevin", "Lilian", "Mercy", "Njeri", "Otieno", "Peter", "Quinter", "Rose", "Samuel",
    "Tabitha", "Wanjiru", "Yusuf", "Zawadi", "Achieng", "Kamau",
)
LAST_NAMES = (
    "Mwangi", "Odhiambo", "Kariuki", "Wanjiku", "Kiptoo", "Mutua", "Njoroge", "Omondi",
    "Chebet", "Kimani", "Barasa", "Wafula", "Atieno", "Nyambura", "Korir", "Musyoka",
)
OCCUPATIONS = ("tailor", "grocer", "farmer", "mechanic", "hairdresser", "trader", "baker")
CHANNELS = ("CASH", "CASH", "MOBILE_MONEY", "MOBILE_MONEY", "MOBILE_MONEY", "BANK_TRANSFER")
DEMO_DOMAIN = "demo.example.org"
# Each currency's minor units per major unit and a loan size scale (KES loans are larger).
_SCALE = {"USD": 100, "EUR": 100, "KES": 100 * 100, "UGX": 3_700, "TZS": 2_500 * 100}


@dataclass(frozen=True, slots=True)
class DemoSizes:
    borrowers: int
    loans: int
    days: int
    seed: int
    currencies: tuple[str, ...]
    agents: int


def staff_seeds(agents: int) -> list[StaffSeed]:
    """The admin first, then the agents, round-robin over the branches."""
    branches = BRANCHES[: max(2, min(len(BRANCHES), agents // 2))]
    admin = StaffSeed(Role.ADMIN, "Demo Administrator", f"admin@{DEMO_DOMAIN}", "", "HQ")
    return [admin] + [
        StaffSeed(
            Role.AGENT,
            f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[(i * 7) % len(LAST_NAMES)]}",
            f"agent{i + 1:03d}@{DEMO_DOMAIN}",
            f"+2547000{i:05d}",
            branches[i % len(branches)],
        )
        for i in range(agents)
    ]


def _terms(
    currency: str, frequency: RepaymentFrequency, method: InterestMethod, rate: str,
    installments: tuple[int, int], fee: FeeTerms, penalty: PenaltyTerms,
) -> ProductTerms:
    scale = _SCALE.get(currency, 100)
    return ProductTerms(
        currency=currency,
        principal_min=50 * scale,
        principal_max=5_000 * scale,
        installments_min=installments[0],
        installments_max=installments[1],
        frequency=frequency,
        interest_method=method,
        amortization=Amortization.EQUAL_INSTALLMENTS,
        annual_rate=Decimal(rate),
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=2,
    )


def products(currencies: Sequence[str], rng: random.Random) -> list[LoanProduct]:
    """Three products in the first currency, two in each other one."""
    out: list[LoanProduct] = []
    week, fortnight, month = (RepaymentFrequency.WEEKLY, RepaymentFrequency.BIWEEKLY,
                              RepaymentFrequency.MONTHLY)
    flat, declining = InterestMethod.FLAT, InterestMethod.DECLINING_BALANCE
    for n, currency in enumerate(currencies):
        scale = _SCALE.get(currency, 100)
        kinds = [
            ("WK-FLAT", "Weekly business loan", _terms(
                currency, week, flat, "24", (8, 26),
                FeeTerms(ChargeType.PERCENT, percent=Decimal(2)),
                PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=2 * scale, grace_days=3))),
            ("BW-DECL", "Biweekly group loan", _terms(
                currency, fortnight, declining, "30", (6, 13),
                FeeTerms(ChargeType.FIXED, fixed_amount_minor=5 * scale),
                PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=2))),
            ("MO-DECL", "Monthly asset loan", _terms(
                currency, month, declining, "36", (3, 12),
                FeeTerms(ChargeType.PERCENT, percent=Decimal("1.5")),
                PenaltyTerms(ChargeType.PERCENT, percent=Decimal(2), grace_days=5))),
        ]
        for code, name, terms in kinds[: 3 if n == 0 else 2]:
            out.append(LoanProduct(
                id=new_id(rng), code=f"DEMO-{code}-{currency}", name=f"{name} ({currency})",
                description="Demo data product", terms=terms,
            ))
    return out


def new_id(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def borrower_input(index: int, rng: random.Random, today: date) -> BorrowerInput:
    """Borrower ``index``: phone and national id derived from the index, so unique."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    age_days = rng.randint(18 * 366 + 1, 70 * 365)
    prefix = 10 + index // 1_000_000  # 0710..0729: Kenyan mobile ranges
    return BorrowerInput(
        first_name=first,
        last_name=last,
        date_of_birth=(today - timedelta(days=age_days)).isoformat(),
        gender=rng.choice(("FEMALE", "FEMALE", "MALE")),
        nationality="KE",
        phone=f"+2547{prefix:02d}{index % 1_000_000:06d}",
        current_address=AddressInput(
            line1=f"{rng.randint(1, 400)} Market Road", city=rng.choice(BRANCHES).title(),
            country="KE",
        ),
        identity_documents=(
            IdentityDocumentInput(type="NATIONAL_ID", number=f"{20_000_000 + index}"),
        ),
        employment=EmploymentInput(
            status="SELF_EMPLOYED", occupation=rng.choice(OCCUPATIONS),
            monthly_income=MoneyInput(rng.randint(150, 1500) * 100 * 100, "KES"),
        ),
    )


@dataclass(frozen=True, slots=True)
class BorrowerRef:
    id: str
    name: str
    agent_id: str
    branch_id: str


def _conduct(rng: random.Random, installments: int) -> tuple[Conduct, int, int]:
    """(conduct, delay days, installments paid before stopping)."""
    roll = rng.random()
    if roll < 0.70:
        return Conduct.ON_TIME, 0, installments
    if roll < 0.85:
        return Conduct.LATE, rng.randint(2, 20), installments
    stopped = rng.randint(0, max(0, installments // 2))
    if roll < 0.96:
        return Conduct.DEFAULTED, rng.choice((0, 0, 3, 10)), stopped
    return Conduct.WRITTEN_OFF, 0, stopped


def loan_plans(
    borrowers: Sequence[BorrowerRef],
    catalogue: Sequence[LoanProduct],
    sizes: DemoSizes,
    approver_id: str,
    today: date,
) -> Iterator[LoanPlan]:
    """Loan k goes to borrower k mod B, each of a borrower's loans on another product;
    the first loan is written off early, so every portfolio has one."""
    rng = random.Random(sizes.seed * 7919 + 1)
    for k in range(sizes.loans):
        who = borrowers[k % len(borrowers)]
        product = catalogue[(k % len(borrowers) + k // len(borrowers)) % len(catalogue)]
        terms = product.terms
        installments = rng.randint(terms.installments_min, terms.installments_max)
        step = max(terms.principal_min // 50, 1)
        principal = rng.randint(terms.principal_min // step, terms.principal_max // 4 // step)
        start = today - timedelta(days=rng.randint(1, sizes.days))
        conduct, delay, paid = _conduct(rng, installments)
        write_off_after = rng.randint(30, 90)
        if k == 0:
            start = today - timedelta(days=sizes.days)
            conduct, delay, paid, write_off_after = Conduct.WRITTEN_OFF, 0, 0, 7
        yield LoanPlan(
            id=new_id(rng), sequence=0, borrower_id=who.id, borrower_name=who.name,
            agent_id=who.agent_id, branch_id=who.branch_id, approver_id=approver_id,
            product=product, principal=principal * step, installments=installments,
            disbursement_date=start, conduct=conduct, delay_days=delay,
            paid_installments=paid, write_off_after_days=write_off_after,
            channel=rng.choice(CHANNELS), purpose=f"stock for {rng.choice(OCCUPATIONS)} business",
        )


__all__ = [
    "BorrowerRef",
    "DemoSizes",
    "borrower_input",
    "loan_plans",
    "new_id",
    "products",
    "staff_seeds",
]
