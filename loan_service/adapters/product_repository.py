"""MongoDB storage for loan products (never deleted; a unique index owns the code)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
from shared.errors import AlreadyExists, Conflict, FieldViolation, NotFound
from shared.mongo import stamps_doc, stamps_from_doc
from shared.paging import Page

PRODUCTS = "loan_products"

PRODUCT_INDEXES: dict[str, list[IndexModel]] = {
    PRODUCTS: [
        IndexModel([("code", ASCENDING)], unique=True, name="code_unique"),
        IndexModel([("active", ASCENDING), ("created_at", ASCENDING)], name="active_created"),
        IndexModel([("terms.currency", ASCENDING)], name="currency"),
    ]
}

SORTABLE = {"created_at": "created_at", "code": "code", "name": "name"}


# The storage form of a product's terms; also the "terms" of its events.
def terms_to_doc(terms: ProductTerms) -> dict[str, Any]:
    return {
        "currency": terms.currency,
        "principal_min": terms.principal_min,
        "principal_max": terms.principal_max,
        "installments_min": terms.installments_min,
        "installments_max": terms.installments_max,
        "frequency": terms.frequency.value,
        "interest_method": terms.interest_method.value,
        "amortization": terms.amortization.value,
        "annual_rate": str(terms.annual_rate),
        "principal_grace_installments": terms.principal_grace_installments,
        "rounding_multiple_minor": terms.rounding_multiple_minor,
        "fee": None
        if terms.fee is None
        else {
            "type": terms.fee.type.value,
            "fixed_amount_minor": terms.fee.fixed_amount_minor,
            "percent": str(terms.fee.percent),
        },
        "late_penalty": None
        if terms.late_penalty is None
        else {
            "type": terms.late_penalty.type.value,
            "fixed_amount_minor": terms.late_penalty.fixed_amount_minor,
            "percent": str(terms.late_penalty.percent),
            "grace_days": terms.late_penalty.grace_days,
        },
        "max_active_loans_per_borrower": terms.max_active_loans_per_borrower,
    }

def terms_from_doc(data: dict[str, Any]) -> ProductTerms:
    fee = data.get("fee")
    penalty = data.get("late_penalty")
    return ProductTerms(
        currency=data["currency"],
        principal_min=int(data["principal_min"]),
        principal_max=int(data["principal_max"]),
        installments_min=int(data["installments_min"]),
        installments_max=int(data["installments_max"]),
        frequency=RepaymentFrequency(data["frequency"]),
        interest_method=InterestMethod(data["interest_method"]),
        amortization=Amortization(data["amortization"]),
        annual_rate=Decimal(data["annual_rate"]),
        principal_grace_installments=int(data.get("principal_grace_installments", 0)),
        rounding_multiple_minor=int(data.get("rounding_multiple_minor", 1)),
        fee=None
        if not fee
        else FeeTerms(
            type=ChargeType(fee["type"]),
            fixed_amount_minor=int(fee.get("fixed_amount_minor", 0)),
            percent=Decimal(fee.get("percent", "0")),
        ),
        late_penalty=None
        if not penalty
        else PenaltyTerms(
            type=ChargeType(penalty["type"]),
            fixed_amount_minor=int(penalty.get("fixed_amount_minor", 0)),
            percent=Decimal(penalty.get("percent", "0")),
            grace_days=int(penalty.get("grace_days", 0)),
        ),
        max_active_loans_per_borrower=int(data.get("max_active_loans_per_borrower", 1)),
    )


def product_to_doc(product: LoanProduct) -> dict[str, Any]:
    return {
        "_id": product.id,
        "code": product.code,
        "name": product.name,
        "description": product.description,
        "terms": terms_to_doc(product.terms),
        "active": product.active,
        "deactivation_reason": product.deactivation_reason,
        **stamps_doc(product),
    }


def product_from_doc(doc: dict[str, Any]) -> LoanProduct:
    return LoanProduct(
        id=str(doc["_id"]),
        code=doc["code"],
        name=doc["name"],
        description=doc.get("description", ""),
        terms=terms_from_doc(doc["terms"]),
        active=bool(doc.get("active", True)),
        deactivation_reason=doc.get("deactivation_reason", ""),
        **stamps_from_doc(doc),
    )


class ProductRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._products = db[PRODUCTS]

    async def _duplicate(self, code: str) -> AlreadyExists:
        # Read outside the failed write, so the record holding the code is visible.
        doc = await self._products.find_one({"code": code}, {"_id": 1})
        return AlreadyExists(
            f"a loan product with code {code} already exists",
            violations=[FieldViolation("code", "already exists")],
            existing_id=str(doc["_id"]) if doc else None,
        )

    async def insert(self, product: LoanProduct, session: AsyncClientSession | None = None) -> None:
        try:
            await self._products.insert_one(product_to_doc(product), session=session)
        except DuplicateKeyError as exc:
            raise await self._duplicate(product.code) from exc

    async def get(self, product_id: str, session: AsyncClientSession | None = None) -> LoanProduct:
        doc = await self._products.find_one({"_id": product_id}, session=session)
        if doc is None:
            raise NotFound(f"loan product {product_id} not found")
        return product_from_doc(doc)

    async def get_by_code(self, code: str) -> LoanProduct:
        doc = await self._products.find_one({"code": code})
        if doc is None:
            raise NotFound(f"loan product with code {code} not found")
        return product_from_doc(doc)

    async def page(
        self, *, active: bool | None, currency: str | None, page: Page
    ) -> tuple[list[LoanProduct], int]:
        query: dict[str, Any] = {}
        if active is not None:
            query["active"] = active
        if currency:
            query["terms.currency"] = currency
        total = await self._products.count_documents(query)
        cursor = self._products.find(query).sort(page.sort).skip(page.offset).limit(page.size)
        return [product_from_doc(d) async for d in cursor], total

    async def replace(
        self,
        product: LoanProduct,
        expected_version: int,
        session: AsyncClientSession | None = None,
    ) -> LoanProduct:
        """Compare-and-set on ``version``: a concurrent writer makes this ABORTED, never lost."""
        doc = product_to_doc(product)
        doc["version"] = expected_version + 1
        try:
            stored = await self._products.find_one_and_replace(
                {"_id": product.id, "version": expected_version},
                doc,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
        except DuplicateKeyError as exc:
            raise await self._duplicate(product.code) from exc
        if stored is None:
            current = await self.get(product.id, session)
            raise Conflict(
                f"loan product {product.id} was changed concurrently (version "
                f"{current.version}, expected {expected_version}); reload and retry"
            )
        return product_from_doc(stored)
