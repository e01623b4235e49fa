"""The layering rules, checked on the source (an AST walk, nothing is imported).

* A ``domain/`` package is plain Python: no gRPC, protobuf, database, cache, search,
  broker or web library, and nothing of its service outside ``domain/``; from
  ``shared`` only the modules that are themselves plain (``PURE_SHARED``).
* No service package imports another one: they talk over gRPC and events.
* ``shared/`` imports no service.
* An adapter imports only its own service's domain, its sibling adapters and its
  settings: never the use cases, the servicer, the consumers or the wiring.

``import_violations`` is the checker; the synthetic cases below show that each
rule fails when broken, and ``test_the_code_base_keeps_the_rules`` runs it on
the real tree.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVICES = frozenset(
    {
        "api_gateway",
        "auth_service",
        "loan_service",
        "payment_service",
        "reporting_service",
        "user_service",
    }
)
# Libraries that do I/O or belong to a transport; the domain must import without them.
RUNTIME_LIBRARIES = frozenset(
    {
        "aio_pika",
        "aiormq",
        "bson",
        "elasticsearch",
        "fastapi",
        "google.protobuf",
        "google.rpc",
        "grpc",
        "grpc_health",
        "grpc_reflection",
        "grpc_status",
        "httpx",
        "microfinance",  # the generated protos
        "motor",
        "pydantic",
        "pydantic_settings",
        "pymongo",
        "redis",
        "starlette",
        "uvicorn",
    }
)
# The shared modules a domain may use: each is plain Python itself (checked below).
PURE_SHARED = frozenset(
    {
        "shared.clock",
        "shared.errors",
        "shared.identity",
        "shared.money",
        "shared.paging",
        "shared.portfolio",
        "shared.records",
        "shared.validation",
        "shared.text",
    }
)
# Imports a pure module may make anyway, each with its reason.
PURE_EXCEPTIONS: dict[tuple[str, str], str] = {
    # Money <-> proto lives beside Money so there is one copy; the proto module is
    # imported inside the two functions, so importing shared.money needs no protobuf.
    ("shared.money", "microfinance.common.v1"): "lazy, inside to_proto/from_proto",
}
# What an adapter may import from its own service besides domain/ and adapters/.
ADAPTER_MAY_IMPORT = frozenset({"settings"})


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _runtime_library(name: str) -> str | None:
    for lib in RUNTIME_LIBRARIES:
        if _within(name, lib):
            return lib
    return None


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import, except under ``if TYPE_CHECKING``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            # ``from pkg import sub`` may name a submodule: judge the full name too.
            yield node.lineno, target
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{target}.{alias.name}"


def import_violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Every layering rule ``source`` (the text of ``module``) breaks, one line each."""
    tree = ast.parse(source)
    top = module.split(".")[0]
    in_domain = top in SERVICES and _within(module, f"{top}.domain")
    pure = in_domain or module in PURE_SHARED
    in_adapters = top in SERVICES and _within(module, f"{top}.adapters")
    found: list[str] = []
    seen: set[tuple[int, str]] = set()

    def add(line: int, rule: str, message: str) -> None:
        # One report per rule and line: ``from a import b`` yields both a and a.b.
        if (line, rule) not in seen:
            seen.add((line, rule))
            found.append(f"{module}:{line}: {message}")

    for line, name in _imports(tree, module, is_package):
        name_top = name.split(".")[0]
        if pure:
            lib = _runtime_library(name)
            if lib and not any(
                module == m and _within(name, allowed) for m, allowed in PURE_EXCEPTIONS
            ):
                add(line, "runtime", f"plain-Python module imports runtime library {lib}")
        if in_domain:
            if name_top == top and not _within(name, f"{top}.domain"):
                add(line, "domain", f"domain imports {name}, outside {top}.domain")
            if name_top == "shared" and name.count(".") >= 1:
                shared_module = ".".join(name.split(".")[:2])
                if shared_module not in PURE_SHARED:
                    message = f"domain imports {shared_module}, which is not plain Python"
                    add(line, "shared", message)
        if top in SERVICES and name_top in SERVICES and name_top != top:
            add(line, "service", f"service {top} imports another service: {name_top}")
        if top == "shared" and (name_top in SERVICES or name_top == "microfinance_cli"):
            add(line, "service", f"shared imports {name_top}")
        if in_adapters and name_top == top:
            allowed = (
                _within(name, f"{top}.domain")
                or _within(name, f"{top}.adapters")
                or any(_within(name, f"{top}.{m}") for m in ADAPTER_MAY_IMPORT)
            )
            if not allowed and name != top:
                add(line, "adapter", f"adapter imports {name}: adapters never reach the use cases")
    return found


