"""PaymentService servicer: proto <-> domain, and who may call what.

Errors are domain errors; the server's interceptor maps them to status codes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from grpc import aio

from microfinance.common.v1 import common_pb2
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from payment_service.adapters.payment_repository import DEFAULT_SORT, SORTABLE, PaymentFilter
from payment_service.adapters.receipt_render import render_html, render_pdf
from payment_service.domain.collection import CashSummary, CollectionSheet
from payment_service.domain.payment import (
    Channel,
    Payment,
    PaymentStatus,
    RawPaymentRequest,
)
from payment_service.service import PaymentService
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, Access, access_table
from shared.identity import Caller, current_caller
from shared.money import to_proto
from shared.protos import allocation_proto, audit, message_of, page_info, page_request
from shared.validation import parse_date, proto_enum_name

SERVICE_NAME = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name

ACCESS: dict[str, Access] = access_table(
    SERVICE_NAME,
    {
        # Agents reach their own borrowers' payments; the use cases scope them.
        "PostPayment": ANY_STAFF,
        "GetPayment": ANY_STAFF,
        "ListPayments": ANY_STAFF,
        "GetReceipt": ANY_STAFF,
        "GetCollectionSheet": ANY_STAFF,
        "GetCashSummary": ANY_STAFF,
        "ReversePayment": ADMIN_ONLY,
    },
)

Ctx = aio.ServicerContext[Any, Any]

def payment_proto(p: Payment) -> payment_pb2.Payment:
    c = p.amount.currency
    return message_of(
        payment_pb2.Payment,
        p,
        c,
        **asdict(p.loan),
        allocation=allocation_proto(p.allocation, c) if p.allocation is not None else None,
        reversal=message_of(payment_pb2.Reversal, p.reversal) if p.reversal else None,
        audit=audit(p.posted_by, p.created_at, p.updated_by, p.updated_at),
    )


def _optional_date(value: str, field: str) -> date | None:
    return parse_date(value, field) if value.strip() else None


def _agent_day(
    request: payment_pb2.GetCollectionSheetRequest | payment_pb2.GetCashSummaryRequest,
) -> tuple[Caller, str, date | None]:
    """Who asks, for which agent and which date (None: today): alike in both requests."""
    return current_caller(), request.agent_id, _optional_date(request.date, "date")


def _channel_name(value: int, field: str = "channel") -> str:
    return proto_enum_name(common_pb2.Channel, value, field)


def sheet_proto(sheet: CollectionSheet) -> payment_pb2.GetCollectionSheetResponse:
    return message_of(
        payment_pb2.GetCollectionSheetResponse,
        sheet,
        rows=[
            message_of(payment_pb2.CollectionSheetRow, r, collected_amount=to_proto(r.collected))
            for r in sheet.rows
        ],
        totals=[message_of(payment_pb2.CollectionSheetTotals, t) for t in sheet.totals],
    )


def cash_proto(summary: CashSummary) -> payment_pb2.GetCashSummaryResponse:
    return message_of(
        payment_pb2.GetCashSummaryResponse,
        summary,
        channels=[message_of(payment_pb2.ChannelTotal, c) for c in summary.channels],
        net_totals=[to_proto(m) for m in summary.net_totals],
    )


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments

    async def PostPayment(
        self, request: payment_pb2.PostPaymentRequest, context: Ctx
    ) -> payment_pb2.PostPaymentResponse:
        result = await self._payments.post(
            current_caller(),
            RawPaymentRequest(
                idempotency_key=request.idempotency_key,
                loan_id=request.loan_id,
                amount_minor=request.amount.amount_minor,
                currency=request.amount.currency,
                value_date=request.value_date,
                channel=_channel_name(request.channel),
                external_reference=request.external_reference,
                note=request.note,
            ),
        )
        return payment_pb2.PostPaymentResponse(
            payment=payment_proto(result.payment), replayed=result.replayed
        )

    async def GetPayment(
        self, request: payment_pb2.GetPaymentRequest, context: Ctx
    ) -> payment_pb2.GetPaymentResponse:
        payment = await self._payments.get(current_caller(), request.id)
        return payment_pb2.GetPaymentResponse(payment=payment_proto(payment))

    async def ListPayments(
        self, request: payment_pb2.ListPaymentsRequest, context: Ctx
    ) -> payment_pb2.ListPaymentsResponse:
        page = page_request(request.page, SORTABLE, DEFAULT_SORT)
        filters = PaymentFilter(
            loan_id=request.loan_id.strip(),
            borrower_id=request.borrower_id.strip(),
            agent_id=request.agent_id.strip(),
            channel=Channel(_channel_name(request.channel)) if request.channel else None,
            status=(
                PaymentStatus(proto_enum_name(payment_pb2.PaymentStatus, request.status, "status"))
                if request.status
                else None
            ),
            from_date=_optional_date(request.value_date.from_date, "value_date.from_date"),
            to_date=_optional_date(request.value_date.to_date, "value_date.to_date"),
        )
        items, total = await self._payments.list_payments(current_caller(), filters, page)
        return payment_pb2.ListPaymentsResponse(
            payments=[payment_proto(p) for p in items], page=page_info(page, len(items), total)
        )

    async def ReversePayment(
        self, request: payment_pb2.ReversePaymentRequest, context: Ctx
    ) -> payment_pb2.ReversePaymentResponse:
        payment = await self._payments.reverse(current_caller(), request.id, request.reason)
        return payment_pb2.ReversePaymentResponse(payment=payment_proto(payment))

    async def GetReceipt(
        self, request: payment_pb2.GetReceiptRequest, context: Ctx
    ) -> payment_pb2.GetReceiptResponse:
        view = await self._payments.receipt(current_caller(), request.payment_id)
        if request.format == payment_pb2.PDF:
            content, kind, ext = render_pdf(view), "application/pdf", "pdf"
        else:
            content, kind, ext = render_html(view), "text/html; charset=utf-8", "html"
        return payment_pb2.GetReceiptResponse(
            content=content,
            content_type=kind,
            receipt_number=view.receipt_number,
            filename=f"{view.receipt_number}.{ext}",
        )

    async def GetCollectionSheet(
        self, request: payment_pb2.GetCollectionSheetRequest, context: Ctx
    ) -> payment_pb2.GetCollectionSheetResponse:
        sheet = await self._payments.collection_sheet(*_agent_day(request))
        return sheet_proto(sheet)

    async def GetCashSummary(
        self, request: payment_pb2.GetCashSummaryRequest, context: Ctx
    ) -> payment_pb2.GetCashSummaryResponse:
        summary = await self._payments.cash_summary(*_agent_day(request))
        return cash_proto(summary)
