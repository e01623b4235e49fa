"""Bad requests built from the proto descriptors, for the gRPC input sweep.

Every RPC of every service in the generated ``microfinance`` packages is found from the
descriptors, so a new RPC is swept without a line here. For each request type a *base*
request is filled with plausible values (ids well-formed but unknown, dates and currencies
valid), then one field at a time is made bad: oversized, negative, wrong currency, malformed
date, unknown enum number, malformed id. Nested messages are walked recursively.

A case is *strict* when the answer must be INVALID_ARGUMENT naming the field (the test keeps
the reviewed exceptions), and a *probe* when any clean status will do (zero, int max, empty
values that may mean "default", the base itself with its unknown ids).
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

import microfinance

# The generated code's descriptors are upb objects the stubs do not describe; Any keeps mypy
# out of the way without casts at every use.
Descriptor = Any
FieldDescriptor_ = Any

OVERSIZED = 10_000
# The services' cap on any string (shared/grpc/request_check.py): the longest value that
# reaches a handler, so the longest an error message could echo.
LONGEST_ACCEPTED = 4_096
# gRPC's receive limit on every service (shared/grpc/server.py).
MAX_MESSAGE = 8 * 1024 * 1024
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# Ids are opaque to callers, but they are short tokens: these are not ids.
MALFORMED_IDS = ('{"$ne": null}', "../../etc/passwd", "id with spaces", "tab\tand\nnewline")
BAD_DATES = ("2026-13-45", "yesterday", "2026-02-30", "20260601", "2026-6-1")
BAD_CURRENCIES = ("XXX", "US", "DOLLARS", "U5D")
# Lower case is normalised to the code by every service (documented): a probe, not strict.
LOWER_CURRENCY = "usd"
BAD_ENUMS = (99, -1)

UNKNOWN_ID = uuid.uuid4().hex
# Types whose fields are output only wherever they appear in a request.
OUTPUT_ONLY_TYPES = {"google.protobuf.Timestamp", "microfinance.common.v1.Audit"}
# Fields of a resource that a create or update request carries but the service ignores
# (the proto says so): a number there is never refused, so it is a probe, not strict.
IGNORED_NUMBERS = {
    ("microfinance.loan.v1.LoanProduct", "currency_minor_digits"),
    ("microfinance.loan.v1.LoanProduct", "version"),
    ("microfinance.user.v1.Borrower", "version"),
    ("microfinance.user.v1.Staff", "version"),
}


@dataclass(frozen=True)
class Rpc:
    service: Any
    name: str
    request: type[Message]
    response: type[Message]

    @property
    def path(self) -> str:
        return f"/{self.service.full_name}/{self.name}"

    @property
    def short(self) -> str:
        return f"{self.service.name}.{self.name}"

    @property
    def host(self) -> str:
        """The stack's service that serves it: ``microfinance.<host>.v1``."""
        return str(self.service.full_name).split(".")[1]


def all_rpcs() -> list[Rpc]:
    """Every RPC of every service in the generated packages."""
    rpcs: list[Rpc] = []
    seen: set[str] = set()
    for info in pkgutil.walk_packages(microfinance.__path__, "microfinance."):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.full_name in seen:
                continue
            seen.add(service.full_name)
            for method in service.methods:
                rpcs.append(
                    Rpc(
                        service=service,
                        name=method.name,
                        request=message_factory.GetMessageClass(method.input_type),
                        response=message_factory.GetMessageClass(method.output_type),
                    )
                )
    return sorted(rpcs, key=lambda r: r.path)


# ---------------------------------------------------------------- field kinds


def is_id(field: FieldDescriptor_) -> bool:
    return bool(field.type == FieldDescriptor.TYPE_STRING) and bool(
        field.name in {"id", "ids", "on_behalf_of", "agent_scope"} or field.name.endswith("_id")
    )


def is_date(field: FieldDescriptor_) -> bool:
    name = field.name
    return bool(field.type == FieldDescriptor.TYPE_STRING) and bool(
        name == "date" or name.endswith("_date") or name == "date_of_birth"
    )


def is_currency(field: FieldDescriptor_) -> bool:
    return bool(field.type == FieldDescriptor.TYPE_STRING and field.name == "currency")


def is_mask(field: FieldDescriptor_) -> bool:
    return bool(
        field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.full_name == "google.protobuf.FieldMask"
    )


