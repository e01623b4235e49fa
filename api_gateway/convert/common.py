"""Protobuf messages to the JSON models of the HTTP API, and back."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

from api_gateway.schemas import common as schemas
from microfinance.common.v1 import common_pb2
from microfinance.user.v1 import user_pb2

M = TypeVar("M", bound=BaseModel)


def role_value(role: schemas.RoleName | None) -> common_pb2.Role:
    if role is None:
        return common_pb2.ROLE_UNSPECIFIED
    return cast(common_pb2.Role, common_pb2.Role.Value(role.value))


def money(value: common_pb2.Money) -> schemas.Money:
    return to_model(schemas.Money, value)


def page_info(value: common_pb2.PageInfo) -> schemas.PageInfo:
    return to_model(schemas.PageInfo, value)


def tokens(value: Any, *, must_change_password: bool) -> schemas.TokenResponse:
    """LoginResponse, RefreshResponse and ChangePasswordResponse share these fields."""
    return to_model(
        schemas.TokenResponse,
        value,
        token_type=value.token_type or "Bearer",
        must_change_password=must_change_password,
    )


def staff(value: user_pb2.Staff) -> schemas.StaffOut:
    return to_model(schemas.StaffOut, value)


# ------------------------------------------------------------------ message -> model
#
# The response models follow their messages field by field, so they are read from the
# message by name (int64 stays a number, unlike ``MessageToDict``), and each model
# chooses the fields it shows. The model's types say how: a nested model is read from
# the nested message, an unset Timestamp is "not set" (not 1970) and a set one a
# datetime, an enum is its name; and where the model allows None, an unset message, an
# empty string or the zero enum (or a name the API's enum does not list) is None.


@dataclass(frozen=True)
class _Field:
    name: str
    # The model field's type, without its None and list.
    target: Any
    optional: bool
    proto: FieldDescriptor


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) not in (Union, types.UnionType):
        return annotation, False
    rest = [a for a in get_args(annotation) if a is not type(None)]
    return rest[0], len(rest) < len(get_args(annotation))


@cache
def _fields(model: type[BaseModel], message: Descriptor) -> tuple[_Field, ...]:
    """The fields of ``model`` that ``message`` has a field of the same name for."""
    fields = []
    for name, info in model.model_fields.items():
        proto = message.fields_by_name.get(name)
        if proto is None:
            continue
        target, optional = _without_none(info.annotation)
        if get_origin(target) is list:
            target = get_args(target)[0]
        fields.append(_Field(name, target, optional, proto))
    return tuple(fields)


def _enum_name(field: _Field, enum: EnumDescriptor, number: int) -> str | None:
    name: str = enum.values_by_number[number].name
    if field.optional and (
        number == 0
        or (issubclass(field.target, StrEnum) and name not in field.target._value2member_map_)
    ):
        return None
    return name


def _one(field: _Field, value: Any) -> Any:
    if field.proto.enum_type is not None:
        return _enum_name(field, field.proto.enum_type, value)
    if field.proto.message_type is None:
        return value
    if isinstance(value, Timestamp):
        return value.ToDatetime(tzinfo=UTC)
    return to_model(field.target, value)


def _read(field: _Field, message: Message) -> Any:
    value = getattr(message, field.name)
    if field.proto.is_repeated:
        return [_one(field, item) for item in value]
    if field.optional and field.proto.message_type is not None:
        return _one(field, value) if message.HasField(field.name) else None
    if field.optional and value == "":
        return None
    return _one(field, value)


def to_model(model: type[M], message: Message, **given: Any) -> M:
    """``model`` read from ``message`` field by field; ``given`` fields are taken as they are."""
    values = {
        f.name: _read(f, message)
        for f in _fields(model, message.DESCRIPTOR)
        if f.name not in given
    }
    return model.model_validate({**values, **given})
