"""What every service's use cases need from outside, as protocols.

``Transactions`` runs a body in one database transaction (``Infrastructure.in_transaction``);
``Events`` records events in that transaction (``shared.events.Outbox``). ``Session`` is
the transaction handle the body passes on to its writes, opaque to the use cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

Session = Any


class Transactions(Protocol):
    async def __call__(self, body: Callable[[Session], Awaitable[T]]) -> T: ...


class Events(Protocol):
    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Any: ...

    async def add(self, session: Session, events: Any) -> None: ...

    def notify(self) -> None: ...

    def embedded(self, collection: str, *, drop_sent: bool = False) -> Any: ...


__all__ = ["Events", "Session", "Transactions"]
