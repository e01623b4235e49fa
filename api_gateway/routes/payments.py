"""/api/v1/payments, /api/v1/collection-sheet and /api/v1/cash-summary.

Posting answers 201 when the payment was applied to the loan now, 200 when the
Idempotency-Key was seen before with the same body (the first result again,
``Idempotency-Replayed: true``), and 202 when the loan service could not be
reached: the payment is recorded PENDING and settles by itself (poll
``GET /payments/{id}``). A loan refusal is 404/409/422 with the loan
service's reason, and the payment stays on record as REJECTED.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated

from fastapi import Header, Query, Request, Response, status

from api_gateway.convert import payments as pc
from api_gateway.convert.common import to_model
from api_gateway.deps import State
from api_gateway.routes import PageSize, PageToken, RecordId, Router, error_responses
from api_gateway.schemas import payments as ps
from api_gateway.security import AdminOnly, AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.payment.v1 import payment_pb2
from shared.errors import InvalidArgument
from shared.money import to_proto

router = Router(prefix="/api/v1", tags=["payments"])

DateParam = Annotated[
    str | None, Query(pattern=ps.DATE_PATTERN, description="YYYY-MM-DD; default today.")
]
AgentParam = Annotated[
    str | None,
    Query(
        max_length=64,
        # The services' shape of an id (shared/grpc/request_check.py), named "agent" here.
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._:@-]*)?$",
        description="Agent id; required for admins, agents may omit it (always themselves).",
    ),
]
IDEMPOTENCY_HEADER = "Idempotency-Key"
_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)

_CHANNELS: dict[ps.ChannelName | None, common_pb2.Channel] = {
    None: common_pb2.CHANNEL_UNSPECIFIED,
    ps.ChannelName.CASH: common_pb2.CASH,
    ps.ChannelName.MOBILE_MONEY: common_pb2.MOBILE_MONEY,
    ps.ChannelName.BANK_TRANSFER: common_pb2.BANK_TRANSFER,
}
_STATUSES: dict[ps.PaymentStatusName | None, payment_pb2.PaymentStatus] = {
    None: payment_pb2.PAYMENT_STATUS_UNSPECIFIED,
    ps.PaymentStatusName.PENDING: payment_pb2.PENDING,
    ps.PaymentStatusName.POSTED: payment_pb2.POSTED,
    ps.PaymentStatusName.REJECTED: payment_pb2.REJECTED,
    ps.PaymentStatusName.REVERSED: payment_pb2.REVERSED,
}


def _wants(request: Request, fmt: str | None, media: str) -> bool:
    """``?format=`` wins; otherwise the Accept header asks for ``media``."""
    if fmt is not None:
        return fmt == media.split("/")[-1]
    return media in request.headers.get("accept", "")


# ------------------------------------------------------------------ posting


@router.post(
    "/payments",
    status_code=status.HTTP_201_CREATED,
    summary="Post a repayment (requires Idempotency-Key)",
    responses={
        200: {"model": ps.PaymentOut, "description": "Replay: the key was used with this body"},
        202: {"model": ps.PaymentOut, "description": "Recorded PENDING; settles by itself"},
        **error_responses(401, 403, 404, 409, 422, 503),
    },
)
async def post_payment(
    body: ps.PostPaymentRequest,
    caller: AnyStaff,
    state: State,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=128,
            description="Required. Client-chosen, unique per payment; repeat it on every retry.",
        ),
    ],
) -> ps.PaymentOut:
    if not idempotency_key.strip():
        raise InvalidArgument.field(
            IDEMPOTENCY_HEADER, "header is required: a unique key per payment, reused on retries"
        )
    result = await state.clients.payments.PostPayment(
        payment_pb2.PostPaymentRequest(
            idempotency_key=idempotency_key.strip(),
            loan_id=body.loan_id,
            amount=to_proto(body.amount),
            value_date=body.value_date or "",
            channel=_CHANNELS[body.channel],
            external_reference=body.external_reference,
            note=body.note,
        )
    )
    payment = to_model(ps.PaymentOut, result.payment)
    if payment.status is ps.PaymentStatusName.PENDING:
        response.status_code = status.HTTP_202_ACCEPTED
    elif result.replayed:
        response.status_code = status.HTTP_200_OK
    if result.replayed:
        response.headers["Idempotency-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/payments/{payment.id}"
    return payment


# ------------------------------------------------------------------ reading


@router.get(
    "/payments",
    summary="List payments (agents: their borrowers' and their own)",
    responses=error_responses(401, 403, 422, 503),
)
async def list_payments(
    caller: AnyStaff,
    state: State,
    loan_id: Annotated[str | None, Query(max_length=64)] = None,
    borrower_id: Annotated[str | None, Query(max_length=64)] = None,
    agent_id: Annotated[
        str | None, Query(max_length=64, description="Admins only; agents see their own.")
    ] = None,
    channel: Annotated[ps.ChannelName | None, Query()] = None,
    payment_status: Annotated[ps.PaymentStatusName | None, Query(alias="status")] = None,
    from_date: Annotated[
        str | None, Query(pattern=ps.DATE_PATTERN, description="Value date, inclusive.")
    ] = None,
    to_date: Annotated[
        str | None, Query(pattern=ps.DATE_PATTERN, description="Value date, inclusive.")
    ] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    order_by: Annotated[
        str,
        Query(
            max_length=200,
            description="value_date, posted_at, receipt_number, created_at; `desc` allowed",
        ),
    ] = "",
) -> ps.PaymentList:
    result = await state.clients.payments.ListPayments(
        payment_pb2.ListPaymentsRequest(
            loan_id=loan_id or "",
            borrower_id=borrower_id or "",
            agent_id=agent_id or "",
            channel=_CHANNELS[channel],
            status=_STATUSES[payment_status],
            value_date=common_pb2.DateRange(from_date=from_date or "", to_date=to_date or ""),
            page=common_pb2.PageRequest(
                page_size=page_size, page_token=page_token, order_by=order_by
            ),
        )
    )
    return to_model(ps.PaymentList, result)


@router.get(
    "/payments/{payment_id}",
    summary="One payment",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_payment(payment_id: RecordId, caller: AnyStaff, state: State) -> ps.PaymentOut:
    result = await state.clients.payments.GetPayment(payment_pb2.GetPaymentRequest(id=payment_id))
    return to_model(ps.PaymentOut, result.payment)


def _receipt_csp(content: bytes) -> str:
    """Nothing but the receipt's own inline stylesheet, allowed by its hash."""
    sources = [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _STYLE.finditer(content)
    ]
    style = f"style-src {' '.join(sources)}; " if sources else ""
    return (
        f"default-src 'none'; {style}frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


@router.get(
    "/payments/{payment_id}/receipt",
    summary="Printable receipt: HTML (default) or PDF (?format=pdf or Accept: application/pdf)",
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "The receipt of a POSTED or REVERSED payment",
        },
        **error_responses(401, 403, 404, 409, 422, 503),
    },
)
async def get_receipt(
    payment_id: RecordId,
    request: Request,
    caller: AnyStaff,
    state: State,
    fmt: Annotated[ps.ReceiptFormatName | None, Query(alias="format")] = None,
) -> Response:
    pdf = _wants(request, fmt.value if fmt else None, "application/pdf")
    result = await state.clients.payments.GetReceipt(
        payment_pb2.GetReceiptRequest(
            payment_id=payment_id, format=payment_pb2.PDF if pdf else payment_pb2.HTML
        )
    )
    headers = {"Content-Disposition": f'inline; filename="{result.filename}"'}
    if not pdf:
        headers["Content-Security-Policy"] = _receipt_csp(result.content)
    return Response(content=result.content, media_type=result.content_type, headers=headers)


