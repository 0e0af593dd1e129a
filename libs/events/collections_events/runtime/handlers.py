"""A service's handlers as one table `{EventModel: handler}`, from which its subscription follows.

Every service's `app/handlers.py` ends in `HANDLERS: HandlerTable = {inbound.DayClosed: close_day,
...}`. Its `adapters/spec.py` passes `handle=dispatch(HANDLERS)` and
`subscriptions=subscriptions_for(HANDLERS)`, so the event types a service consumes are written once
(issue 18). A handler takes the event's validated data model and the unit of work (`uow.cause` is
the envelope: its id, time and type, for a model shared by several types such as
`account.flag_set`/`account.flag_cleared`).

Agents' commands that arrive through the API only (`runtime.execute`, never from a topic) go in a
second table, `COMMANDS`: `handle=dispatch({**HANDLERS, **COMMANDS})`, `subscriptions_for(HANDLERS)`.

A model names every event type that uses it (registry.py), so a table entry subscribes the service
to all of them, on the topic each belongs to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from collections_events.registry import EVENT_TYPES, TOPIC_KEYS
from collections_events.runtime.service import Handler, Subscription
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event

ModelHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
"""`async def handler(data: SomeModel, uow: UnitOfWork) -> None` (the data is of the table's key)."""

HandlerTable = Mapping[type[BaseModel], ModelHandler]


def types_of(table: HandlerTable) -> dict[str, frozenset[str]]:
    """The event types `table` handles, by topic key, in the contract's topic order."""
    by_topic: dict[str, set[str]] = {}
    for entry in EVENT_TYPES.values():
        if entry.model in table:
            by_topic.setdefault(entry.topic, set()).add(entry.name)
    return {key: frozenset(by_topic[key]) for key in TOPIC_KEYS if key in by_topic}


def subscriptions_for(table: HandlerTable) -> tuple[Subscription, ...]:
    """One Subscription per topic `table` has a handler on, limited to the handled types."""
    return tuple(Subscription(topic, types) for topic, types in types_of(table).items())


def dispatch(table: HandlerTable) -> Handler:
    """The runtime's handler: the table's entry for the event's data model.

    Raises LookupError for a model without an entry (the subscription derived from the same table
    never delivers one; a wrong wiring is a bug, not an event to reject).
    """
    handlers = dict(table)

    async def handle(event: Event, uow: UnitOfWork) -> None:
        handler = handlers.get(type(event.data))
        if handler is None:
            raise LookupError(f"no handler for {event.envelope.type} ({type(event.data).__name__})")
        await handler(event.data, uow)

    return handle
