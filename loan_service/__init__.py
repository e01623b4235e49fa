"""loan_service: loan products, the loan lifecycle, schedules and repayments."""
