# From the first admin to an agent who can work: run in bash, with the gateway up.
API=${API:-http://127.0.0.1:8000/api/v1}
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@mfi.example}
: "${ADMIN_PASSWORD:?set ADMIN_PASSWORD to the password given to microfinance create-admin}"
AGENT_EMAIL=${AGENT_EMAIL:-amina@mfi.example}

# json FIELD prints one field of the JSON answer on stdin (json access_token, json loan.id);
# when the field is missing (an error answer, say) it prints the whole answer and fails.
json() {
  python3 -c 'import json, sys
doc = value = json.load(sys.stdin)
try:
    for key in sys.argv[1].split("."):
        value = value[int(key)] if key.isdigit() else value[key]
except (KeyError, IndexError, TypeError):
    sys.exit(f"no {sys.argv[1]} in {json.dumps(doc)}")
print(value if isinstance(value, str) else json.dumps(value))' "$1"
}

ADMIN=$(curl -sS --fail-with-body "$API/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | json access_token)

# The admin creates an agent with an initial password ...
curl -sS --fail-with-body "$API/staff" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d "{\"role\":\"AGENT\",\"full_name\":\"Amina Field\",\"email\":\"$AGENT_EMAIL\",
       \"branch_id\":\"NBO-1\",\"initial_password\":\"first-Login-2026\"}" | json id

# ... who logs in (must_change_password is true), changes it, and calls /me.
AGENT=$(curl -sS --fail-with-body "$API/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"$AGENT_EMAIL\",\"password\":\"first-Login-2026\"}" | json access_token)
AGENT=$(curl -sS --fail-with-body "$API/auth/password" -H "Authorization: Bearer $AGENT" \
  -H 'Content-Type: application/json' \
  -d '{"old_password":"first-Login-2026","new_password":"a-Much-Better-one-9"}' \
  | json access_token)
curl -sS --fail-with-body "$API/me" -H "Authorization: Bearer $AGENT" | json staff.email
