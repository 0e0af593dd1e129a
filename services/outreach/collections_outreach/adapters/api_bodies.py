"""The request bodies of outreach's agent commands, as typed models in OpenAPI (issue 15).

Each body is the contract's `data` of the command's type without `account_id` (it is in the path;
when given it must equal the path's) and with `occurred_at` optional: the API fills it in with the
command's arrival instant (the `time` of the event `command_event` makes). Unknown fields, at any
depth, are a 422. The field types (and so their documented limits: ids at most 200 characters,
instants at most 64, at most 1000 installments, amounts 1 to 2^53 - 1 minor units) are the
contract's own (collections_events.fields); its cross-field rules (a promise or an arrangement, not
both; installments due on strictly increasing dates; no `attempt_id` on an agency's result) are
checked when the command's event is validated, with the same 422 shape.
"""

from __future__ import annotations

from typing import Literal

from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from collections_events.fields import MAX_INSTALLMENTS, Identifier, Instant, IsoDate, PositiveMinorUnits
from collections_events.inbound import Channel, Outcome


class CommandBody(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PromiseBody(CommandBody):
    """A promise to pay `amount_minor` (minor units) by the close of the business date `promised_on`."""

    amount_minor: PositiveMinorUnits
    promised_on: IsoDate


class InstallmentBody(CommandBody):
    """One installment: `amount_minor` (minor units) due on the business date `due_on`."""

    due_on: IsoDate
    amount_minor: PositiveMinorUnits


class ArrangementTermsBody(CommandBody):
    """A payment plan or settlement as agreed: 1 to 1000 installments, due on increasing dates."""

    kind: Literal["plan", "settlement"]
    installments: list[InstallmentBody] = Field(min_length=1, max_length=MAX_INSTALLMENTS)


class ContactResultBody(CommandBody):
    """A manual contact result: the fields of `contact.result_reported`.

    `occurred_at` (an RFC 3339 instant) defaults to the instant the command arrived.
    """

    account_id: Identifier | None = Field(None, description="optional; must equal the account in the path")
    attempt_id: Identifier | None = None
    channel: Channel
    outcome: Outcome
    occurred_at: Instant | None = Field(None, description="RFC 3339; default: when the command arrived")
    promise: PromiseBody | None = None
    arrangement: ArrangementTermsBody | None = None
    agency_id: Identifier | None = None


class ArrangementBody(ArrangementTermsBody):
    """An agent's proposed plan or settlement (`outreach.arrangement_requested` without the account).

    `occurred_at` (when it was agreed, an RFC 3339 instant) defaults to the instant the command
    arrived; `made_on` is its date in the customer's timezone.
    """

    account_id: Identifier | None = Field(None, description="optional; must equal the account in the path")
    occurred_at: Instant | None = Field(None, description="RFC 3339; default: when the command arrived")


RESULT_EXAMPLES: dict[str, Example] = {
    "promise to pay": {
        "value": {
            "channel": "call",
            "outcome": "answered_rpc",
            "occurred_at": "2026-01-12T15:04:00Z",
            "promise": {"amount_minor": 5000, "promised_on": "2026-01-20"},
        }
    },
    "no answer": {"value": {"channel": "call", "outcome": "no_answer", "occurred_at": "2026-01-12T15:04:00Z"}},
}
ARRANGEMENT_EXAMPLES: dict[str, Example] = {
    "plan": {
        "value": {
            "kind": "plan",
            "occurred_at": "2026-01-12T15:04:00Z",
            "installments": [
                {"due_on": "2026-01-20", "amount_minor": 30000},
                {"due_on": "2026-02-20", "amount_minor": 30000},
            ],
        }
    },
    "settlement": {"value": {"kind": "settlement", "installments": [{"due_on": "2026-01-30", "amount_minor": 40000}]}},
}
