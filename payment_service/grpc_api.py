"""PaymentService servicer and who may call what."""

from __future__ import annotations

from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, Access, access_table

SERVICE_NAME = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name

ACCESS: dict[str, Access] = access_table(
    SERVICE_NAME,
    {
        "PostPayment": ANY_STAFF,
        "GetPayment": ANY_STAFF,
        "ListPayments": ANY_STAFF,
        "GetReceipt": ANY_STAFF,
        "GetCollectionSheet": ANY_STAFF,
        "GetCashSummary": ANY_STAFF,
        "ReversePayment": ADMIN_ONLY,
    },
)


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    """Repayment posting; the behaviour arrives with the payments issue."""
