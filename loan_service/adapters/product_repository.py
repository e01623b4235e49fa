"""MongoDB storage for loan products (never deleted; a unique index owns the code)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from loan_service.domain.loan import LoanProduct
from loan_service.domain.products import ProductTerms
from shared.errors import AlreadyExists, Conflict, FieldViolation, NotFound
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


def product_to_doc(product: LoanProduct) -> dict[str, Any]:
    return {
        "_id": product.id,
        "code": product.code,
        "name": product.name,
        "description": product.description,
        "terms": product.terms.to_dict(),
        "active": product.active,
        "deactivation_reason": product.deactivation_reason,
        "created_by": product.created_by,
        "created_at": product.created_at,
        "updated_by": product.updated_by,
        "updated_at": product.updated_at,
        "version": product.version,
    }


def product_from_doc(doc: dict[str, Any]) -> LoanProduct:
    return LoanProduct(
        id=str(doc["_id"]),
        code=doc["code"],
        name=doc["name"],
        description=doc.get("description", ""),
        terms=ProductTerms.from_dict(doc["terms"]),
        active=bool(doc.get("active", True)),
        deactivation_reason=doc.get("deactivation_reason", ""),
        created_by=doc.get("created_by", ""),
        created_at=doc.get("created_at"),
        updated_by=doc.get("updated_by", ""),
        updated_at=doc.get("updated_at"),
        version=int(doc.get("version", 1)),
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
