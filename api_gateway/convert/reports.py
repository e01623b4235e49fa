"""Reporting protos to the JSON models of /api/v1/reports.

The report messages are plain trees of scalars, Money and lists, so one walk
turns any of them into the dict its model validates (int64 stays a number,
unlike ``MessageToDict``); the models choose the fields they show.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def _value(value: Any, enum: Any) -> Any:
    if isinstance(value, Message):
        return plain(value)
    if enum is not None:
        return enum.values_by_number[value].name
    return value


def plain(message: Message) -> dict[str, Any]:
    """Every field of ``message`` (defaults included) as JSON values."""
    out: dict[str, Any] = {}
    for f in message.DESCRIPTOR.fields:
        value = getattr(message, f.name)
        enum = f.enum_type if f.type == FieldDescriptor.TYPE_ENUM else None
        if isinstance(value, Message | str | bytes | int | float | bool):
            out[f.name] = _value(value, enum)
        else:  # a repeated field
            out[f.name] = [_value(item, enum) for item in value]
    return out


def to_model(model: type[M], message: Message) -> M:
    return model.model_validate(plain(message))
