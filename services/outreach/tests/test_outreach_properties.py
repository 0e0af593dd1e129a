"""Properties (hypothesis) over the domain the handler runs: call cap, rpc cooldown, arrangements.

The driver applies what the handler applies: `evaluate` at each close, an `answered_rpc` result's
instant appended to `rpc_at`, payments and reversals through `domain.payments`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collections_events.config import OutreachConfig, Step
from collections_outreach.domain.arrangements import make_arrangement
from collections_outreach.domain.evaluate import evaluate
from collections_outreach.domain.payments import apply_payment, apply_reversal
from collections_outreach.domain.state import AccountState, Profile
from collections_outreach.domain.window import local_date

START = date(2026, 1, 1)
ZONES = ["Asia/Shanghai", "America/Los_Angeles", "America/New_York", "UTC", "Pacific/Kiritimati"]
CHANNELS = ["sms", "email", "push", "call", "letter"]


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    count = draw(st.integers(1, 5))
    out = []
    for n in range(count):
        from_dpd = draw(st.integers(0, 20))
        to_dpd = draw(st.one_of(st.none(), st.integers(from_dpd, 60)))
        out.append(
            Step(
                id=f"s{n}",
                channel=draw(st.sampled_from([*CHANNELS, "call", "call"])),
                template="t",
                from_dpd=from_dpd,
                to_dpd=to_dpd,
                every_days=draw(st.one_of(st.none(), st.integers(0, 3))),
            )
        )
    return out


def profile(zone: str) -> Profile:
    return Profile(
        customer_id="c",
        timezone=zone,
        phones=(("+8613800000001", "mobile"),),
        emails=("a@example.com",),
        postal_address="addr",
        consents=(("sms", True), ("email", True), ("push", True), ("autodialed_calls", True)),
    )


# An action is either a close (None) or an answered_rpc result at `hours` after the last close's date 00:00Z.
actions = st.lists(st.one_of(st.none(), st.integers(0, 47)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(strategy=steps(), zone=st.sampled_from(ZONES), plan=actions, since_offset=st.integers(0, 10))
def test_calls_never_exceed_the_cap_nor_enter_a_cooldown(
    strategy: list[Step], zone: str, plan: list[int | None], since_offset: int
) -> None:
    config = OutreachConfig(strategy=strategy)
    state = AccountState(account_id="A", profile=profile(zone), delinquent_since=START - timedelta(days=since_offset))
    day = START
    calls: list[tuple[date, tuple[str, ...]]] = []  # (window local date, rpc instants known when asked)
    for action in plan:
        if action is None:
            state, result = evaluate(state, day, config)
            for decision in result.contacts:
                if decision.reason is None and decision.step.channel == "call":
                    calls.append((decision.window.local_date, state.rpc_at))
            day += timedelta(days=1)
        else:
            instant = (datetime(day.year, day.month, day.day) + timedelta(hours=action)).strftime("%Y-%m-%dT%H:%M:%SZ")
            day_of = local_date(instant, zone)
            state = replace(state, rpc_at=(*state.rpc_at, instant), rpc_days=(*state.rpc_days, day_of))
    windows = [w for w, _ in calls]
    for first in windows:
        assert sum(1 for w in windows if first <= w <= first + timedelta(days=6)) <= 7
    for window, known in calls:
        for instant in known:
            start = local_date(instant, zone)
            assert not (start <= window <= start + timedelta(days=6))


# Arrangement driver: ("pay", amount, received offset) | ("reverse", index) | ("close",)
arrangement_actions = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 400), st.integers(-3, 60)),
        st.tuples(st.just("reverse"), st.integers(0, 10)),
        st.tuples(st.just("close")),
    ),
    max_size=80,
)
schedules = st.lists(st.integers(1, 300), min_size=1, max_size=6).flatmap(
    lambda amounts: st.tuples(
        st.just(amounts), st.lists(st.integers(0, 20), min_size=len(amounts), max_size=len(amounts))
    )
)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules, plan=arrangement_actions, grace=st.integers(0, 6))
def test_arrangement_ends_at_most_once_and_holds_contact_while_active(
    schedule: tuple[list[int], list[int]], plan: list[tuple[object, ...]], grace: int
) -> None:
    amounts, gaps = schedule
    made_on = START
    dues, due_on = [], made_on
    for amount, gap in zip(amounts, gaps, strict=True):
        due_on = due_on + timedelta(days=gap + (1 if dues else 0))
        dues.append((due_on, amount))
    config = OutreachConfig.model_validate(
        {
            "strategy": [{"id": "c", "channel": "call", "template": "t", "from_dpd": 0, "every_days": 1}],
            "arrangements": {"grace_days": grace},
            "call_cap": {"calls": 100, "days": 1},
        }
    )
    state = AccountState(account_id="A", profile=profile("UTC"), delinquent_since=START - timedelta(days=30))
    state, _arrangement = make_arrangement(state, "arr", "plan", dues, made_on)
    ends = 0
    payments: list[str] = []
    day = START
    for n, action in enumerate(plan):
        if action[0] == "pay":
            pid = f"p{n}"
            payments.append(pid)
            state, outcome = apply_payment(state, pid, int(action[1]), made_on + timedelta(days=int(action[2])))  # type: ignore[call-overload]
            ends += outcome.completed is not None
        elif action[0] == "reverse" and payments:
            state = apply_reversal(state, payments[int(action[1]) % len(payments)])  # type: ignore[call-overload]
        else:
            state, result = evaluate(state, day, config)
            ends += result.breach is not None
            if state.active_arrangement is not None:
                assert all(d.reason == "arrangement_active" for d in result.contacts)
            day += timedelta(days=1)
        assert ends <= 1
        statuses = [a.status for a in state.arrangements]
        assert statuses in (["active"], ["completed"], ["broken"])
        assert (statuses != ["active"]) == (ends == 1)
