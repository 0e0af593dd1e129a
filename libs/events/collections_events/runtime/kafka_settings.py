"""How a service process reaches Kafka, and the topics it creates on a fresh broker."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from collections_events.transport.kafka import kafka_options_from_env

log = structlog.get_logger("collections.process")
_TOPIC_EXISTS = 36


@dataclass
class KafkaSettings:
    """How to reach Kafka and shape the topics this process creates."""

    bootstrap_servers: str
    options: dict[str, Any] = field(default_factory=dict)
    partitions: int = 3
    replication_factor: int | None = None
    session_timeout_ms: int = 10000

    @classmethod
    def from_env(cls, bootstrap_servers: str, env: Mapping[str, str] | None = None) -> KafkaSettings:
        """Settings from the process environment (see the module docstring)."""
        env = os.environ if env is None else env
        replication = env.get("KAFKA_REPLICATION_FACTOR")
        return cls(
            bootstrap_servers=bootstrap_servers,
            options=kafka_options_from_env(env),
            partitions=int(env.get("KAFKA_PARTITIONS", "3")),
            replication_factor=int(replication) if replication else None,
            session_timeout_ms=int(env.get("KAFKA_SESSION_TIMEOUT_MS", "10000")),
        )


async def ensure_topics(settings: KafkaSettings, names: Sequence[str]) -> None:
    """Create the topics in `names` that do not exist yet (a fresh broker works without setup).

    Partitions: `settings.partitions`; replication: the setting, else min(3, brokers). Topics that
    exist are left as they are. Raises KafkaError when the broker refuses for another reason.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **settings.options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(names) - existing)
        if not missing:
            return
        replication = settings.replication_factor
        if replication is None:
            brokers = (await admin.describe_cluster()).get("brokers") or [None]
            replication = min(3, len(brokers))
        response = await admin.create_topics([NewTopic(name, settings.partitions, replication) for name in missing])
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code not in (0, _TOPIC_EXISTS):
                raise KafkaError(f"cannot create topic {name}: error code {code}")
        log.info("topics created", topics=missing, partitions=settings.partitions, replication=replication)
    finally:
        await admin.close()
