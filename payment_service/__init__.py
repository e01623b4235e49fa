"""payment_service: repayment posting, receipts, reversals and collection sheets."""
