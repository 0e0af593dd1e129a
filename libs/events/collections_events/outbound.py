"""Data of the events the platform publishes (contract.md, Published by the platform).

Field order here is the order on the wire; the models are frozen and forbid unknown fields so a
service cannot publish a misspelt field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from collections_events.fields import (
    MAX_DUES,
    MAX_ID_CHARS,
    MAX_INSTALLMENTS,
    MAX_TEXT_CHARS,
    Count,
    FreeText,
    Identifier,
    Instant,
    IsoDate,
    Label,
    MinorUnits,
    Sha256Hex,
)
from collections_events.inbound import ArrangementTerms, Channel, Installment, Outcome

SuppressionReason = Literal[
    "frequency_cap",
    "no_consent",
    "no_destination",
    "cease_and_desist",
    "dispute",
    "bankruptcy",
    "deceased",
    "legal_hold",
    "placed",
    "promise_active",
    "arrangement_active",
    "rpc_cooldown",
]
DeclineReason = Literal[
    "not_delinquent",
    "arrangement_active",
    "too_many_installments",
    "outside_allowed_dates",
    "below_settlement_floor",
]
ConductRule = Literal[
    "deceased",
    "bankruptcy",
    "cease_and_desist",
    "dispute",
    "outside_window",
    "rpc_cooldown",
    "frequency_cap",
]
"""The rules an agency's contact is checked against, in the order breaches are published."""
RecallReason = Literal["bankruptcy", "deceased", "dispute", "cured", "expired"]
CaseCloseReason = Literal["cured", "paid", "settled", "withdrawn", "bankruptcy", "deceased"]
ArrangementKind = Literal["plan", "settlement"]

CourtName = Annotated[str, StringConstraints(max_length=200)]
"""A court's name, at most 200 characters (the legal API's limit)."""
DocketNumber = Annotated[str, StringConstraints(max_length=100)]
"""A court's docket number, at most 100 characters (the legal API's limit)."""
RejectedText = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)]
"""A rejected event's id or type as it was read (possibly empty; longer ones are not kept)."""


