"""LoanService and LoanProductService servicers: proto <-> domain, and who may call what.

Money travels as ``common.v1.Money`` (``shared.money`` to_proto/from_proto),
dates as ISO ``YYYY-MM-DD`` strings, enums by name (the domain enums carry the
proto names). Errors are domain errors; the interceptor maps them to codes.
RunEndOfDay is not implemented yet (UNIMPLEMENTED).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio

from loan_service.adapters.loan_repository import DEFAULT_SORT, SORTABLE, LoanFilter
from loan_service.adapters.product_repository import SORTABLE as PRODUCT_SORTABLE
from loan_service.domain.ledger import Allocation, InstallmentState, LoanState, Transaction
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import LoanProduct
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
    parse_annual_rate,
    parse_percent,
)
from loan_service.domain.schedule import Schedule
from loan_service.service import (
    LoanService,
    LoanView,
    ProductDraft,
    ProductService,
    SubmitLoan,
    TransactionView,
)
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from shared.errors import FieldViolation, InvalidArgument
from shared.grpc.access import (
    ADMIN_ONLY,
    ADMIN_OR_SERVICE,
    ANY_STAFF,
    ANY_STAFF_OR_SERVICE,
    Access,
    access_table,
    merge_tables,
)
from shared.identity import current_caller
from shared.money import CURRENCY_EXPONENTS, from_proto, to_proto
from shared.paging import Page, page_of
from shared.protos import audit, page_info, page_request, timestamp
from shared.validation import parse_date

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
                "ApplyRepayment": ANY_STAFF_OR_SERVICE,
                "ApproveLoan": ADMIN_ONLY,
                "RejectLoan": ADMIN_ONLY,
                "DisburseLoan": ADMIN_ONLY,
                "WriteOffLoan": ADMIN_ONLY,
                "WaiveCharges": ADMIN_ONLY,
                "ReverseRepayment": ADMIN_OR_SERVICE,
                "RunEndOfDay": ADMIN_ONLY,
            },
        ),
    ]
)

Ctx = aio.ServicerContext[Any, Any]

# LoanProduct paths UpdateProduct accepts (sub-paths such as "fee.percent" too).
UPDATABLE_PRODUCT_FIELDS = (
    "code",
    "name",
    "description",
    "currency",
    "principal_min",
    "principal_max",
    "installments_min",
    "installments_max",
    "frequency",
    "interest_method",
    "amortization",
    "annual_rate",
    "principal_grace_installments",
    "rounding_multiple_minor",
    "fee",
    "late_penalty",
    "max_active_loans_per_borrower",
)


# ------------------------------------------------------------------ small values


def iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def optional_date(value: str, field_name: str) -> date | None:
    return parse_date(value, field_name) if value.strip() else None


def _enum_name(enum_type: Any, value: int) -> str:
    name: str = enum_type.Name(value)
    return name


# ------------------------------------------------------------------ products


def product_proto(product: LoanProduct) -> loan_pb2.LoanProduct:
    terms = product.terms
    c = terms.currency
    fee = None
    if terms.fee is not None:
        fee = loan_pb2.FeeTerms(
            type=terms.fee.type.value,
            fixed_amount=to_proto(terms.fee.fixed_amount_minor, c)
            if terms.fee.type is ChargeType.FIXED
            else None,
            percent=str(terms.fee.percent) if terms.fee.type is ChargeType.PERCENT else "",
        )
    penalty = None
    if terms.late_penalty is not None:
        rules = terms.late_penalty
        penalty = loan_pb2.PenaltyTerms(
            type=rules.type.value,
            fixed_amount=to_proto(rules.fixed_amount_minor, c)
            if rules.type is ChargeType.FIXED
            else None,
            percent=str(rules.percent) if rules.type is ChargeType.PERCENT else "",
            grace_days=rules.grace_days,
        )
    return loan_pb2.LoanProduct(
        id=product.id,
        code=product.code,
        name=product.name,
        description=product.description,
        currency=c,
        currency_minor_digits=CURRENCY_EXPONENTS.get(c, 0),
        principal_min=to_proto(terms.principal_min, c),
        principal_max=to_proto(terms.principal_max, c),
        installments_min=terms.installments_min,
        installments_max=terms.installments_max,
        frequency=terms.frequency.value,
        interest_method=terms.interest_method.value,
        amortization=terms.amortization.value,
        annual_rate=str(terms.annual_rate),
        principal_grace_installments=terms.principal_grace_installments,
        rounding_multiple_minor=terms.rounding_multiple_minor,
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=terms.max_active_loans_per_borrower,
        active=product.active,
        audit=audit(product.created_by, product.created_at, product.updated_by, product.updated_at),
        version=product.version,
    )


class _Problems:
    """Collects field violations so one answer names every bad field."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field_name: str, description: str) -> None:
        self.items.append(FieldViolation(field_name, description))

    def extend(self, violations: Iterable[FieldViolation]) -> None:
        seen = {v.field for v in self.items}
        self.items.extend(v for v in violations if v.field not in seen)

    def amount(self, message: common_pb2.Money, field_name: str, currency: str) -> int:
        if message.currency and message.currency != currency:
            self.add(f"{field_name}.currency", f"must be the product currency {currency}")
        return int(message.amount_minor)

    def decimal(self, parse: Any, text: str, field_name: str) -> Decimal:
        try:
            value: Decimal = parse(text, field=field_name)
            return value
        except InvalidArgument as err:
            self.extend(err.violations)
            return Decimal(0)