def _production_modules() -> Iterator[tuple[str, Path]]:
    for top in sorted(SERVICES | {"shared"}):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def tree_violations() -> list[str]:
    found: list[str] = []
    for module, path in _production_modules():
        found += import_violations(
            module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
        )
    return found


# ------------------------------------------------------------------ the real tree


def test_the_code_base_keeps_the_rules() -> None:
    assert tree_violations() == []


def test_the_walk_sees_every_service_and_their_domains() -> None:
    modules = {m for m, _ in _production_modules()}
    for service in SERVICES - {"api_gateway"}:
        assert f"{service}.domain" in modules
    assert "loan_service.domain.schedule" in modules
    assert "shared.errors" in modules


# ------------------------------------------------------------------ each rule fails


def _check(module: str, source: str, *, is_package: bool = False) -> list[str]:
    return import_violations(module, textwrap.dedent(source), is_package=is_package)


@pytest.mark.parametrize(
    "statement",
    [
        "import grpc",
        "from grpc import aio",
        "from google.rpc import status_pb2",
        "from google.protobuf import timestamp_pb2",
        "import pymongo",
        "from bson import ObjectId",
        "import redis.asyncio",
        "from elasticsearch import AsyncElasticsearch",
        "import aio_pika",
        "from fastapi import FastAPI",
        "from pydantic import BaseModel",
        "from microfinance.loan.v1 import loan_pb2",
    ],
)
def test_a_domain_module_importing_a_runtime_library_fails(statement: str) -> None:
    found = _check("loan_service.domain.schedule", statement)
    assert len(found) == 1
    assert "runtime library" in found[0]


def test_an_import_inside_a_function_counts_too() -> None:
    source = """
        def f() -> None:
            import pymongo
    """
    assert _check("user_service.domain.borrower", source)


def test_a_type_checking_import_does_not_count() -> None:
    source = """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from grpc import aio
    """
    assert _check("loan_service.domain.loan", source) == []


@pytest.mark.parametrize(
    "statement",
    [
        "from loan_service.adapters.loan_repository import loan_to_doc",
        "from loan_service import service",
        "from loan_service.grpc_api import LoanServicer",
        "from .. import grpc_api",
        "from ..adapters import search",
    ],
)
def test_a_domain_module_importing_outside_its_domain_fails(statement: str) -> None:
    found = _check("loan_service.domain.loan", statement)
    assert found
    assert all("outside loan_service.domain" in f for f in found)


@pytest.mark.parametrize("statement", ["from shared.mongo import utcnow", "import shared.events"])
def test_a_domain_module_importing_impure_shared_code_fails(statement: str) -> None:
    found = _check("payment_service.domain.payment", statement)
    assert any("not plain Python" in f for f in found)


def test_the_pure_shared_modules_are_held_to_the_same_rule() -> None:
    assert _check("shared.errors", "import grpc")
    assert _check("shared.clock", "from pymongo import MongoClient")
    # ...and the one named exception stays narrow.
    assert _check("shared.money", "from microfinance.common.v1 import common_pb2") == []
    assert _check("shared.money", "from microfinance.loan.v1 import loan_pb2")


