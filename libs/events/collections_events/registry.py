"""Every v1 event type, its data model and its topic (contract.md, Topics and the two type tables)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from collections_events import inbound as i
from collections_events import outbound as o


@dataclass(frozen=True)
class EventType:
    """One event type of the contract: its name, data model, topic key and direction."""

    name: str
    model: type[BaseModel]
    topic: str
    inbound: bool


_TYPES = [
    EventType("account.opened", i.AccountOpened, "accounts", True),
    EventType("account.contacts_updated", i.AccountContactsUpdated, "accounts", True),
    EventType("account.flag_set", i.AccountFlagChanged, "accounts", True),
    EventType("account.flag_cleared", i.AccountFlagChanged, "accounts", True),
    EventType("payment.due", i.PaymentDue, "billing", True),
    EventType("payment.received", i.PaymentReceived, "payments", True),
    EventType("payment.reversed", i.PaymentReversed, "payments", True),
    EventType("day.closed", i.DayClosed, "clock", True),
    EventType("contact.result_reported", i.ContactResultReported, "results", True),
    EventType("ledger.balance_changed", o.BalanceChanged, "ledger", False),
    EventType("ledger.waiver_posted", o.WaiverPosted, "ledger", False),
    EventType("delinquency.bucket_changed", o.BucketChanged, "delinquency", False),
    EventType("delinquency.dpd_changed", o.DpdChanged, "delinquency", False),
    EventType("delinquency.charged_off", o.ChargedOff, "delinquency", False),
    EventType("outreach.contact_requested", o.ContactRequested, "outreach", False),
    EventType("outreach.contact_suppressed", o.ContactSuppressed, "outreach", False),
    EventType("outreach.contact_recorded", o.ContactRecorded, "outreach", False),
    EventType("outreach.promise_recorded", o.PromiseEvent, "outreach", False),
    EventType("outreach.promise_kept", o.PromiseEvent, "outreach", False),
    EventType("outreach.promise_broken", o.PromiseEvent, "outreach", False),
    EventType("outreach.arrangement_made", o.ArrangementMade, "outreach", False),
    EventType("outreach.arrangement_declined", o.ArrangementDeclined, "outreach", False),
    EventType("outreach.arrangement_broken", o.ArrangementBroken, "outreach", False),
    EventType("outreach.arrangement_completed", o.ArrangementCompleted, "outreach", False),
    EventType("legal.case_opened", o.CaseOpened, "legal", False),
    EventType("legal.case_closed", o.CaseClosed, "legal", False),
    EventType("legal.case_moved", o.CaseMoved, "legal", False),
    EventType("legal.case_move_requested", o.CaseMoveRequested, "legal", False),
    EventType("legal.case_close_requested", o.CaseCloseRequested, "legal", False),
    EventType("system.event_rejected", o.EventRejected, "rejected", False),
    EventType("outreach.arrangement_requested", o.ArrangementRequested, "outreach", False),
    EventType("legal.account_placed", o.AccountPlaced, "legal", False),
    EventType("legal.placement_recalled", o.PlacementRecalled, "legal", False),
    EventType("outreach.conduct_breach", o.ConductBreach, "outreach", False),
]

EVENT_TYPES: dict[str, EventType] = {t.name: t for t in _TYPES}
"""Every event type by its CloudEvents `type`."""

TOPIC_KEYS = (
    "accounts",
    "billing",
    "payments",
    "clock",
    "results",
    "ledger",
    "delinquency",
    "outreach",
    "legal",
    "rejected",
)
"""The topic keys of contract.md; the Kafka topic name of each is configuration (`topics.<key>`)."""

DEFAULT_TOPICS: dict[str, str] = {
    "accounts": "lender.accounts.v1",
    "billing": "lender.billing.v1",
    "payments": "lender.payments.v1",
    "clock": "lender.clock.v1",
    "results": "channels.results.v1",
    "ledger": "collections.ledger.v1",
    "delinquency": "collections.delinquency.v1",
    "outreach": "collections.outreach.v1",
    "legal": "collections.legal.v1",
    "rejected": "collections.rejected.v1",
}
"""The default Kafka topic of each topic key (contract.md, Topics)."""


TOPIC_OWNERS: dict[str, str] = {
    "accounts": "outreach",
    "billing": "ledger",
    "payments": "ledger",
    "clock": "delinquency",
    "results": "outreach",
}
"""The service that answers bad messages on each inbound topic (rejection and dead letter), so that
each bad message is answered once although several services read the topic."""
