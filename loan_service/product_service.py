"""Loan product use cases: create, change and preview the products loans are made from.

A product change and its ``loan.product_*`` event are written in one Mongo
transaction; an update is compare-and-set on ``version``. A loan copies its
product's terms when submitted, so a change never alters an existing loan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from loan_service.adapters.product_repository import ProductRepository
from loan_service.domain.loan import (
    LoanProduct,
    check_product_text,
    check_reason,
    normalize_code,
)
from loan_service.domain.products import ProductTerms
from loan_service.domain.schedule import Schedule, generate_schedule
from loan_service.payloads import product_payload
from shared.clock import business_date, utcnow
from shared.errors import Conflict, FailedPrecondition, InvalidArgument
from shared.identity import Caller
from shared.money import Money
from shared.paging import Page
from shared.ports import Events, Session, Transactions
from shared.records import created


@dataclass(frozen=True, slots=True)
class ProductDraft:
    """A product's editable content, as a client gave it (checked by the use case)."""

    code: str
    name: str
    description: str
    terms: ProductTerms


class ProductService:
    def __init__(
        self,
        repo: ProductRepository,
        transactions: Transactions,
        events: Events,
        *,
        clock: Callable[[], datetime] = utcnow,
        timezone: ZoneInfo | None = None,
    ) -> None:
        self._repo = repo
        self._tx = transactions
        self._events = events
        self._clock = clock
        self._tz = timezone

    def today(self) -> date:
        return business_date(self._clock(), self._tz)

    @staticmethod
    def _checked(draft: ProductDraft) -> ProductDraft:
        code = normalize_code(draft.code)
        name, description = check_product_text(draft.name, draft.description)
        return ProductDraft(code, name, description, draft.terms.validate())

    async def _store(
        self, event_type: str, product: LoanProduct, expected_version: int | None
    ) -> LoanProduct:
        async def body(session: Session) -> LoanProduct:
            if expected_version is None:
                await self._repo.insert(product, session)
                stored = product
            else:
                stored = await self._repo.replace(product, expected_version, session)
            await self._events.add(
                session,
                [self._events.new_event(event_type, stored.id, product_payload(stored))],
            )
            return stored

        stored = await self._tx(body)
        self._events.notify()
        return stored

    async def create(self, caller: Caller, draft: ProductDraft) -> LoanProduct:
        checked = self._checked(draft)
        now = self._clock()
        product = LoanProduct(
            id=uuid.uuid4().hex,
            code=checked.code,
            name=checked.name,
            description=checked.description,
            terms=checked.terms,
            **created(caller.subject, now),
        )
        return await self._store("loan.product_created", product, None)

    async def get(self, product_id: str = "", code: str = "") -> LoanProduct:
        if product_id:
            return await self._repo.get(product_id)
        if code:
            return await self._repo.get_by_code(normalize_code(code))
        raise InvalidArgument.field("id", "id or code is required")

    async def list_products(
        self, *, active: bool | None, currency: str | None, page: Page
    ) -> tuple[list[LoanProduct], int]:
        return await self._repo.page(active=active, currency=currency, page=page)

    async def update(
        self,
        caller: Caller,
        product_id: str,
        change: Callable[[LoanProduct], ProductDraft],
        expected_version: int = 0,
    ) -> LoanProduct:
        """``change`` builds the new content from the current product (a field-mask merge)."""
        current = await self._repo.get(product_id)
        if expected_version and expected_version != current.version:
            raise Conflict(
                f"loan product {product_id} is at version {current.version}, not {expected_version}"
            )
        checked = self._checked(change(current))
        updated = replace(
            current,
            code=checked.code,
            name=checked.name,
            description=checked.description,
            terms=checked.terms,
            updated_by=caller.subject,
            updated_at=self._clock(),
        )
        return await self._store("loan.product_updated", updated, current.version)

    async def deactivate(self, caller: Caller, product_id: str, reason: str) -> LoanProduct:
        text = check_reason(reason, required=False)
        current = await self._repo.get(product_id)
        if not current.active:
            raise FailedPrecondition(f"loan product {current.code} is already inactive")
        updated = replace(
            current,
            active=False,
            deactivation_reason=text,
            updated_by=caller.subject,
            updated_at=self._clock(),
        )
        return await self._store("loan.product_deactivated", updated, current.version)

    async def activate(self, caller: Caller, product_id: str) -> LoanProduct:
        current = await self._repo.get(product_id)
        if current.active:
            raise FailedPrecondition(f"loan product {current.code} is already active")
        updated = replace(
            current,
            active=True,
            deactivation_reason="",
            updated_by=caller.subject,
            updated_at=self._clock(),
        )
        return await self._store("loan.product_activated", updated, current.version)

    async def preview(
        self,
        product_id: str,
        principal: Money,
        installments: int,
        disbursement_date: date | None,
        first_repayment_date: date | None,
    ) -> Schedule:
        # Checked before the lookup: no product makes a count below one valid.
        if installments < 1:
            raise InvalidArgument.field("installments", "must be at least 1")
        product = await self._repo.get(product_id)
        product.terms.check_request(
            principal.amount_minor, installments, currency=principal.currency
        )
        return generate_schedule(
            product.terms,
            principal.amount_minor,
            installments,
            disbursement_date or self.today(),
            first_repayment_date,
        )

