"""Properties of the conduct rules (behaviour.md, Agencies, Conduct): the window's edges on ordinary
and daylight-saving days, the cooldown's seven local days, and the cap's rolling window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from collections_outreach.domain.conduct import CallResult, ConductRules, breaches, local_day, outside_window

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Shanghai", "America/Santiago", "UTC"]
DST_DAYS = [
    date(2026, 3, 8),  # New York springs forward
    date(2026, 11, 1),  # New York falls back
    date(2026, 3, 29),  # London springs forward
    date(2026, 10, 25),  # London falls back
    date(2026, 4, 5),  # Sydney falls back
    date(2026, 10, 4),  # Sydney springs forward
]
RULES = ConductRules()


def iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


days = st.one_of(st.sampled_from(DST_DAYS), st.dates(date(2026, 1, 1), date(2027, 12, 31)))
instants = st.builds(
    lambda d, micro: datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(microseconds=micro),
    days,
    st.integers(0, 48 * 3600 * 10**6),
)


@settings(max_examples=500, deadline=None)
@given(days, st.integers(0, 24 * 3600 * 10**6 - 1), st.sampled_from(ZONES), st.sampled_from([0, 1]))
def test_outside_window_is_before_start_or_after_end_in_local_wall_clock(
    day: date, micros: int, zone: str, fold: int
) -> None:
    clock = (datetime.min + timedelta(microseconds=micros)).time()
    local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).replace(fold=fold)
    if local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != local.replace(tzinfo=None):
        return  # a wall-clock time the spring-forward gap skips never happens
    expected = clock < time(8, 0) or clock > time(21, 0)
    assert outside_window(iso(local), zone, "08:00", "21:00") == expected


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(DST_DAYS), st.sampled_from(ZONES[:3]), st.sampled_from(["08:00", "21:00"]))
def test_the_windows_ends_are_inside_on_daylight_saving_days(day: date, zone: str, edge: str) -> None:
    hours, minutes = (int(x) for x in edge.split(":"))
    local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=ZoneInfo(zone))
    assert not outside_window(iso(local), zone, "08:00", "21:00")
    step = timedelta(seconds=1)
    beyond = local - step if edge == "08:00" else local + step
    assert outside_window(iso(beyond), zone, "08:00", "21:00")


def call(moment: datetime, zone: str, rpc: bool = False) -> CallResult:
    return CallResult(iso(moment), local_day(iso(moment), zone), rpc)


@settings(max_examples=400, deadline=None)
@given(instants, st.sampled_from(ZONES), st.integers(-2, 10), st.integers(0, 24 * 3600 - 1))
def test_the_cooldown_is_the_seven_local_days_from_the_rpcs_local_day(
    rpc_moment: datetime, zone: str, day_offset: int, second: int
) -> None:
    rpc = call(rpc_moment, zone, rpc=True)
    target_day = rpc.local_day + timedelta(days=day_offset)
    # Noon local, then any second of that local day (days of 23 or 25 hours included).
    local_midnight = datetime.combine(target_day, time(0), tzinfo=ZoneInfo(zone))
    moment = (local_midnight.astimezone(UTC) + timedelta(seconds=second)).astimezone(ZoneInfo(zone))
    if moment.date() != target_day:
        return
    found = breaches(
        flags=frozenset(), channel="call", occurred_at=iso(moment), timezone=zone, calls=(rpc,), rules=RULES
    )
    earlier = moment.astimezone(UTC) > rpc_moment.astimezone(UTC)
    assert ("rpc_cooldown" in found) == (earlier and 0 <= day_offset <= 6)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(-12, 3), max_size=14),
    st.integers(1, 8),
    st.integers(1, 10),
    st.sampled_from(ZONES),
)
def test_the_cap_counts_every_call_result_in_the_days_ending_with_its_own(
    offsets: list[int], calls_allowed: int, cap_days: int, zone: str
) -> None:
    day = date(2026, 3, 8)
    noon = datetime.combine(day, time(12), tzinfo=ZoneInfo(zone))
    trail = tuple(call(noon + timedelta(days=o), zone) for o in offsets)
    rules = ConductRules(cap_calls=calls_allowed, cap_days=cap_days, rpc_cooldown_days=0)
    found = breaches(flags=frozenset(), channel="call", occurred_at=iso(noon), timezone=zone, calls=trail, rules=rules)
    in_window = sum(1 for o in offsets if -cap_days < o <= 0)
    assert ("frequency_cap" in found) == (in_window + 1 > calls_allowed)


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.sampled_from(["deceased", "bankruptcy", "cease_and_desist", "dispute", "hardship"])),
    st.sampled_from(["sms", "email", "push", "call", "letter"]),
    instants,
)
def test_breaches_come_in_the_specs_order_once_each(flags: set[str], channel: str, moment: datetime) -> None:
    zone = "America/New_York"
    rpc = call(moment - timedelta(hours=1), zone, rpc=True)
    found = breaches(
        flags=frozenset(flags), channel=channel, occurred_at=iso(moment), timezone=zone, calls=(rpc,) * 8, rules=RULES
    )
    order = ["deceased", "bankruptcy", "cease_and_desist", "dispute", "outside_window", "rpc_cooldown", "frequency_cap"]
    assert list(found) == sorted(set(found), key=order.index)
    assert set(found) & set(flags) == set(flags) - {"hardship"}
    if channel != "call":
        assert not {"rpc_cooldown", "frequency_cap"} & set(found)
    if channel == "letter":
        assert "outside_window" not in found
