"""Agencies' reported contacts: validation, the trail record with `agency_id`, the conduct checks.

behaviour.md (Agencies, Conduct; Time and order: the checks read the trail and flags as outreach
knows them when the result arrives). Every call result, the lender's or an agency's, is kept as a
`CallResult` (its local day fixed with the timezone of the moment it is recorded) for the checks.
"""

from __future__ import annotations

import structlog
from sqlalchemy import insert

from collections_events import inbound, outbound
from collections_events.config import PlatformConfig
from collections_events.store.statements import execute
from collections_events.store.uow import UnitOfWork
from collections_outreach.app.tables import CONDUCT
from collections_outreach.domain.conduct import CallResult, ConductRules, breaches, kept_calls, local_day
from collections_outreach.domain.placement import call_results, holds, with_call_results
from collections_outreach.domain.state import AccountState
from collections_outreach.domain.suppression import timezone_of

log = structlog.get_logger("collections.outreach.conduct")
_INSERT_BREACH = insert(CONDUCT)


def conduct_rules(config: PlatformConfig) -> ConductRules:
    """The conduct checks' numbers from `outreach.*`."""
    o = config.outreach
    return ConductRules(o.window.start, o.window.end, o.rpc_cooldown_days, o.call_cap.calls, o.call_cap.days)


def refusal(config: PlatformConfig, data: inbound.ContactResultReported) -> str | None:
    """Why an agency's result is rejected (naming the field), or None.

    With agencies configured, `agency_id` must be one of them; with none configured (placement off)
    any agency's result is recorded and checked all the same (behaviour.md, Agencies).
    """
    agencies = [a.id for a in config.legal.placement.agencies]
    if data.agency_id is not None and agencies and data.agency_id not in agencies:
        return f"agency_id: {data.agency_id!r} is not a configured agency ({', '.join(agencies)})"
    return None


def remember_call(uow: UnitOfWork, state: AccountState, data: inbound.ContactResultReported) -> AccountState:
    """Keep a call result (anyone's) for later conduct checks."""
    if data.channel != "call":
        return state
    day = local_day(data.occurred_at, timezone_of(state))
    calls = (*call_results(state), CallResult(data.occurred_at, day, data.outcome == "answered_rpc"))
    return with_call_results(state, kept_calls(calls, conduct_rules(uow.config)))


async def check_conduct(
    uow: UnitOfWork, state: AccountState, data: inbound.ContactResultReported, record: outbound.ContactRecorded
) -> None:
    """Publish one `outreach.conduct_breach` per rule the agency's contact broke, in the spec's order.

    `state` is the account before this result's call is remembered (the trail before it).
    """
    agency_id = data.agency_id
    assert agency_id is not None
    zone = timezone_of(state)
    rules = breaches(
        flags=state.flags,
        channel=data.channel,
        occurred_at=data.occurred_at,
        timezone=zone,
        calls=call_results(state),
        rules=conduct_rules(uow.config),
    )
    day = local_day(data.occurred_at, zone)
    for rule in rules:
        envelope = uow.emit(
            "outreach.conduct_breach",
            outbound.ConductBreach(
                account_id=state.account_id, agency_id=agency_id, record_id=record.record_id, rule=rule
            ),
            purpose=f"conduct_breach:{rule}",
        )
        await execute(
            uow.session,
            _INSERT_BREACH,
            {
                "breach_id": envelope.id,
                "account_id": state.account_id,
                "agency_id": agency_id,
                "record_id": record.record_id,
                "rule": rule,
                "channel": data.channel,
                "occurred_at": data.occurred_at,
                "local_date": day,
            },
        )
    if uow.config.legal.placement.agencies and not holds(state, agency_id, day):
        # Recorded and checked like any agency contact; the contact is not refused (README, choices).
        log.warning("agency contact on an account it does not hold", account_id=state.account_id, agency_id=agency_id)
