"""/api/v1/loan-products: loan products (admins write, all staff read) and schedule previews."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response, status
from google.protobuf.field_mask_pb2 import FieldMask

from api_gateway.convert import common as convert
from api_gateway.convert import loans as loan_convert
from api_gateway.deps import State
from api_gateway.routes import (
    PageSize,
    PageToken,
    RecordId,
    Router,
    error_responses,
    expected_version,
    tagged,
)
from api_gateway.schemas import loans as loan_schemas
from api_gateway.schemas.common import CURRENCY_PATTERN
from api_gateway.security import AdminOnly, AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.errors import InvalidArgument

router = Router(prefix="/api/v1/loan-products", tags=["loan products"])



@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a loan product (active at once)",
    responses=error_responses(401, 403, 409, 422, 503),
)
async def create_product(
    body: loan_schemas.ProductIn, caller: AdminOnly, state: State, response: Response
) -> loan_schemas.ProductOut:
    result = await state.clients.products.CreateProduct(
        loan_pb2.CreateProductRequest(product=loan_convert.product_in(body))
    )
    product = loan_convert.product(result.product)
    response.headers["Location"] = f"/api/v1/loan-products/{product.id}"
    return tagged(response, product)


@router.get(
    "",
    summary="List loan products",
    responses=error_responses(401, 403, 422, 503),
)
async def list_products(
    caller: AnyStaff,
    state: State,
    active: Annotated[bool | None, Query(description="Unset: active and inactive")] = None,
    currency: Annotated[str | None, Query(pattern=CURRENCY_PATTERN)] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    order_by: Annotated[
        str, Query(max_length=200, description="created_at, code, name; `desc` allowed")
    ] = "",
) -> loan_schemas.ProductList:
    request = loan_pb2.ListProductsRequest(
        currency=currency or "",
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token, order_by=order_by),
    )
    if active is not None:
        request.active = active
    result = await state.clients.products.ListProducts(request)
    return loan_schemas.ProductList(
        products=[loan_convert.product(p) for p in result.products],
        page=convert.page_info(result.page),
    )


@router.get(
    "/{product_id}",
    summary="One loan product",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_product(
    product_id: RecordId, caller: AnyStaff, state: State, response: Response
) -> loan_schemas.ProductOut:
    result = await state.clients.products.GetProduct(loan_pb2.GetProductRequest(id=product_id))
    return tagged(response, loan_convert.product(result.product))


@router.patch(
    "/{product_id}",
    summary="Change the given fields (JSON merge); existing loans keep their terms",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def update_product(
    product_id: RecordId,
    body: loan_schemas.ProductPatch,
    caller: AdminOnly,
    state: State,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag of a read, e.g. "3"')] = None,
) -> loan_schemas.ProductOut:
    paths = body.changed_fields()
    if not paths:
        raise InvalidArgument.field("body", "names no field to change")
    result = await state.clients.products.UpdateProduct(
        loan_pb2.UpdateProductRequest(
            id=product_id,
            product=loan_convert.product_in(body),
            update_mask=FieldMask(paths=paths),
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, loan_convert.product(result.product))


@router.post(
    "/{product_id}/deactivate",
    summary="No new loans on this product (existing loans are unaffected)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def deactivate_product(
    product_id: RecordId,
    caller: AdminOnly,
    state: State,
    body: loan_schemas.DeactivateProductIn | None = None,
) -> loan_schemas.ProductOut:
    result = await state.clients.products.DeactivateProduct(
        loan_pb2.DeactivateProductRequest(id=product_id, reason=body.reason if body else "")
    )
    return loan_convert.product(result.product)


@router.post(
    "/{product_id}/activate",
    summary="Open a deactivated product to new loans again",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def activate_product(
    product_id: RecordId, caller: AdminOnly, state: State
) -> loan_schemas.ProductOut:
    result = await state.clients.products.ActivateProduct(
        loan_pb2.ActivateProductRequest(id=product_id)
    )
    return loan_convert.product(result.product)


@router.post(
    "/{product_id}/preview",
    summary="Compute a schedule for given terms; creates nothing",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def preview_schedule(
    product_id: RecordId, body: loan_schemas.PreviewIn, caller: AnyStaff, state: State
) -> loan_schemas.ScheduleOut:
    result = await state.clients.products.PreviewSchedule(
        loan_pb2.PreviewScheduleRequest(
            product_id=product_id,
            principal=loan_convert.money_in(body.principal),
            installments=body.installments,
            disbursement_date=loan_convert.iso(body.disbursement_date),
            first_repayment_date=loan_convert.iso(body.first_repayment_date),
        )
    )
    return convert.to_model(loan_schemas.ScheduleOut, result)