_STRING_FILL: dict[str, str] = {
    "currency": "USD",
    "email": "sweep-nobody@mfi-e2e.org",
    "username": "sweep-nobody@mfi-e2e.org",
    "phone": "+254712345678",
    "alternate_phone": "+254712345679",
    "password": "Sweep-Passw0rd-2026",
    "old_password": "Sweep-Passw0rd-2026",
    "new_password": "Sweep-Passw0rd-2027",
    "initial_password": "Sweep-Passw0rd-2026",
    "temporary_password": "Sweep-Passw0rd-2026",
    "secret": "not-the-service-secret",
    "service": "payment",
    "percent": "2.5",
    "annual_rate": "24",
    "country": "KE",
    "nationality": "KE",
    "access_token": "not.a.token",
    "refresh_token": "not-a-refresh-token",
    "page_token": "",
    "order_by": "",
    "client_ip": "198.51.100.9",
    "first_name": "Sweep",
    "last_name": "Person",
    "full_name": "Sweep Person",
}
_DATE_FILL: dict[str, str] = {
    "date_of_birth": "1990-04-12",
    "issue_date": "2016-01-01",
    "expiry_date": "2036-01-01",
}
_INT_FILL: dict[str, int] = {
    "amount_minor": 1_000,
    "page_size": 10,
    "installments": 6,
    "installments_min": 3,
    "installments_max": 12,
    "threshold_days": 30,
    "expected_version": 0,
    "version": 0,
    "rounding_multiple_minor": 1,
    "max_active_loans_per_borrower": 1,
    "principal_grace_installments": 0,
    "grace_days": 3,
}


def _fill_string(field: FieldDescriptor_) -> str:
    if is_id(field):
        return UNKNOWN_ID
    if is_date(field):
        return _DATE_FILL.get(field.name, "2026-06-01")
    if field.name == "idempotency_key":
        return uuid.uuid4().hex
    return _STRING_FILL.get(field.name, "sweep")


def _scalar_fill(field: FieldDescriptor_) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return _fill_string(field)
    if t == FieldDescriptor.TYPE_BOOL:
        return False
    if t == FieldDescriptor.TYPE_ENUM:
        values = [v.number for v in field.enum_type.values if v.number != 0]
        return values[0] if values else 0
    if t == FieldDescriptor.TYPE_BYTES:
        return b"sweep"
    return _INT_FILL.get(field.name, 1)


def fill(msg: Message, depth: int = 0) -> Message:
    """``msg`` with every field set to a plausible value (first member of each oneof;
    proto3 ``optional`` scalars left unset; output-only types and masks left empty)."""
    desc: Descriptor = msg.DESCRIPTOR
    for field in desc.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.fields[0] is not field:
            continue
        if field.has_presence and field.type != FieldDescriptor.TYPE_MESSAGE:
            continue  # proto3 optional: unset means "unchanged"/"any"
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name in OUTPUT_ONLY_TYPES or is_mask(field):
                continue
            if depth > 4:
                continue
            if field.is_repeated:
                if field.message_type.GetOptions().map_entry:
                    continue
                fill(getattr(msg, field.name).add(), depth + 1)
            else:
                fill(getattr(msg, field.name), depth + 1)
        elif field.is_repeated:
            getattr(msg, field.name).append(_scalar_fill(field))
        else:
            setattr(msg, field.name, _scalar_fill(field))
    return msg


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    kind: str
    # Dotted path of the field made bad; "" for the whole request.
    field: str
    value: str
    strict: bool
    build: Callable[[], Message]
    # Names that may stand for the field in the answer (its own and its parent's).
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Leaf:
    path: tuple[tuple[FieldDescriptor_, bool], ...]  # (field, repeated element 0)

    @property
    def field(self) -> FieldDescriptor_:
        return self.path[-1][0]

    @property
    def dotted(self) -> str:
        return ".".join(f.name for f, _ in self.path)


def _leaves(
    desc: Descriptor, prefix: tuple[tuple[FieldDescriptor_, bool], ...] = (), depth: int = 0
) -> Iterator[_Leaf]:
    for field in desc.fields:
        repeated = field.is_repeated
        here = (*prefix, (field, repeated))
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name in OUTPUT_ONLY_TYPES or depth > 4:
                continue
            if repeated and field.message_type.GetOptions().map_entry:
                continue
            yield _Leaf(here)  # the message itself (mask paths, empty message)
            if not is_mask(field):
                yield from _leaves(field.message_type, here, depth + 1)
        else:
            yield _Leaf(here)


def _set(msg: Message, leaf: _Leaf, value: Any) -> None:
    """Set the leaf (through element 0 of repeated parents) to ``value``."""
    target = msg
    for field, repeated in leaf.path[:-1]:
        container = getattr(target, field.name)
        target = (container[0] if len(container) else container.add()) if repeated else container
    field, repeated = leaf.path[-1]
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        sub = getattr(target, field.name)
        if repeated:
            del sub[:]
            sub.add().CopyFrom(value)
        else:
            sub.CopyFrom(value)
    elif repeated:
        items = getattr(target, field.name)
        del items[:]
        items.append(value)
    else:
        setattr(target, field.name, value)


