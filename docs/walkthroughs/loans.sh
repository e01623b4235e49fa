# After the borrowers walk-through, in the same shell ($API, $ADMIN, $AGENT, $BORROWER, json).
# An admin creates a weekly product: 52% a year, flat, so 1% of the principal a week.
PRODUCT_CODE=${PRODUCT_CODE:-GRP-WEEKLY-6}
PRODUCT=$(curl -sS --fail-with-body "$API/loan-products" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d @- <<EOF | json id
{"code": "$PRODUCT_CODE", "name": "Group weekly", "currency": "USD",
 "principal_min": {"amount_minor": 10000, "currency": "USD"},
 "principal_max": {"amount_minor": 500000, "currency": "USD"},
 "installments_min": 4, "installments_max": 26, "frequency": "WEEKLY",
 "interest_method": "FLAT", "amortization": "EQUAL_INSTALLMENTS", "annual_rate": "52"}
EOF
)

# The agent applies: 3,000.00 USD over 6 weeks.
LOAN=$(curl -sS --fail-with-body "$API/loans" -H "Authorization: Bearer $AGENT" \
  -H 'Content-Type: application/json' \
  -d "{\"borrower_id\":\"$BORROWER\",\"product_id\":\"$PRODUCT\",
       \"principal\":{\"amount_minor\":300000,\"currency\":\"USD\"},\"installments\":6}" \
  | json id)

# An admin approves (maker-checker: not the agent who submitted), verifies the borrower's
# KYC (disbursement needs it VERIFIED), and disburses today.
curl -sS --fail-with-body -X POST "$API/loans/$LOAN/approve" -H "Authorization: Bearer $ADMIN" \
  | json status
curl -sS --fail-with-body "$API/borrowers/$BORROWER/kyc" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d '{"status":"VERIFIED","note":"national ID seen"}' | json kyc_status
curl -sS --fail-with-body "$API/loans/$LOAN/disburse" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{}' | json loan.status

# Six installments of 530.00 (500.00 principal + 30.00 interest), the first in a week.
curl -sS --fail-with-body "$API/loans/$LOAN/schedule" -H "Authorization: Bearer $AGENT"
echo
# What closes the loan today (no date given): on the disbursement day, the principal.
curl -sS --fail-with-body "$API/loans/$LOAN/payoff-quote" -H "Authorization: Bearer $AGENT" \
  | json total.amount_minor
# Search by borrower name or loan number; the index may lag a write by a moment.
curl -sS --fail-with-body "$API/loans?q=wanjiru" -H "Authorization: Bearer $AGENT"
echo