@router.post(
    "/payments/{payment_id}/reverse",
    summary="Reverse a POSTED payment (admin): the loan replays without it",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reverse_payment(
    payment_id: RecordId, body: ps.ReversePaymentRequest, caller: AdminOnly, state: State
) -> ps.PaymentOut:
    result = await state.clients.payments.ReversePayment(
        payment_pb2.ReversePaymentRequest(id=payment_id, reason=body.reason)
    )
    return to_model(ps.PaymentOut, result.payment)


# ------------------------------------------------------------------ collection and cash


@router.get(
    "/collection-sheet",
    response_model=ps.CollectionSheetOut,
    summary="Installments due or overdue for an agent's borrowers on a date; CSV on request",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}},
        **error_responses(401, 403, 422, 503),
    },
)
async def collection_sheet(
    request: Request,
    caller: AnyStaff,
    state: State,
    date: DateParam = None,
    agent: AgentParam = None,
    fmt: Annotated[
        ps.ReportFormatName | None,
        Query(alias="format", description="csv, or send Accept: text/csv"),
    ] = None,
) -> ps.CollectionSheetOut | Response:
    result = await state.clients.payments.GetCollectionSheet(
        payment_pb2.GetCollectionSheetRequest(agent_id=agent or "", date=date or "")
    )
    if _wants(request, fmt.value if fmt else None, "text/csv"):
        # The agent id echoes the query: keep the header plain ASCII and its quoting intact.
        safe_agent = re.sub(r"[^A-Za-z0-9._-]", "_", result.agent_id)
        filename = f"collection-sheet-{safe_agent}-{result.date}.csv"
        return Response(
            # A byte-order mark, so spreadsheet programs read the names as UTF-8.
            content="\ufeff" + pc.collection_sheet_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return to_model(ps.CollectionSheetOut, result)


@router.get(
    "/cash-summary",
    summary="End-of-day totals by channel of the payments an agent posted for a date",
    responses=error_responses(401, 403, 422, 503),
)
async def cash_summary(
    caller: AnyStaff, state: State, date: DateParam = None, agent: AgentParam = None
) -> ps.CashSummaryOut:
    result = await state.clients.payments.GetCashSummary(
        payment_pb2.GetCashSummaryRequest(agent_id=agent or "", date=date or "")
    )
    return to_model(ps.CashSummaryOut, result)