def test_a_domain_module_may_use_its_domain_and_plain_shared_code() -> None:
    source = """
        from decimal import Decimal
        from loan_service.domain.products import ProductTerms
        from shared.errors import InvalidArgument
        from shared.money import Money
        from . import rounding
        from .schedule import Schedule
    """
    assert _check("loan_service.domain.ledger", source) == []


@pytest.mark.parametrize(
    ("module", "statement"),
    [
        ("auth_service.migrations", "from user_service.domain.staff import Staff"),
        ("loan_service.grpc_api", "import payment_service.service"),
        ("api_gateway.routes.loans", "from loan_service.convert import loan_to_proto"),
        ("user_service.consumers", "from loan_service import events"),
    ],
)
def test_one_service_importing_another_fails(module: str, statement: str) -> None:
    found = _check(module, statement)
    assert len(found) == 1
    assert "imports another service" in found[0]


@pytest.mark.parametrize(
    "statement",
    [
        "from loan_service.domain.money import x",
        "import api_gateway",
        "import microfinance_cli.main",
    ],
)
def test_shared_importing_a_service_fails(statement: str) -> None:
    found = _check("shared.grpc.server", statement)
    assert len(found) == 1
    assert "shared imports" in found[0]


@pytest.mark.parametrize(
    "statement",
    [
        "from loan_service.service import LoanService",
        "from loan_service.loans import LoanUseCases",
        "from loan_service import grpc_api",
        "from loan_service.consumers import BorrowerConsumer",
        "from .. import service",
        "from ..main import build",
    ],
)
def test_an_adapter_importing_the_use_cases_fails(statement: str) -> None:
    found = _check("loan_service.adapters.search", statement)
    assert found
    assert all("adapters never reach the use cases" in f for f in found)


def test_an_adapter_may_use_its_domain_its_siblings_and_settings() -> None:
    source = """
        from loan_service.adapters.product_repository import terms_to_doc
        from loan_service.domain.loan import Loan
        from loan_service.settings import LoanSettings
        from shared.mongo import transaction
        import pymongo
    """
    assert _check("loan_service.adapters.loan_repository", source) == []


def test_the_use_cases_may_import_adapters() -> None:
    assert _check("loan_service.service", "from loan_service.adapters import search") == []


def test_a_violation_added_to_a_real_module_is_caught() -> None:
    path = ROOT / "loan_service" / "domain" / "schedule.py"
    broken = path.read_text(encoding="utf-8") + "\nimport grpc  # deliberate\n"
    found = import_violations("loan_service.domain.schedule", broken)
    assert found == [
        f"loan_service.domain.schedule:{len(broken.splitlines())}: "
        "plain-Python module imports runtime library grpc"
    ]


# ------------------------------------------------------------------ importable without them

# Makes every runtime library unimportable, then imports the modules named on the
# command line: what a machine without grpc, pymongo, redis... would see.
_BLOCKER = """
import importlib, sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is blocked: the domain must not need it")
        return None
sys.meta_path.insert(0, Blocker())
for module in sys.argv[2:]:
    importlib.import_module(module)
print("imported", len(sys.argv) - 2)
"""
# Everything the services use that does I/O or carries a transport.
_BLOCKED = sorted(
    {"grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.rpc", "google.protobuf"}
    | {"pymongo", "bson", "motor", "redis", "elasticsearch", "aio_pika", "aiormq"}
    | {"fastapi", "starlette", "pydantic", "pydantic_settings", "httpx", "uvicorn", "microfinance"}
)


def _domain_modules() -> list[str]:
    return sorted(
        m for m, _ in _production_modules() if ".domain" in m and m.split(".")[0] in SERVICES
    ) + sorted(PURE_SHARED)


def test_every_domain_module_imports_without_the_runtime_libraries() -> None:
    modules = _domain_modules()
    assert "loan_service.domain.schedule" in modules
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER, ",".join(_BLOCKED), *modules],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported {len(modules)}"


def test_the_blocker_does_block() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER, ",".join(_BLOCKED), "shared.grpc.status"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "grpc is blocked" in result.stderr
