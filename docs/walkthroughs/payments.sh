# After the loans walk-through, in the same shell ($API, $ADMIN, $AGENT, $LOAN, json).
# One Idempotency-Key per payment; a retry of that payment sends the same key and body.
KEY=$(python3 -c 'import uuid; print(uuid.uuid4())')
PAYMENT="{\"loan_id\":\"$LOAN\",\"amount\":{\"amount_minor\":53000,\"currency\":\"USD\"},
          \"channel\":\"CASH\"}"
PAY=$(curl -sS --fail-with-body "$API/payments" -H "Authorization: Bearer $AGENT" \
  -H "Idempotency-Key: $KEY" -H 'Content-Type: application/json' -d "$PAYMENT" | json id)
# The same again (an answer lost on the way, say): 200, the same payment and receipt.
curl -sS --fail-with-body "$API/payments" -H "Authorization: Bearer $AGENT" \
  -H "Idempotency-Key: $KEY" -H 'Content-Type: application/json' -d "$PAYMENT" \
  | json receipt_number
# Paid on the disbursement day, before any interest accrued: all of it is principal.
curl -sS --fail-with-body "$API/payments?loan_id=$LOAN" -H "Authorization: Bearer $AGENT" \
  | json payments.0.allocation.principal
curl -sS --fail-with-body "$API/payments/$PAY/receipt" -H "Authorization: Bearer $AGENT" \
  -o receipt.html
curl -sS --fail-with-body "$API/payments/$PAY/receipt?format=pdf" \
  -H "Authorization: Bearer $AGENT" -o receipt.pdf
curl -sS --fail-with-body "$API/collection-sheet?format=csv" -H "Authorization: Bearer $AGENT"
curl -sS --fail-with-body "$API/cash-summary" -H "Authorization: Bearer $AGENT"
echo
# An admin reverses it, with a reason; the loan is replayed without it.
curl -sS --fail-with-body "$API/payments/$PAY/reverse" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"reason":"posted to the wrong loan"}' | json status
