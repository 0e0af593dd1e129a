"""The channel simulator on Kafka (`collections channels --bootstrap B`, for `make up`).

The same seeded `ChannelSimulator` as `make run`, as a separate process in front of the platform:
it reads `outreach.contact_requested` from `topics.outreach` (consumer group `collections-channels`)
and answers each with `contact.result_reported` on `topics.results`, as the SMS gateway, email,
push, dialer and letter shop would. To negotiate like `make run` it also watches the accounts,
billing and ledger topics (timezones, statement balances, unpaid dues). The payments customers
agree to on the phone are published on `topics.payments` when the clock reaches their date: at
`day.closed` D, every agreed payment dated on or before the next business day after D.

Delivery is at least once: results are acknowledged by Kafka before the offsets are committed, and
a result's id is a function of its attempt, so a redelivered request gives the same result id,
which outreach's inbox absorbs.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime.process import KafkaSettings, ensure_topics
from collections_events.transport.kafka import decode_record, encode_binary, fetch_until_stopped, producer_settings
from collections_events.validation import Event
from collections_platform.simulation.calendar import next_business_day
from collections_platform.simulation.channels import ChannelSimulator, PlannedPayment

log = structlog.get_logger("collections.channels")

GROUP = "collections-channels"
WATCHED = ("accounts", "billing", "ledger", "outreach", "clock")
_OBSERVED = ("account.opened", "account.contacts_updated", "payment.due", "ledger.balance_changed")


async def run_channel_simulator(bootstrap: str, config: PlatformConfig, seed: int, stop: asyncio.Event) -> None:
    """Answer contact requests until `stop` is set (then leave the group cleanly).

    Raises KafkaError when the broker cannot be reached at start.
    """
    settings = KafkaSettings.from_env(bootstrap)
    await ensure_topics(settings, [config.topics.name(key) for key in TOPIC_KEYS])
    simulator = ChannelSimulator(seed)
    payments = _Payments(seed)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings(), **settings.options)
    consumer = AIOKafkaConsumer(
        *[config.topics.name(key) for key in WATCHED],
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        client_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **settings.options,
    )
    await producer.start()
    await consumer.start()
    log.info("channel simulator started", seed=seed, results=config.topics.results)
    answered = 0
    try:
        while not stop.is_set():
            batches = await fetch_until_stopped(consumer, stop, max_records=500)
            if batches is None:
                break
            if not batches:
                continue
            out: list[tuple[str, Envelope]] = []
            for records in batches.values():
                for record in records:
                    parsed = decode_record(record)
                    if isinstance(parsed, Event):
                        out.extend(_react(parsed, simulator, payments, config))
            futures = []
            for topic, envelope in out:
                wire = encode_binary(envelope)
                futures.append(await producer.send(topic, value=wire.value, key=wire.key, headers=wire.headers))
            await asyncio.gather(*futures)
            answered += sum(1 for _, e in out if e.type == "contact.result_reported")
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items() if records})
    finally:
        await consumer.stop()
        await producer.stop()
        log.info("channel simulator stopped", results_published=answered)


def _react(
    event: Event, simulator: ChannelSimulator, payments: _Payments, config: PlatformConfig
) -> list[tuple[str, Envelope]]:
    """What the providers and customers publish in answer to one event (often nothing)."""
    structured = {"type": event.type, "data": event.envelope.data}
    if event.type in _OBSERVED or event.type == "outreach.arrangement_declined":
        simulator.observe(structured)
        return []
    if event.type == "outreach.contact_requested":
        results = simulator.answer(structured)
        payments.add(simulator.take_payments())
        return [(config.topics.results, Envelope.from_structured(r)) for r in results]
    if event.type == "day.closed":
        as_of = date.fromisoformat(event.envelope.data["as_of"])
        return [(config.topics.payments, e) for e in payments.due_by(next_business_day(as_of + timedelta(days=1)))]
    return []


class _Payments:
    """Payments customers agreed to, published once each when the clock reaches their date."""

    def __init__(self, seed: int) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:collections-simulation:{seed}:payments")
        self._pending: list[PlannedPayment] = []
        self._count = 0

    def add(self, planned: list[PlannedPayment]) -> None:
        self._pending.extend(planned)

    def due_by(self, day: date) -> list[Envelope]:
        """`payment.received` for every pending payment dated on or before `day` (then forgotten)."""
        ready = sorted((p for p in self._pending if p.on <= day), key=lambda p: (p.on, p.account_id))
        self._pending = [p for p in self._pending if p.on > day]
        out = []
        for payment in ready:
            self._count += 1
            payment_id = str(uuid.uuid5(self._namespace, f"{payment.account_id}:{payment.on}:{self._count}"))
            data: dict[str, Any] = {
                "account_id": payment.account_id,
                "payment_id": payment_id,
                "amount_minor": payment.amount_minor,
                "received_on": payment.on.isoformat(),
            }
            out.append(
                Envelope(
                    id=payment_id,
                    source="channels/customer-payments",
                    type="payment.received",
                    subject=payment.account_id,
                    time=f"{payment.on.isoformat()}T12:00:00Z",
                    data=data,
                )
            )
        return out