def _enum(problems: _Problems, enum_type: Any, domain: Any, value: int, field_name: str) -> Any:
    if value == 0:
        problems.add(field_name, "is required")
        return None
    try:
        return domain(_enum_name(enum_type, value))
    except ValueError:
        problems.add(field_name, "is not a known value")
        return None


def product_draft(p: loan_pb2.LoanProduct) -> ProductDraft:
    """A client's LoanProduct as domain values; every bad field is reported at once."""
    problems = _Problems()
    currency = p.currency.strip().upper()
    if not currency:
        problems.add("currency", "is required")
    frequency = _enum(
        problems, loan_pb2.RepaymentFrequency, RepaymentFrequency, p.frequency, "frequency"
    )
    method = _enum(
        problems, loan_pb2.InterestMethod, InterestMethod, p.interest_method, "interest_method"
    )
    amortization = _enum(
        problems, loan_pb2.Amortization, Amortization, p.amortization, "amortization"
    )
    rate = (
        problems.decimal(parse_annual_rate, p.annual_rate, "annual_rate")
        if p.annual_rate
        else Decimal(0)
    )
    if not p.annual_rate:
        problems.add("annual_rate", 'is required ("0" for no interest)')
    fee: FeeTerms | None = None
    if p.HasField("fee") and p.fee.type != loan_pb2.CHARGE_TYPE_UNSPECIFIED:
        if p.fee.type == loan_pb2.FIXED:
            fee = FeeTerms(
                ChargeType.FIXED,
                fixed_amount_minor=problems.amount(
                    p.fee.fixed_amount, "fee.fixed_amount", currency
                ),
            )
        else:
            fee = FeeTerms(
                ChargeType.PERCENT,
                percent=problems.decimal(parse_percent, p.fee.percent, "fee.percent"),
            )
    penalty: PenaltyTerms | None = None
    if p.HasField("late_penalty") and p.late_penalty.type != loan_pb2.CHARGE_TYPE_UNSPECIFIED:
        lp = p.late_penalty
        if lp.type == loan_pb2.FIXED:
            penalty = PenaltyTerms(
                ChargeType.FIXED,
                fixed_amount_minor=problems.amount(
                    lp.fixed_amount, "late_penalty.fixed_amount", currency
                ),
                grace_days=lp.grace_days,
            )
        else:
            penalty = PenaltyTerms(
                ChargeType.PERCENT,
                percent=problems.decimal(parse_percent, lp.percent, "late_penalty.percent"),
                grace_days=lp.grace_days,
            )
    principal_min = problems.amount(p.principal_min, "principal_min", currency)
    principal_max = problems.amount(p.principal_max, "principal_max", currency)
    terms = ProductTerms(
        currency=currency,
        principal_min=principal_min,
        principal_max=principal_max,
        installments_min=p.installments_min,
        installments_max=p.installments_max,
        frequency=frequency,
        interest_method=method,
        amortization=amortization,
        annual_rate=rate,
        principal_grace_installments=p.principal_grace_installments,
        rounding_multiple_minor=p.rounding_multiple_minor or 1,
        fee=fee,
        late_penalty=penalty,
        max_active_loans_per_borrower=p.max_active_loans_per_borrower or 1,
    )
    problems.extend(terms.violations())
    if not p.code.strip():
        problems.add("code", "is required")
    if not p.name.strip():
        problems.add("name", "is required")
    if problems.items:
        raise InvalidArgument.fields(problems.items)
    return ProductDraft(p.code, p.name, p.description, terms)


