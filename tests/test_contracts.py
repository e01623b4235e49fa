"""The public gRPC contracts: required RPCs, naming rules, money types, docs, drift and buf."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    ServiceDescriptor,
)

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.common.v1 import common_pb2, common_pb2_grpc
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from microfinance.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from microfinance_cli.contracts import (
    BUF_VERSION,
    BufUnavailable,
    breaking_argv,
    buf_path,
    ensure_buf,
    installed_version,
    lint_argv,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
MODULES: dict[str, tuple[ModuleType, ModuleType]] = {
    "common": (common_pb2, common_pb2_grpc),
    "auth": (auth_pb2, auth_pb2_grpc),
    "user": (user_pb2, user_pb2_grpc),
    "loan": (loan_pb2, loan_pb2_grpc),
    "payment": (payment_pb2, payment_pb2_grpc),
    "reporting": (reporting_pb2, reporting_pb2_grpc),
}

# Every operation the issues (2-6) ask for, by fully qualified service name.
REQUIRED_RPCS: dict[str, set[str]] = {
    "microfinance.auth.v1.AuthService": {
        "Login",
        "Refresh",
        "Logout",
        "ValidateToken",
        "ChangePassword",
        "GetPublicKeys",
        "CreateCredential",
        "UpdateCredential",
        "SetCredentialActive",
        "ResetPassword",
        "RotateKeys",
    },
    "microfinance.user.v1.UserService": {
        "CreateStaff",
        "GetStaff",
        "ListStaff",
        "UpdateStaff",
        "DeactivateStaff",
        "ReactivateStaff",
        "GetMe",
    },
    "microfinance.user.v1.BorrowerService": {
        "CreateBorrower",
        "GetBorrower",
        "UpdateBorrower",
        "ListBorrowers",
        "SearchBorrowers",
        "DeactivateBorrower",
        "ReactivateBorrower",
        "ReassignBorrower",
        "SetKycStatus",
        "GetBorrowerHistory",
    },
    "microfinance.loan.v1.LoanProductService": {
        "CreateProduct",
        "GetProduct",
        "ListProducts",
        "UpdateProduct",
        "DeactivateProduct",
        "ActivateProduct",
        "PreviewSchedule",
    },
    "microfinance.loan.v1.LoanService": {
        "SubmitLoan",
        "GetLoan",
        "ListLoans",
        "SearchLoans",
        "ApproveLoan",
        "RejectLoan",
        "WithdrawLoan",
        "DisburseLoan",
        "GetSchedule",
        "ListTransactions",
        "GetPayoffQuote",
        "WriteOffLoan",
        "WaiveCharges",
        "ApplyRepayment",
        "ReverseRepayment",
        "RunEndOfDay",
        "GetLoansDue",
    },
    "microfinance.payment.v1.PaymentService": {
        "PostPayment",
        "GetPayment",
        "ListPayments",
        "ReversePayment",
        "GetReceipt",
        "GetCollectionSheet",
        "GetCashSummary",
    },
    "microfinance.reporting.v1.ReportingService": {
        "GetPortfolioSummary",
        "GetPar",
        "GetAgingReport",
        "GetDisbursementReport",
        "GetCollectionsReport",
        "GetAgentPerformance",
        "GetSnapshot",
    },
}

MONEY = "microfinance.common.v1.Money"
FLOATS = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


def files() -> list[FileDescriptor]:
    return [pb2.DESCRIPTOR for pb2, _ in MODULES.values()]


def services() -> list[ServiceDescriptor]:
    return [svc for f in files() for svc in f.services_by_name.values()]


def all_messages() -> Iterator[Descriptor]:
    def walk(desc: Descriptor) -> Iterator[Descriptor]:
        yield desc
        for nested in desc.nested_types:
            yield from walk(nested)

    for f in files():
        for msg in f.message_types_by_name.values():
            yield from walk(msg)


def all_enums() -> Iterator[EnumDescriptor]:
    for f in files():
        yield from f.enum_types_by_name.values()
    for msg in all_messages():
        yield from msg.enum_types


def test_packages_match_folders() -> None:
    for svc, (pb2, _) in MODULES.items():
        assert pb2.DESCRIPTOR.package == f"microfinance.{svc}.v1"
        assert pb2.DESCRIPTOR.name == f"microfinance/{svc}/v1/{svc}.proto"
        assert (REPO_ROOT / "proto" / pb2.DESCRIPTOR.name).is_file()


def test_services_are_exactly_the_expected_ones() -> None:
    assert {s.full_name for s in services()} == set(REQUIRED_RPCS)


@pytest.mark.parametrize("service_name", sorted(REQUIRED_RPCS))
def test_service_has_required_rpcs(service_name: str) -> None:
    svc = next(s for s in services() if s.full_name == service_name)
    missing = REQUIRED_RPCS[service_name] - set(svc.methods_by_name)
    assert not missing, f"{service_name} lacks {sorted(missing)}"


def test_servicer_and_stub_classes_are_generated() -> None:
    for pb2, grpc_mod in MODULES.values():
        for name in pb2.DESCRIPTOR.services_by_name:
            assert hasattr(grpc_mod, f"{name}Servicer")
            assert hasattr(grpc_mod, f"{name}Stub")
            assert hasattr(grpc_mod, f"add_{name}Servicer_to_server")


def test_no_delete_or_remove_rpcs() -> None:
    bad = [
        f"{svc.full_name}.{m.name}"
        for svc in services()
        for m in svc.methods
        if m.name.startswith(("Delete", "Remove", "Purge", "Destroy"))
    ]
    assert not bad, f"financial records are never deleted: {bad}"


def test_each_rpc_has_its_own_request_and_response() -> None:
    seen: set[str] = set()
    for svc in services():
        for m in svc.methods:
            assert m.input_type.name == f"{m.name}Request", m.full_name
            assert m.output_type.name == f"{m.name}Response", m.full_name
            assert m.input_type.file is m.containing_service.file, m.full_name
            for msg in (m.input_type.full_name, m.output_type.full_name):
                assert msg not in seen, f"{msg} is shared between RPCs"
                seen.add(msg)
            assert not m.client_streaming
            assert not m.server_streaming


def test_money_fields_are_never_floats() -> None:
    offenders: list[str] = []
    for msg in all_messages():
        for field in msg.fields:
            name = field.name
            if "amount" not in name and not name.endswith("_minor"):
                continue
            if field.type in FLOATS:
                offenders.append(f"{field.full_name} is a float")
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                type_name = field.message_type.full_name if field.message_type else "?"
                if type_name != MONEY:
                    offenders.append(f"{field.full_name} is {type_name}")
            elif field.type != FieldDescriptor.TYPE_INT64:
                offenders.append(f"{field.full_name} is neither Money nor int64")
    assert not offenders, offenders


def test_no_float_fields_at_all() -> None:
    # Rates, percentages and money are decimal strings or integers; nothing rounds silently.
    floats = [f.full_name for msg in all_messages() for f in msg.fields if f.type in FLOATS]
    assert not floats, floats


def test_money_message_shape() -> None:
    fields = {f.name: f.type for f in common_pb2.Money.DESCRIPTOR.fields}
    assert fields == {
        "amount_minor": FieldDescriptor.TYPE_INT64,
        "currency": FieldDescriptor.TYPE_STRING,
    }


def test_enums_start_with_unspecified() -> None:
    for enum in all_enums():
        zero = enum.values_by_number[0]
        assert zero.name.endswith("_UNSPECIFIED"), enum.full_name
        assert zero.name == _screaming(enum.name) + "_UNSPECIFIED", enum.full_name


def _screaming(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()


def test_role_values_are_the_jwt_claim_values() -> None:
    assert common_pb2.Role.Name(common_pb2.ADMIN) == "ADMIN"
    assert common_pb2.Role.Name(common_pb2.AGENT) == "AGENT"


def test_every_rpc_is_commented_with_roles_and_errors() -> None:
    for svc, (pb2, _) in MODULES.items():
        text = (REPO_ROOT / "proto" / pb2.DESCRIPTOR.name).read_text(encoding="utf-8")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("rpc "):
                comment = lines[i - 1].strip()
                assert comment.startswith("//"), f"{svc}: {line.strip()} has no comment"
                assert re.search(r"\b(ADMIN|AGENT|SERVICE|any)\b", comment), comment
                assert "Errors:" in comment, comment


def test_docs_list_every_rpc() -> None:
    doc = (REPO_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [
        f"{svc.full_name}.{m.name}"
        for svc in services()
        for m in svc.methods
        if f"`{m.name}`" not in doc
    ]
    assert not missing, f"docs/api.md does not document {missing}"
    for svc in services():
        assert svc.full_name in doc, svc.full_name


def test_generated_code_has_not_drifted() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_protos.py"), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- buf: lint and breaking changes -----------------------------------------------------


@pytest.fixture(scope="module")
def buf() -> Path:
    if installed_version() != BUF_VERSION:
        pytest.skip(
            f"buf {BUF_VERSION} is not installed in .tools/buf: run `./run contracts` once "
            "(CI installs it before the tests)"
        )
    return buf_path()


def run_buf(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def contract_copy(tmp_path: Path) -> Path:
    """proto/ (with the baseline) and buf.yaml, copied where a test may break them."""
    shutil.copytree(REPO_ROOT / "proto", tmp_path / "proto")
    shutil.copy2(REPO_ROOT / "buf.yaml", tmp_path / "buf.yaml")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once; update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")


def breaking(buf: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return run_buf(breaking_argv(buf, root / "proto" / "baseline.binpb"), root)


def test_the_real_contract_passes_buf_lint_and_breaking(buf: Path) -> None:
    lint = run_buf(lint_argv(buf), REPO_ROOT)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    result = breaking(buf, REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_renamed_field_fails_buf_breaking(buf: Path, contract_copy: Path) -> None:
    assert breaking(buf, contract_copy).returncode == 0  # the copy itself is fine
    edit(
        contract_copy / "proto/microfinance/common/v1/common.proto",
        "int64 amount_minor = 1;",
        "int64 amount_minor_units = 1;",
    )
    result = breaking(buf, contract_copy)
    assert result.returncode != 0
    assert 'changed name from "amount_minor" to "amount_minor_units"' in result.stdout


def test_a_reused_tag_number_fails_buf_breaking(buf: Path, contract_copy: Path) -> None:
    # currency (2) removed and its number given to a new field: old readers would misread it.
    edit(
        contract_copy / "proto/microfinance/common/v1/common.proto",
        "string currency = 2;",
        "int64 scale = 2;",
    )
    result = breaking(buf, contract_copy)
    assert result.returncode != 0
    assert 'Field "2"' in result.stdout
    assert 'changed type from "string" to "int64"' in result.stdout


def test_a_reserved_number_reused_fails_to_build(buf: Path, contract_copy: Path) -> None:
    edit(
        contract_copy / "proto/microfinance/auth/v1/auth.proto",
        "  string user_agent = 4;\n}",
        "  reserved 4;\n  reserved \"user_agent\";\n  string browser = 4;\n}",
    )
    result = breaking(buf, contract_copy)
    assert result.returncode != 0
    assert "reserved" in result.stdout + result.stderr


def test_lint_exceptions_are_only_enum_prefixes_in_the_published_files(
    buf: Path, contract_copy: Path
) -> None:
    def append(proto: str, text: str) -> None:
        path = contract_copy / "proto/microfinance" / proto
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    append("auth/v1/auth.proto", "\nenum Colour {\n  COLOUR_UNSPECIFIED = 0;\n  RED = 1;\n}\n")
    # Another STANDARD rule, in a file that has the enum exception, still applies.
    append("loan/v1/loan.proto", "\nmessage Extra {\n  string onBehalfOfName = 1;\n}\n")
    result = run_buf(lint_argv(buf), contract_copy)
    assert result.returncode != 0
    assert 'Enum value name "RED" should be prefixed with "COLOUR_"' in result.stdout
    assert 'Field name "onBehalfOfName" should be lower_snake_case' in result.stdout


def test_without_npm_buf_cannot_install_and_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it: no npm
    with pytest.raises(BufUnavailable, match="apt-get install npm"):
        ensure_buf(tmp_path / "tools")
