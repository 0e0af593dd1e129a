"""Data of the events other systems publish to the platform (contract.md, Published to the platform).

Unknown `data` fields are ignored (the contract only grows, so a newer producer may add fields);
every listed field is validated, and a bad one names itself in the rejection.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from collections_events.fields import (
    MAX_EMAILS,
    MAX_INSTALLMENTS,
    MAX_PHONES,
    Currency,
    EmailAddress,
    FreeText,
    Identifier,
    Instant,
    IsoDate,
    Label,
    MinorUnits,
    PhoneNumber,
    PositiveMinorUnits,
    Timezone,
)

Channel = Literal["sms", "email", "push", "call", "letter"]
Flag = Literal["dispute", "cease_and_desist", "bankruptcy", "deceased", "hardship"]
Outcome = Literal[
    "delivered",
    "failed",
    "expired",
    "answered_rpc",
    "answered_third_party",
    "no_answer",
    "voicemail",
    "busy",
    "wrong_number",
]


class InboundData(BaseModel):
    """Base of inbound data: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Phone(InboundData):
    """A phone number of the customer (personal data)."""

    number: PhoneNumber
    kind: Literal["mobile", "home", "work"]


class Contacts(InboundData):
    """Where the customer can be reached (personal data: never logged)."""

    phones: list[Phone] = Field(default_factory=list, max_length=MAX_PHONES)
    emails: list[EmailAddress] = Field(default_factory=list, max_length=MAX_EMAILS)
    postal_address: FreeText | None = None


class Consents(InboundData):
    """What the customer agreed to be contacted by; calls need `autodialed_calls`."""

    sms: StrictBool
    email: StrictBool
    push: StrictBool
    autodialed_calls: StrictBool


class AccountOpened(InboundData):
    """`account.opened`: an account the platform follows, with its customer's timezone."""

    account_id: Identifier
    customer_id: Identifier
    product: Literal["credit_card", "loan"]
    currency: Currency
    opened_on: IsoDate
    timezone: Timezone
    locale: Label
    contacts: Contacts
    consents: Consents


class AccountContactsUpdated(InboundData):
    """`account.contacts_updated`: each field given replaces the old value whole."""

    account_id: Identifier
    timezone: Timezone | None = None
    contacts: Contacts | None = None
    consents: Consents | None = None


class AccountFlagChanged(InboundData):
    """`account.flag_set` / `account.flag_cleared`."""

    account_id: Identifier
    flag: Flag
    reason: FreeText


class PaymentDue(InboundData):
    """`payment.due`: the minimum payment due on `due_date`, in minor units."""

    account_id: Identifier
    due_id: Identifier
    due_date: IsoDate
    amount_due_minor: MinorUnits
    statement_balance_minor: MinorUnits


class PaymentReceived(InboundData):
    """`payment.received`: `payment_id` is the business key; `received_on` a business date."""

    account_id: Identifier
    payment_id: Identifier
    amount_minor: PositiveMinorUnits
    received_on: IsoDate


class PaymentReversed(InboundData):
    """`payment.reversed`: removes the payment as if it had never been applied."""

    account_id: Identifier
    payment_id: Identifier
    reason: Literal["nsf", "chargeback", "error"]


class DayClosed(InboundData):
    """`day.closed`: the business date that has just ended; the platform's only clock."""

    as_of: IsoDate


class PromiseTerms(InboundData):
    """A promise to pay `amount_minor` by the close of `promised_on`."""

    amount_minor: PositiveMinorUnits
    promised_on: IsoDate


class Installment(InboundData):
    """One installment of an arrangement: `amount_minor` due on `due_on`."""

    due_on: IsoDate
    amount_minor: PositiveMinorUnits


class ArrangementTerms(InboundData):
    """A payment plan or settlement as agreed (behaviour.md, Arrangements).

    Raises ValueError when there is no installment or `due_on` does not strictly increase.
    """

    kind: Literal["plan", "settlement"]
    installments: list[Installment] = Field(min_length=1, max_length=MAX_INSTALLMENTS)

    @model_validator(mode="after")
    def _increasing(self) -> ArrangementTerms:
        dates = [i.due_on for i in self.installments]
        if any(later <= earlier for earlier, later in itertools.pairwise(dates)):
            raise ValueError("installments: due_on must strictly increase")
        return self

    @property
    def total_minor(self) -> int:
        """The sum of the installments, in minor units."""
        return sum(i.amount_minor for i in self.installments)


class ContactResultReported(InboundData):
    """`contact.result_reported`: what a channel or an agent reports of a contact.

    Raises ValueError when both `promise` and `arrangement` are given, or when an agency's result
    (`agency_id` set) carries an `attempt_id`.
    """

    account_id: Identifier
    attempt_id: Identifier | None = None
    channel: Channel
    outcome: Outcome
    occurred_at: Instant
    promise: PromiseTerms | None = None
    arrangement: ArrangementTerms | None = None
    agency_id: Identifier | None = None
    """Set by a collection agency reporting its own contact (added); `attempt_id` is then null."""

    @model_validator(mode="after")
    def _one_of(self) -> ContactResultReported:
        if self.promise is not None and self.arrangement is not None:
            raise ValueError("promise and arrangement: at most one of the two")
        if self.agency_id is not None and self.attempt_id is not None:
            raise ValueError("attempt_id: must be null when agency_id is set (an agency reports its own contacts)")
        return self
