# Developer shortcuts. PYTHON defaults to the project venv when it exists.
PYTHON ?= $(shell [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)

.PHONY: protos check-protos

# Regenerate microfinance/ (the committed gRPC code) from proto/.
protos:
	$(PYTHON) scripts/gen_protos.py

# Fail if the committed generated code differs from what proto/ produces (CI drift check).
check-protos:
	$(PYTHON) scripts/gen_protos.py --check

.PHONY: contracts
# buf lint and buf breaking against proto/baseline.binpb (installs the pinned buf with npm).
contracts:
	$(PYTHON) -m microfinance_cli contracts
