"""A service's definition: its name, tables, migrations, subscriptions and handler.

The same definition runs in the embedded default (replay, `make run`) and as its own process on
Kafka and PostgreSQL: only the transport and the database URL differ (architecture.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, Table

from collections_events.registry import TOPIC_OWNERS
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event

if TYPE_CHECKING:
    from collections_events.runtime.runtime import ServiceRuntime

Handler = Callable[[Event, UnitOfWork], Awaitable[None]]
Prefetch = Callable[[Sequence[Event], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """A topic (by key, e.g. `payments`) a service consumes; `types` limits it to those event types."""

    topic: str
    types: frozenset[str] | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the runtime needs to run one service."""

    name: str
    metadata: MetaData
    tables: dict[str, Table]
    migrations: Path
    subscriptions: tuple[Subscription, ...]
    handle: Handler
    create_api: Callable[[ServiceRuntime], Any] | None = None
    # Optional: read what a batch's events will need in one go (its own tables), before they are
    # handled, through a unit of work on the batch's shared state (docs/decisions/0007).
    prefetch: Prefetch | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        """The topic keys this service consumes."""
        return tuple(s.topic for s in self.subscriptions)

    def wants(self, topic: str, event_type: str) -> bool:
        """Whether the handler wants events of `event_type` arriving on `topic`."""
        return any(s.topic == topic and (s.types is None or event_type in s.types) for s in self.subscriptions)

    def owns(self, topic: str) -> bool:
        """Whether this service answers bad messages on `topic` (registry.TOPIC_OWNERS)."""
        return TOPIC_OWNERS.get(topic) == self.name