class OutboundData(BaseModel):
    """Base of outbound data: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class UnpaidDue(OutboundData):
    """One due not yet paid (beyond the tolerance), in minor units."""

    due_id: Identifier
    due_date: IsoDate
    unpaid_minor: MinorUnits


class BalanceChanged(OutboundData):
    """`ledger.balance_changed`: unpaid dues oldest first, credit beyond all dues."""

    account_id: Identifier
    unpaid_dues: list[UnpaidDue] = Field(max_length=MAX_DUES)
    credit_minor: MinorUnits
    cause_id: Identifier


class WaivedDue(OutboundData):
    """What a waiver forgave of one due, in minor units."""

    due_id: Identifier
    amount_minor: MinorUnits


class WaiverPosted(OutboundData):
    """`ledger.waiver_posted`: what a completed settlement forgave, in minor units.

    `dues` (added to the contract's minimum) says which dues the amount was forgiven on.
    """

    account_id: Identifier
    arrangement_id: Identifier
    amount_minor: MinorUnits
    dues: list[WaivedDue] = Field(default=[], max_length=MAX_DUES)


class BucketChanged(OutboundData):
    """`delinquency.bucket_changed` as of business date `as_of`."""

    account_id: Identifier
    as_of: IsoDate
    dpd: Count
    delinquent_since: IsoDate | None
    from_bucket: Label
    to_bucket: Label
    past_due_minor: MinorUnits


class DpdChanged(OutboundData):
    """`delinquency.dpd_changed`: the oldest past-due date moved and the bucket did not."""

    account_id: Identifier
    as_of: IsoDate
    dpd: Count
    delinquent_since: IsoDate | None
    past_due_minor: MinorUnits


class ChargedOff(OutboundData):
    """`delinquency.charged_off`: once per delinquency episode."""

    account_id: Identifier
    as_of: IsoDate
    dpd: Count
    past_due_minor: MinorUnits


class ContactRequested(OutboundData):
    """`outreach.contact_requested`: the channel may act between `not_before` and `not_after` (UTC)."""

    attempt_id: Identifier
    account_id: Identifier
    channel: Channel
    template: Label
    destination: FreeText
    """A phone number, an email address, a customer id (push) or a postal address (letter)."""
    not_before: Instant
    not_after: Instant
    step: Label
    as_of: IsoDate
    strategy: Label = "champion"
    """The experiment arm whose strategy asked for it (behaviour.md, Strategy experiments)."""


class ContactSuppressed(OutboundData):
    """`outreach.contact_suppressed`: a step that fired and was not allowed, with the first reason."""

    account_id: Identifier
    channel: Channel
    template: Label
    step: Label
    reason: SuppressionReason
    as_of: IsoDate
    strategy: Label = "champion"
    """The experiment arm whose strategy fired the step (behaviour.md, Strategy experiments)."""


class ContactRecorded(OutboundData):
    """`outreach.contact_recorded`: one immutable, hash-chained audit record."""

    record_id: Identifier
    account_id: Identifier
    attempt_id: Identifier | None
    kind: Literal["requested", "result"]
    channel: Channel
    outcome: Outcome | None
    occurred_at: Instant
    as_of: IsoDate | None
    sequence: int
    prev_hash: Sha256Hex
    hash: Sha256Hex
    agency_id: Identifier | None = Field(default=None, exclude_if=lambda value: value is None)
    """Only on a record of an agency's result (added): the key is absent from the lender's own records,
    so their JSON, and every existing chain, is unchanged."""


class PromiseEvent(OutboundData):
    """`outreach.promise_recorded` / `_kept` / `_broken`: a promise to pay by `promised_on`."""

    promise_id: Identifier
    account_id: Identifier
    amount_minor: MinorUnits
    promised_on: IsoDate


class ArrangementMade(OutboundData):
    """`outreach.arrangement_made`: a plan or settlement accepted on `made_on` (customer's date)."""

    arrangement_id: Identifier
    account_id: Identifier
    kind: ArrangementKind
    installments: list[Installment] = Field(max_length=MAX_INSTALLMENTS)
    total_minor: MinorUnits
    made_on: IsoDate


class ArrangementDeclined(OutboundData):
    """`outreach.arrangement_declined` with the first reason that applies."""

    account_id: Identifier
    kind: ArrangementKind
    reason: DeclineReason


class ArrangementBroken(OutboundData):
    """`outreach.arrangement_broken` at the close `as_of` = installment's `due_on` + grace."""

    arrangement_id: Identifier
    account_id: Identifier
    as_of: IsoDate
    installment: int
    due_on: IsoDate
    paid_minor: MinorUnits
    expected_minor: MinorUnits


class ArrangementCompleted(OutboundData):
    """`outreach.arrangement_completed`: the counted payments reached the total."""

    arrangement_id: Identifier
    account_id: Identifier
    kind: ArrangementKind
    made_on: IsoDate
    paid_minor: MinorUnits


class CaseOpened(OutboundData):
    """`legal.case_opened`: a referral to legal action at the close `as_of`."""

    case_id: Identifier
    account_id: Identifier
    as_of: IsoDate
    dpd: Count
    past_due_minor: MinorUnits
    contact_attempts: Count


class CaseClosed(OutboundData):
    """`legal.case_closed` with its reason."""

    case_id: Identifier
    account_id: Identifier
    as_of: IsoDate
    reason: CaseCloseReason


class CaseMoved(OutboundData):
    """`legal.case_moved` (added type): one step of a case's lifecycle, who moved it and why."""

    case_id: Identifier
    account_id: Identifier
    from_state: Label
    to_state: Label
    actor: Label
    note: FreeText | None = None
    court: CourtName | None = None
    docket_number: DocketNumber | None = None
    amount_minor: MinorUnits | None = None
    on_date: IsoDate | None = None


class CaseMoveRequested(OutboundData):
    """`legal.case_move_requested` (added command type): an agent asks legal's API to move a case.

    Made at the API's edge (`api.command_event`) and run through legal's handler, so the request
    is an event in legal's log; the resulting move is `legal.case_moved`.
    """

    case_id: Identifier
    account_id: Identifier
    to_state: Label
    actor: Identifier
    note: FreeText | None = None
    court: CourtName | None = None
    docket_number: DocketNumber | None = None
    amount_minor: MinorUnits | None = None
    on_date: IsoDate | None = None


class CaseCloseRequested(OutboundData):
    """`legal.case_close_requested` (added command type): an agent asks legal's API to close a case."""

    case_id: Identifier
    account_id: Identifier
    reason: CaseCloseReason
    actor: Identifier
    note: FreeText | None = None


class ArrangementRequested(ArrangementTerms):
    """`outreach.arrangement_requested` (added command type): an agent proposes a plan or settlement
    through outreach's API. Never published: `ServiceRuntime.execute` hands it to outreach's handler,
    which answers with `outreach.arrangement_made` or `outreach.arrangement_declined`.

    `occurred_at` is when it was agreed (the API fills in the command's time when the agent gives
    none); `made_on` is its date in the customer's timezone. Same validation as a result's
    `arrangement` (ValueError: no installments, an unknown kind, a non-positive amount, `due_on` not
    strictly increasing).
    """

    account_id: Identifier
    occurred_at: Instant


class AccountPlaced(OutboundData):
    """`legal.account_placed`: the account is handed to agency `agency_id` at the close `as_of`,
    to be recalled at the latest at the close of `recall_on` (behaviour.md, Agencies)."""

    placement_id: Identifier
    account_id: Identifier
    agency_id: Identifier
    as_of: IsoDate
    dpd: Count
    past_due_minor: MinorUnits
    recall_on: IsoDate


class PlacementRecalled(OutboundData):
    """`legal.placement_recalled` at the close `as_of`: what the agency collected while it held the
    account (minor units, reversals deducted) and its commission (floor of the percentage)."""

    placement_id: Identifier
    account_id: Identifier
    agency_id: Identifier
    as_of: IsoDate
    reason: RecallReason
    collected_minor: MinorUnits
    commission_minor: MinorUnits


class ConductBreach(OutboundData):
    """`outreach.conduct_breach`: an agency's recorded contact (`record_id`) broke rule `rule`.

    Evidence, not a refusal: the contact stays on the trail (behaviour.md, Agencies, Conduct).
    """

    account_id: Identifier
    agency_id: Identifier
    record_id: Identifier
    rule: ConductRule


class EventRejected(OutboundData):
    """`system.event_rejected`: one inbound event that was invalid and changed nothing."""

    event_id: RejectedText | None
    type: RejectedText | None
    line: int | None
    reason: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
