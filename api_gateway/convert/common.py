"""Protobuf messages to the JSON models of the HTTP API, and back."""

from __future__ import annotations

import types
from collections.abc import Callable
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

Read = Callable[[Any], Any]


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) not in (Union, types.UnionType):
        return annotation, False
    rest = [a for a in get_args(annotation) if a is not type(None)]
    return rest[0], len(rest) < len(get_args(annotation))


def _enum_reader(enum: EnumDescriptor, target: Any, optional: bool) -> Read:
    names = {v.number: v.name for v in enum.values}
    listed = set(target) if isinstance(target, type) and issubclass(target, StrEnum) else None

    def read(number: int) -> str | None:
        name = names[number]
        if optional and (number == 0 or (listed is not None and name not in listed)):
            return None
        return name

    return read


def _item_reader(proto: FieldDescriptor, target: Any, optional: bool) -> Read | None:
    """How one value of the field becomes the model's (None: as it is)."""
    if proto.enum_type is not None:
        return _enum_reader(proto.enum_type, target, optional)
    if proto.message_type is None:
        return None
    if proto.message_type.full_name == Timestamp.DESCRIPTOR.full_name:
        return lambda ts: ts.ToDatetime(tzinfo=UTC)
    return lambda nested: to_model(target, nested)


def _field_reader(name: str, proto: FieldDescriptor, annotation: Any) -> Read:
    target, optional = _without_none(annotation)
    if proto.is_repeated:
        item = _item_reader(proto, get_args(target)[0], optional=False)
        if item is None:
            return lambda message: list(getattr(message, name))
        return lambda message: [item(v) for v in getattr(message, name)]
    one = _item_reader(proto, target, optional) or (lambda value: value)
    if optional and proto.message_type is not None:
        return lambda message: one(getattr(message, name)) if message.HasField(name) else None
    if optional and proto.type == FieldDescriptor.TYPE_STRING:
        return lambda message: getattr(message, name) or None
    return lambda message: one(getattr(message, name))


@cache
def _readers(model: type[BaseModel], message: Descriptor) -> tuple[tuple[str, Read], ...]:
    """A reader for each field of ``model`` that ``message`` has a field of that name for."""
    return tuple(
        (name, _field_reader(name, message.fields_by_name[name], info.annotation))
        for name, info in model.model_fields.items()
        if name in message.fields_by_name
    )


def to_model(model: type[M], message: Message, **given: Any) -> M:
    """``model`` read from ``message`` field by field; ``given`` fields are taken as they are."""
    values = {
        name: read(message)
        for name, read in _readers(model, message.DESCRIPTOR)
        if name not in given
    }
    return model.model_validate({**values, **given})
