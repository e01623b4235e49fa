# After the security walk-through, in the same shell ($API, $AGENT, json).
# An agent registers a borrower, who is assigned to them; the identity document is unique.
ID_NUMBER=${ID_NUMBER:-23456789}
PHONE=${PHONE:-0712 345 678}
BORROWER=$(curl -sS --fail-with-body "$API/borrowers" -H "Authorization: Bearer $AGENT" \
  -H 'Content-Type: application/json' -d @- <<EOF | json id
{"first_name": "Amina", "last_name": "Wanjiru", "date_of_birth": "1990-04-12",
 "phone": "$PHONE", "nationality": "KE",
 "identity_documents": [{"type": "NATIONAL_ID", "number": "$ID_NUMBER"}]}
EOF
)
echo "borrower $BORROWER"
curl -sS --fail-with-body "$API/borrowers/$BORROWER" -H "Authorization: Bearer $AGENT" \
  | json phone
# Search tolerates a typo; the index may lag a write by a moment.
curl -sS --fail-with-body "$API/borrowers?q=amina%20wanjuru" -H "Authorization: Bearer $AGENT"
echo