def merged_draft(
    current: LoanProduct, given: loan_pb2.LoanProduct, paths: list[str]
) -> ProductDraft:
    """Apply the field mask to the current product, then read it back as a draft."""
    merged = product_proto(current)
    FieldMask(paths=paths).MergeMessage(
        given, merged, replace_message_field=True, replace_repeated_field=True
    )
    return product_draft(merged)


def check_update_mask(paths: list[str]) -> list[str]:
    if not paths:
        raise InvalidArgument.field("update_mask", "names no field to update")
    unknown = [p for p in paths if p.split(".", 1)[0] not in UPDATABLE_PRODUCT_FIELDS]
    if unknown:
        raise InvalidArgument.field(
            "update_mask",
            f"cannot update {', '.join(unknown)}; allowed: {', '.join(UPDATABLE_PRODUCT_FIELDS)}",
        )
    return paths


# ------------------------------------------------------------------ schedules


def _row_from_state(row: InstallmentState, c: str) -> loan_pb2.ScheduleRow:
    return loan_pb2.ScheduleRow(
        number=row.number,
        due_date=row.due_date.isoformat(),
        principal_due=to_proto(row.principal_due, c),
        interest_due=to_proto(row.interest_due, c),
        fee_due=to_proto(row.fee_due, c),
        penalty_due=to_proto(row.penalty_due, c),
        total_due=to_proto(row.total_due, c),
        principal_paid=to_proto(row.principal_paid, c),
        interest_paid=to_proto(row.interest_paid, c),
        fee_paid=to_proto(row.fee_paid, c),
        penalty_paid=to_proto(row.penalty_paid, c),
        total_paid=to_proto(row.total_paid, c),
        interest_waived=to_proto(row.interest_waived, c),
        penalty_waived=to_proto(row.penalty_waived, c),
        outstanding_principal_after=to_proto(row.outstanding_principal_after, c),
        status=row.status.value,
        paid_date=iso(row.paid_date),
        days_past_due=row.days_past_due,
    )


def schedule_rows(schedule: Schedule, state: LoanState | None) -> list[loan_pb2.ScheduleRow]:
    c = schedule.currency
    if state is not None:
        return [_row_from_state(row, c) for row in state.installments]
    zero = to_proto(0, c)
    return [
        loan_pb2.ScheduleRow(
            number=row.number,
            due_date=row.due_date.isoformat(),
            principal_due=to_proto(row.principal, c),
            interest_due=to_proto(row.interest, c),
            fee_due=to_proto(row.fee, c),
            penalty_due=to_proto(row.penalty, c),
            total_due=to_proto(row.total, c),
            principal_paid=zero,
            interest_paid=zero,
            fee_paid=zero,
            penalty_paid=zero,
            total_paid=zero,
            interest_waived=zero,
            penalty_waived=zero,
            outstanding_principal_after=to_proto(row.outstanding_principal_after, c),
            status=loan_pb2.PENDING,
        )
        for row in schedule.rows
    ]


def schedule_totals(schedule: Schedule, state: LoanState | None) -> loan_pb2.ScheduleTotals:
    c = schedule.currency
    penalties = sum(r.penalty_due for r in state.installments) if state is not None else 0
    return loan_pb2.ScheduleTotals(
        principal=to_proto(schedule.principal, c),
        interest=to_proto(schedule.total_interest, c),
        upfront_fee=to_proto(schedule.upfront_fee, c),
        penalties=to_proto(penalties, c),
        total_repayable=to_proto(schedule.total_repayable, c),
        net_disbursed=to_proto(schedule.net_disbursed, c),
        effective_apr=schedule.effective_apr,
    )


