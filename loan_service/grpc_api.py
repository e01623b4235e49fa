"""LoanService and LoanProductService servicers: who may call what, and each RPC.

Messages become domain values and back in ``loan_service.convert``. Errors are
domain errors; the interceptor maps them to codes. End of day's use cases are
in ``loan_service.eod_service``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from grpc import aio

from loan_service.adapters.loan_repository import DEFAULT_SORT, SORTABLE, LoanFilter
from loan_service.adapters.product_repository import SORTABLE as PRODUCT_SORTABLE
from loan_service.convert import (
    check_update_mask,
    due_loan_proto,
    eod_status_proto,
    loan_proto,
    loan_status,
    merged_draft,
    optional_date,
    product_draft,
    product_proto,
    run_eod_proto,
    schedule_rows,
    schedule_totals,
    transaction_proto,
    view_proto,
)
from loan_service.eod_service import EndOfDay
from loan_service.product_service import ProductService
from loan_service.service import LoanService, SubmitLoan, sees_everything
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from shared.errors import InvalidArgument
from shared.grpc.access import (
    ADMIN_ONLY,
    ADMIN_OR_SERVICE,
    ANY_STAFF,
    ANY_STAFF_OR_SERVICE,
    SERVICE_ONLY,
    Access,
    access_table,
    merge_tables,
)
from shared.identity import current_caller
from shared.money import from_proto, to_proto
from shared.paging import Page, page_of
from shared.protos import (
    allocation_proto,
    message_of,
    page_info,
    page_request,
    search_page_info,
)
from shared.validation import parse_date, proto_enum_name

LOAN_SERVICE = loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name
PRODUCT_SERVICE = loan_pb2.DESCRIPTOR.services_by_name["LoanProductService"].full_name

ACCESS: dict[str, Access] = merge_tables(
    [
        access_table(
            PRODUCT_SERVICE,
            {
                "CreateProduct": ADMIN_ONLY,
                "UpdateProduct": ADMIN_ONLY,
                "DeactivateProduct": ADMIN_ONLY,
                "ActivateProduct": ADMIN_ONLY,
                "GetProduct": ANY_STAFF,
                "ListProducts": ANY_STAFF,
                "PreviewSchedule": ANY_STAFF,
            },
        ),
        access_table(
            LOAN_SERVICE,
            {
                # Agents act on their own borrowers' loans; the use cases scope them.
                "SubmitLoan": ANY_STAFF,
                # SERVICE: payment_service's recovery loop (scope checked when posted).
                "GetLoan": ANY_STAFF_OR_SERVICE,
                "ListLoans": ANY_STAFF,
                "SearchLoans": ANY_STAFF,
                "WithdrawLoan": ANY_STAFF,
                "GetSchedule": ANY_STAFF,
                "ListTransactions": ANY_STAFF_OR_SERVICE,
                "GetPayoffQuote": ANY_STAFF,
                "GetLoansDue": ANY_STAFF,
                "ApproveLoan": ADMIN_ONLY,
                "RejectLoan": ADMIN_ONLY,
                "DisburseLoan": ADMIN_ONLY,
                "WriteOffLoan": ADMIN_ONLY,
                "WaiveCharges": ADMIN_ONLY,
                "RunEndOfDay": ADMIN_OR_SERVICE,
                # Agents see the last closed date only (the servicer trims the answer).
                "GetEndOfDayStatus": ANY_STAFF_OR_SERVICE,
                # payment_service only (its own token, naming the person in on_behalf_of):
                # a repayment booked any other way would have no payment record, receipt or
                # cash-summary line, and a reversal no reversal record.
                "ApplyRepayment": SERVICE_ONLY,
                "ReverseRepayment": SERVICE_ONLY,
            },
        ),
    ]
)

Ctx = aio.ServicerContext[Any, Any]

def _search_page(request: common_pb2.PageRequest) -> Page:
    if request.order_by.strip():
        raise InvalidArgument.field(
            "page.order_by", "search results are ranked by relevance; order_by is not supported"
        )
    return page_request(request, {}, [])


# ------------------------------------------------------------------ servicers


class LoanProductServicer(loan_pb2_grpc.LoanProductServiceServicer):
    def __init__(self, products: ProductService) -> None:
        self._products = products

    async def CreateProduct(
        self, request: loan_pb2.CreateProductRequest, context: Ctx
    ) -> loan_pb2.CreateProductResponse:
        product = await self._products.create(current_caller(), product_draft(request.product))
        return loan_pb2.CreateProductResponse(product=product_proto(product))

    async def GetProduct(
        self, request: loan_pb2.GetProductRequest, context: Ctx
    ) -> loan_pb2.GetProductResponse:
        product = await self._products.get(request.id, request.code)
        return loan_pb2.GetProductResponse(product=product_proto(product))

    async def ListProducts(
        self, request: loan_pb2.ListProductsRequest, context: Ctx
    ) -> loan_pb2.ListProductsResponse:
        page = page_request(request.page, PRODUCT_SORTABLE, [("created_at", 1)])
        items, total = await self._products.list_products(
            active=request.active if request.HasField("active") else None,
            currency=request.currency.strip().upper() or None,
            page=page,
        )
        return loan_pb2.ListProductsResponse(
            products=[product_proto(p) for p in items], page=page_info(page, len(items), total)
        )

    async def UpdateProduct(
        self, request: loan_pb2.UpdateProductRequest, context: Ctx
    ) -> loan_pb2.UpdateProductResponse:
        paths = check_update_mask(list(request.update_mask.paths))
        product = await self._products.update(
            current_caller(),
            request.id,
            lambda current: merged_draft(current, request.product, paths),
            request.expected_version,
        )
        return loan_pb2.UpdateProductResponse(product=product_proto(product))

    async def DeactivateProduct(
        self, request: loan_pb2.DeactivateProductRequest, context: Ctx
    ) -> loan_pb2.DeactivateProductResponse:
        product = await self._products.deactivate(current_caller(), request.id, request.reason)
        return loan_pb2.DeactivateProductResponse(product=product_proto(product))

    async def ActivateProduct(
        self, request: loan_pb2.ActivateProductRequest, context: Ctx
    ) -> loan_pb2.ActivateProductResponse:
        product = await self._products.activate(current_caller(), request.id)
        return loan_pb2.ActivateProductResponse(product=product_proto(product))

    async def PreviewSchedule(
        self, request: loan_pb2.PreviewScheduleRequest, context: Ctx
    ) -> loan_pb2.PreviewScheduleResponse:
        if not request.product_id:
            raise InvalidArgument.field("product_id", "is required")
        schedule = await self._products.preview(
            request.product_id,
            from_proto(request.principal, field="principal"),
            request.installments,
            optional_date(request.disbursement_date, "disbursement_date"),
            optional_date(request.first_repayment_date, "first_repayment_date"),
        )
        return loan_pb2.PreviewScheduleResponse(
            rows=schedule_rows(schedule, None), totals=schedule_totals(schedule, None)
        )


class LoanServicer(loan_pb2_grpc.LoanServiceServicer):
    """The loan lifecycle, and end of day."""

    def __init__(self, loans: LoanService, eod: EndOfDay) -> None:
        self._loans = loans
        self._eod = eod

    async def RunEndOfDay(
        self, request: loan_pb2.RunEndOfDayRequest, context: Ctx
    ) -> loan_pb2.RunEndOfDayResponse:
        status = await self._eod.start(
            current_caller(),
            optional_date(request.business_date, "business_date"),
            catch_up=request.catch_up,
        )
        shown = status.requested if status.already_run else (
            status.run.current if status.run is not None else None
        )
        return run_eod_proto(status, await self._eod.figures(shown))

    async def GetEndOfDayStatus(
        self, request: loan_pb2.GetEndOfDayStatusRequest, context: Ctx
    ) -> loan_pb2.GetEndOfDayStatusResponse:
        full = sees_everything(current_caller())
        return eod_status_proto(await self._eod.status(), full=full)

    async def SubmitLoan(
        self, request: loan_pb2.SubmitLoanRequest, context: Ctx
    ) -> loan_pb2.SubmitLoanResponse:
        view = await self._loans.submit(
            current_caller(),
            SubmitLoan(
                borrower_id=request.borrower_id.strip(),
                product_id=request.product_id.strip(),
                principal=from_proto(request.principal, field="principal"),
                installments=request.installments,
                purpose=request.purpose,
                note=request.note,
            ),
        )
        return loan_pb2.SubmitLoanResponse(loan=loan_proto(view))

    async def GetLoan(
        self, request: loan_pb2.GetLoanRequest, context: Ctx
    ) -> loan_pb2.GetLoanResponse:
        view = await self._loans.get(
            current_caller(), request.id, optional_date(request.as_of_date, "as_of_date")
        )
        return loan_pb2.GetLoanResponse(loan=loan_proto(view))

    async def ListLoans(
        self, request: loan_pb2.ListLoansRequest, context: Ctx
    ) -> loan_pb2.ListLoansResponse:
        page = page_request(request.page, SORTABLE, DEFAULT_SORT)
        flt = LoanFilter(
            business_date=date.min,  # the use case sets today
            status=loan_status(request.status),
            agent_id=request.agent_id.strip() or None,
            borrower_id=request.borrower_id.strip() or None,
            product_id=request.product_id.strip() or None,
            branch_id=request.branch_id.strip() or None,
            disbursed_from=optional_date(request.disbursed.from_date, "disbursed.from_date"),
            disbursed_to=optional_date(request.disbursed.to_date, "disbursed.to_date"),
            dpd_min=request.dpd_min if request.HasField("dpd_min") else None,
            dpd_max=request.dpd_max if request.HasField("dpd_max") else None,
        )
        views, total = await self._loans.list_loans(current_caller(), flt, page)
        return loan_pb2.ListLoansResponse(
            loans=[loan_proto(v) for v in views], page=page_info(page, len(views), total)
        )

    async def SearchLoans(
        self, request: loan_pb2.SearchLoansRequest, context: Ctx
    ) -> loan_pb2.SearchLoansResponse:
        page = _search_page(request.page)
        views, total = await self._loans.search(
            current_caller(), request.q, loan_status(request.status), page
        )
        # Scope is re-checked on the Mongo records, so a page may hold fewer than it asked.
        return loan_pb2.SearchLoansResponse(
            loans=[loan_proto(v) for v in views], page=search_page_info(page, total)
        )

    async def ApproveLoan(
        self, request: loan_pb2.ApproveLoanRequest, context: Ctx
    ) -> loan_pb2.ApproveLoanResponse:
        view = await self._loans.approve(
            current_caller(), request.id, request.note, request.expected_version
        )
        return loan_pb2.ApproveLoanResponse(loan=loan_proto(view))

    async def RejectLoan(
        self, request: loan_pb2.RejectLoanRequest, context: Ctx
    ) -> loan_pb2.RejectLoanResponse:
        view = await self._loans.reject(
            current_caller(), request.id, request.reason, request.expected_version
        )
        return loan_pb2.RejectLoanResponse(loan=loan_proto(view))

    async def WithdrawLoan(
        self, request: loan_pb2.WithdrawLoanRequest, context: Ctx
    ) -> loan_pb2.WithdrawLoanResponse:
        view = await self._loans.withdraw(
            current_caller(), request.id, request.reason, request.expected_version
        )
        return loan_pb2.WithdrawLoanResponse(loan=loan_proto(view))

    async def DisburseLoan(
        self, request: loan_pb2.DisburseLoanRequest, context: Ctx
    ) -> loan_pb2.DisburseLoanResponse:
        done = await self._loans.disburse(
            current_caller(),
            request.id,
            disbursement_date=optional_date(request.disbursement_date, "disbursement_date"),
            first_repayment_date=optional_date(
                request.first_repayment_date, "first_repayment_date"
            ),
            note=request.note,
            expected_version=request.expected_version,
        )
        schedule, state = done.schedule, done.view.state
        c = schedule.currency
        return loan_pb2.DisburseLoanResponse(
            loan=loan_proto(done.view),
            net_disbursed=to_proto(schedule.net_disbursed, c),
            upfront_fee=to_proto(schedule.upfront_fee, c),
            schedule=schedule_rows(schedule, state),
            totals=schedule_totals(schedule, state),
        )

    async def GetSchedule(
        self, request: loan_pb2.GetScheduleRequest, context: Ctx
    ) -> loan_pb2.GetScheduleResponse:
        _, schedule, state = await self._loans.schedule(
            current_caller(), request.loan_id, optional_date(request.as_of_date, "as_of_date")
        )
        return loan_pb2.GetScheduleResponse(
            rows=schedule_rows(schedule, state), totals=schedule_totals(schedule, state)
        )

    async def ListTransactions(
        self, request: loan_pb2.ListTransactionsRequest, context: Ctx
    ) -> loan_pb2.ListTransactionsResponse:
        page = page_request(request.page, {}, [])
        loan, views = await self._loans.transactions(current_caller(), request.loan_id)
        chunk = views[page.offset : page.offset + page.size]
        return loan_pb2.ListTransactionsResponse(
            transactions=[view_proto(v, loan.currency) for v in chunk],
            page=page_info(page, len(chunk), len(views)),
        )

    async def GetPayoffQuote(
        self, request: loan_pb2.GetPayoffQuoteRequest, context: Ctx
    ) -> loan_pb2.GetPayoffQuoteResponse:
        loan, quote = await self._loans.payoff_quote(
            current_caller(), request.loan_id, optional_date(request.date, "date")
        )
        return message_of(
            loan_pb2.GetPayoffQuoteResponse, quote, quote.currency, loan_id=loan.id
        )

    async def WriteOffLoan(
        self, request: loan_pb2.WriteOffLoanRequest, context: Ctx
    ) -> loan_pb2.WriteOffLoanResponse:
        done = await self._loans.write_off(
            current_caller(),
            request.id,
            request.reason,
            write_off_date=optional_date(request.write_off_date, "write_off_date"),
            expected_version=request.expected_version,
        )
        return loan_pb2.WriteOffLoanResponse(
            loan=loan_proto(done.view),
            written_off_amount=to_proto(done.written_off_amount, done.view.loan.currency),
        )

    async def WaiveCharges(
        self, request: loan_pb2.WaiveChargesRequest, context: Ctx
    ) -> loan_pb2.WaiveChargesResponse:
        done = await self._loans.waive(
            current_caller(),
            request.loan_id,
            installment_number=request.installment_number,
            penalty=from_proto(request.penalty_amount, field="penalty_amount")
            if request.HasField("penalty_amount")
            else None,
            interest=from_proto(request.interest_amount, field="interest_amount")
            if request.HasField("interest_amount")
            else None,
            reason=request.reason,
            value_date=optional_date(request.value_date, "value_date"),
            expected_version=request.expected_version,
        )
        c = done.view.loan.currency
        return loan_pb2.WaiveChargesResponse(
            loan=loan_proto(done.view),
            transaction=transaction_proto(done.transaction, c, done.allocation),
        )

    async def ApplyRepayment(
        self, request: loan_pb2.ApplyRepaymentRequest, context: Ctx
    ) -> loan_pb2.ApplyRepaymentResponse:
        if not request.loan_id:
            raise InvalidArgument.field("loan_id", "is required")
        if not request.value_date.strip():
            raise InvalidArgument.field("value_date", "is required")
        if not request.channel:
            raise InvalidArgument.field("channel", "is required")
        done = await self._loans.apply_repayment(
            current_caller(),
            request.loan_id,
            payment_id=request.payment_id,
            amount=from_proto(request.amount, field="amount"),
            value_date=parse_date(request.value_date, "value_date"),
            channel=proto_enum_name(common_pb2.Channel, request.channel, "channel"),
            on_behalf_of=request.on_behalf_of,
            agent_scope=request.agent_scope,
        )
        c = done.view.loan.currency
        return loan_pb2.ApplyRepaymentResponse(
            transaction=transaction_proto(done.transaction, c, done.allocation),
            allocation=allocation_proto(done.allocation, c),
            loan=loan_proto(done.view),
            closed=done.closed,
            replayed=done.replayed,
            recovery=done.recovery,
        )

    async def ReverseRepayment(
        self, request: loan_pb2.ReverseRepaymentRequest, context: Ctx
    ) -> loan_pb2.ReverseRepaymentResponse:
        done = await self._loans.reverse_repayment(
            current_caller(),
            request.payment_id,
            request.reason,
            request.loan_id.strip(),
            on_behalf_of=request.on_behalf_of,
        )
        loan = done.view.loan
        allocation = next(
            (
                v.allocation
                for v in self._loans.transaction_views(loan)
                if v.transaction.id == done.reversal.id
            ),
            None,
        )
        return loan_pb2.ReverseRepaymentResponse(
            reversal=transaction_proto(done.reversal, loan.currency, allocation),
            loan=loan_proto(done.view),
            replayed=done.replayed,
        )

    async def GetLoansDue(
        self, request: loan_pb2.GetLoansDueRequest, context: Ctx
    ) -> loan_pb2.GetLoansDueResponse:
        # Size and order_by checks only: the token is a keyset one (see loans_due).
        size = page_of(request.page.page_size, "", request.page.order_by, {}, []).size
        found = await self._loans.loans_due(
            current_caller(),
            request.agent_id.strip(),
            optional_date(request.date, "date"),
            size,
            request.page.page_token,
        )
        return loan_pb2.GetLoansDueResponse(
            loans=[due_loan_proto(row) for row in found.loans],
            page=common_pb2.PageInfo(
                next_page_token=found.next_page_token, total_size=found.total
            ),
        )