def _mask_for(request: Message, leaf: _Leaf) -> None:
    """Update RPCs: name the changed field in the request's update_mask, so the service
    looks at it (top-level path of the resource message)."""
    desc = request.DESCRIPTOR
    masks = [f for f in desc.fields if is_mask(f)]
    if not masks or len(leaf.path) < 2:
        return
    first = leaf.path[0][0]
    if first.type != FieldDescriptor.TYPE_MESSAGE or is_mask(first):
        return
    getattr(request, masks[0].name).paths[:] = [leaf.path[1][0].name]


def cases(rpc: Rpc, base: Callable[[], Message], *, full: bool = False) -> list[Case]:
    """Every bad request for ``rpc``, each built fresh on the base."""
    out: list[Case] = [Case("empty", "", "{}", False, rpc.request)]
    out.append(Case("base", "", "plausible, unknown ids", False, base))

    def mutate(leaf: _Leaf, value: Any) -> Callable[[], Message]:
        def build() -> Message:
            msg = base()
            _set(msg, leaf, value)
            _mask_for(msg, leaf)
            return msg

        return build

    for leaf in _leaves(rpc.request.DESCRIPTOR):
        field: Any = leaf.field
        names = tuple(dict.fromkeys(f.name for f, _ in leaf.path[-2:]))
        dotted = leaf.dotted

        def add(
            kind: str,
            value: Any,
            strict: bool,
            shown: str | None = None,
            leaf: _Leaf = leaf,
            dotted: str = dotted,
            names: tuple[str, ...] = names,
        ) -> None:
            out.append(
                Case(
                    kind,
                    dotted,
                    shown if shown is not None else repr(value),
                    strict,
                    mutate(leaf, value),
                    names,
                )
            )

        t = field.type
        if t == FieldDescriptor.TYPE_MESSAGE:
            if is_mask(field):
                mask_cls = message_factory.GetMessageClass(field.message_type)
                for path in ("no_such_field", "x" * OVERSIZED):
                    bad: Any = mask_cls()
                    bad.paths.append(path)
                    add("mask", bad, True, repr(path[:20]))
            else:
                add(
                    "empty-message",
                    message_factory.GetMessageClass(field.message_type)(),
                    False,
                    "{}",
                )
            continue
        if t == FieldDescriptor.TYPE_STRING:
            add("oversized", "x" * OVERSIZED, True, f"'x' * {OVERSIZED}")
            add("longest", "x" * LONGEST_ACCEPTED, False, f"'x' * {LONGEST_ACCEPTED}")
            if is_currency(field):
                for cur in BAD_CURRENCIES:
                    add("currency", cur, True)
                add("currency-empty", "", False)
                add("currency-lower", LOWER_CURRENCY, False)
            if is_date(field):
                for day in BAD_DATES if full else BAD_DATES[:3]:
                    add("date", day, True)
                add("date-empty", "", False)
            if is_id(field):
                for bad_id in MALFORMED_IDS if full else MALFORMED_IDS[:2]:
                    add("malformed-id", bad_id, True)
            continue
        if t == FieldDescriptor.TYPE_ENUM:
            for number in BAD_ENUMS:
                add("enum", number, True)
            continue
        if t in (FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_BYTES):
            continue
        ignored = (field.containing_type.full_name, field.name) in IGNORED_NUMBERS
        lo, hi = (
            INT64
            if t
            in (
                FieldDescriptor.TYPE_INT64,
                FieldDescriptor.TYPE_SINT64,
                FieldDescriptor.TYPE_SFIXED64,
            )
            else INT32
        )
        add("negative", -1, not ignored)
        add("zero", 0, False)
        add("int-max", hi, False)
        add("int-min", lo, not ignored)
    return out


def first_string(
    desc: Descriptor, prefix: tuple[tuple[FieldDescriptor_, bool], ...] = ()
) -> _Leaf | None:
    for leaf in _leaves(desc, prefix):
        if leaf.field.type == FieldDescriptor.TYPE_STRING:
            return leaf
    return None


def near_max_case(rpc: Rpc, base: Callable[[], Message]) -> Case | None:
    """The first string field holding a value just under the receive limit."""
    leaf = first_string(rpc.request.DESCRIPTOR)
    if leaf is None:
        return None
    size = MAX_MESSAGE - 64 * 1024

    def build() -> Message:
        msg = base()
        _set(msg, leaf, "x" * size)
        _mask_for(msg, leaf)
        return msg

    names = tuple(dict.fromkeys(f.name for f, _ in leaf.path[-2:]))
    return Case("near-max", leaf.dotted, f"'x' * {size}", True, build, names)


def over_limit_case(rpc: Rpc) -> Case:
    """A request over the receive limit (an unknown field, so any request type takes it)."""

    def build() -> Message:
        msg = rpc.request()
        size = MAX_MESSAGE + 1024
        # Field 1999, wire type 2 (length-delimited): tag varint, length varint, payload.
        tag = (1999 << 3) | 2
        msg.MergeFromString(_varint(tag) + _varint(size) + b"x" * size)
        return msg

    return Case("over-limit", "", f"{MAX_MESSAGE + 1024} bytes", True, build)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