# ------------------------------------------------------------------ loans


def allocation_proto(allocation: Allocation, c: str) -> loan_pb2.Allocation:
    return loan_pb2.Allocation(
        penalty=to_proto(allocation.penalty, c),
        fee=to_proto(allocation.fee, c),
        interest=to_proto(allocation.interest, c),
        principal=to_proto(allocation.principal, c),
        recovery=to_proto(allocation.recovery, c),
        total=to_proto(allocation.total, c),
        interest_waived=to_proto(allocation.interest_waived, c),
        installments=[
            loan_pb2.InstallmentAllocation(
                installment_number=part.installment_number,
                penalty=to_proto(part.penalty, c),
                fee=to_proto(part.fee, c),
                interest=to_proto(part.interest, c),
                principal=to_proto(part.principal, c),
            )
            for part in allocation.installments
        ],
    )


def summary_proto(state: LoanState) -> loan_pb2.LoanSummary:
    c = state.currency
    return loan_pb2.LoanSummary(
        as_of_date=state.as_of.isoformat(),
        outstanding_principal=to_proto(state.outstanding_principal, c),
        outstanding_interest=to_proto(state.outstanding_interest, c),
        outstanding_fees=to_proto(state.outstanding_fees, c),
        outstanding_penalties=to_proto(state.outstanding_penalties, c),
        total_outstanding=to_proto(state.total_outstanding, c),
        total_paid=to_proto(state.total_paid, c),
        principal_paid=to_proto(state.principal_paid, c),
        interest_paid=to_proto(state.interest_paid, c),
        fees_paid=to_proto(state.fees_paid, c),
        penalties_paid=to_proto(state.penalties_paid, c),
        total_waived=to_proto(state.total_waived, c),
        written_off_amount=to_proto(state.written_off_amount, c),
        recovered_amount=to_proto(state.recovered_amount, c),
        days_past_due=state.days_past_due,
        arrears_amount=to_proto(state.arrears_amount, c),
        next_due_date=iso(state.next_due_date),
        next_due_amount=to_proto(state.next_due_amount, c),
        installments_paid=state.installments_paid,
        installments_overdue=state.installments_overdue,
    )


def loan_proto(view: LoanView) -> loan_pb2.Loan:
    loan, state = view.loan, view.state
    c = loan.currency
    schedule = loan.schedule
    msg = loan_pb2.Loan(
        id=loan.id,
        loan_number=loan.loan_number,
        borrower_id=loan.borrower_id,
        borrower_name=loan.borrower_name,
        agent_id=loan.agent_id,
        branch_id=loan.branch_id,
        product_id=loan.product_id,
        product=product_proto(loan.product),
        status=loan.status.value,
        principal=to_proto(loan.principal, c),
        installments=loan.installments,
        purpose=loan.purpose,
        submitted_date=loan.submitted_date.isoformat(),
        disbursement_date=iso(loan.disbursement_date),
        first_repayment_date=iso(schedule.first_repayment_date) if schedule else "",
        maturity_date=iso(schedule.maturity_date) if schedule else "",
        closed_date=iso(loan.closed_date),
        written_off_date=iso(loan.written_off_date),
        submitted_by=loan.submitted_by,
        submitted_at=timestamp(loan.submitted_at),
        approved_by=loan.approved_by,
        approved_at=timestamp(loan.approved_at),
        rejected_by=loan.rejected_by,
        rejected_at=timestamp(loan.rejected_at),
        rejection_reason=loan.rejection_reason,
        withdrawn_by=loan.withdrawn_by,
        withdrawn_at=timestamp(loan.withdrawn_at),
        withdrawal_reason=loan.withdrawal_reason,
        disbursed_by=loan.disbursed_by,
        disbursed_at=timestamp(loan.disbursed_at),
        written_off_by=loan.written_off_by,
        written_off_at=timestamp(loan.written_off_at),
        write_off_reason=loan.write_off_reason,
        audit=audit(loan.submitted_by, loan.submitted_at, loan.updated_by, loan.updated_at),
        version=loan.version,
    )
    if schedule is not None:
        msg.upfront_fee.CopyFrom(to_proto(schedule.upfront_fee, c))
        msg.net_disbursed.CopyFrom(to_proto(schedule.net_disbursed, c))
        msg.total_interest.CopyFrom(to_proto(schedule.total_interest, c))
        msg.total_repayable.CopyFrom(to_proto(schedule.total_repayable, c))
        msg.effective_apr = schedule.effective_apr
    if state is not None:
        msg.summary.CopyFrom(summary_proto(state))
    return msg


