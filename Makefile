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

.PHONY: lock audit
# requirements.lock: the runtime dependencies of pyproject.toml (and its build backend), every
# version pinned with the hashes of its files on PyPI; the Dockerfile installs from it. Run it
# after changing [project].dependencies. It resolves against PyPI alone (PIP_CONFIG_FILE and
# PIP_FIND_LINKS are ignored), so local wheel caches cannot leave a hash the image won't find.
# With the tracing extra: the image can trace (MF_TRACING=otlp) without another build.
lock:
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	  $(PYTHON) -m piptools compile --quiet --extra tracing \
	  --generate-hashes --strip-extras --allow-unsafe --all-build-deps \
	  --no-emit-index-url --no-emit-find-links --upgrade \
	  --output-file requirements.lock pyproject.toml

# pip-audit over requirements.lock: fails on a locked version with a known vulnerability.
audit:
	$(PYTHON) scripts/audit_deps.py
