"""Fold one upstream event's facts into legal's state of its account (pure; no I/O)."""

from __future__ import annotations

from pydantic import BaseModel

import collections_events.inbound as inbound
import collections_events.outbound as outbound
from collections_legal.domain.account import (
    Arrangement,
    Decline,
    LegalAccount,
    Promise,
    PromiseStatus,
    UnpaidDue,
    apply_arrangement,
    apply_balance,
    apply_cure,
    apply_decline,
    apply_flag,
    apply_promise,
    end_arrangement,
)

PROMISE_STATUS: dict[str, PromiseStatus] = {
    "outreach.promise_recorded": "recorded",
    "outreach.promise_kept": "kept",
    "outreach.promise_broken": "broken",
}


def is_cure(data: BaseModel) -> bool:
    """Whether a delinquency event says the account is current (dpd 0, no past-due date)."""
    if isinstance(data, outbound.BucketChanged | outbound.DpdChanged):
        return data.dpd == 0 or data.delinquent_since is None
    return False


def fold_fact(account: LegalAccount, type_name: str, data: BaseModel, time: str) -> LegalAccount:
    """`account` after the fact in `data` (event type `type_name`, envelope `time`).

    Requested contacts are counted by the handler, which keeps the record itself (once per record).
    """
    if isinstance(data, outbound.BalanceChanged):
        return apply_balance(account, tuple(UnpaidDue(d.due_id, d.due_date, d.unpaid_minor) for d in data.unpaid_dues))
    if isinstance(data, inbound.AccountFlagChanged):
        return apply_flag(account, data.flag, is_set=type_name == "account.flag_set")
    if is_cure(data):
        return apply_cure(account)
    if isinstance(data, outbound.PromiseEvent) and type_name in PROMISE_STATUS:
        promise = Promise(data.promise_id, data.amount_minor, data.promised_on, PROMISE_STATUS[type_name])
        return apply_promise(account, promise)
    if isinstance(data, outbound.ArrangementMade):
        made = Arrangement(data.arrangement_id, data.kind, data.made_on, data.total_minor, len(data.installments))
        return apply_arrangement(account, made)
    if isinstance(data, outbound.ArrangementCompleted):
        stand_in = Arrangement(data.arrangement_id, data.kind, data.made_on, data.paid_minor, 0)
        return end_arrangement(account, stand_in, "completed", paid_minor=data.paid_minor)
    if isinstance(data, outbound.ArrangementBroken):
        stand_in = Arrangement(data.arrangement_id, "unknown", data.due_on, data.expected_minor, 0)
        return end_arrangement(
            account,
            stand_in,
            "broken",
            as_of=data.as_of,
            installment=data.installment,
            paid_minor=data.paid_minor,
        )
    if isinstance(data, outbound.ArrangementDeclined):
        return apply_decline(account, Decline(data.kind, data.reason, time))
    return account