def transaction_proto(
    txn: Transaction, currency: str, allocation: Allocation | None, reversed_: bool = False
) -> loan_pb2.Transaction:
    msg = loan_pb2.Transaction(
        id=txn.id,
        type=txn.type.value,
        value_date=txn.value_date.isoformat(),
        amount=to_proto(txn.amount, currency),
        payment_id=txn.payment_id,
        reversed_transaction_id=txn.reverses,
        reversed=reversed_,
        installment_number=txn.installment_number,
        reason=txn.reason,
        actor=txn.actor,
        created_at=timestamp(txn.created_at),
        sequence=txn.sequence,
    )
    if allocation is not None:
        msg.allocation.CopyFrom(allocation_proto(allocation, currency))
    return msg


def view_proto(view: TransactionView, currency: str) -> loan_pb2.Transaction:
    return transaction_proto(view.transaction, currency, view.allocation, view.reversed)


def _status(value: int, field_name: str = "status") -> LoanStatus | None:
    if value == 0:
        return None
    try:
        return LoanStatus(_enum_name(loan_pb2.LoanStatus, value))
    except ValueError:
        raise InvalidArgument.field(field_name, "is not a known loan status") from None


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
    """The loan lifecycle. RunEndOfDay is left to its own issue (UNIMPLEMENTED)."""

    def __init__(self, loans: LoanService) -> None:
        self._loans = loans

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
            status=_status(request.status),
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
            current_caller(), request.q, _status(request.status), page
        )
        # Scope is re-checked on the Mongo records, so a page may hold fewer than it asked.
        returned = page.size if page.offset + page.size < total else len(views)
        return loan_pb2.SearchLoansResponse(
            loans=[loan_proto(v) for v in views], page=page_info(page, returned, total)
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
        c = quote.currency
        return loan_pb2.GetPayoffQuoteResponse(
            loan_id=loan.id,
            date=quote.date.isoformat(),
            principal=to_proto(quote.principal, c),
            interest=to_proto(quote.interest, c),
            fees=to_proto(quote.fees, c),
            penalties=to_proto(quote.penalties, c),
            total=to_proto(quote.total, c),
            interest_waived=to_proto(quote.interest_waived, c),
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
        done = await self._loans.apply_repayment(
            current_caller(),
            request.loan_id,
            payment_id=request.payment_id,
            amount=from_proto(request.amount, field="amount"),
            value_date=parse_date(request.value_date, "value_date"),
            channel=request.channel,
            on_behalf_of=request.on_behalf_of,
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
        out: list[loan_pb2.DueLoan] = []
        for row in found.loans:
            c = row.loan.currency
            out.append(
                loan_pb2.DueLoan(
                    loan_id=row.loan.id,
                    loan_number=row.loan.loan_number,
                    borrower_id=row.loan.borrower_id,
                    borrower_name=row.loan.borrower_name,
                    agent_id=row.loan.agent_id,
                    oldest_due_date=row.oldest_due_date.isoformat(),
                    installment_numbers=list(row.installment_numbers),
                    amount_due=to_proto(row.amount_due, c),
                    arrears_amount=to_proto(row.arrears_amount, c),
                    total_due=to_proto(row.amount_due + row.arrears_amount, c),
                    days_past_due=row.days_past_due,
                )
            )
        return loan_pb2.GetLoansDueResponse(
            loans=out,
            page=common_pb2.PageInfo(
                next_page_token=found.next_page_token, total_size=found.total
            ),
        )
