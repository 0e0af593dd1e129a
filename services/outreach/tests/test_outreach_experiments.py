"""Champion/challenger arms (behaviour.md, Strategy experiments): config, hash rule, strategy field."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from collections_events.config import ConfigError, parse_config
from collections_outreach.domain.evaluate import evaluate
from collections_outreach.domain.experiments import arm_hash, arm_of, arm_strategy
from collections_outreach.domain.state import AccountState, Profile

CHALLENGER = {
    "id": "calls-first",
    "share_pct": 20,
    "strategy": [{"id": "c", "channel": "call", "template": "t", "from_dpd": 1}],
}


def test_hash_rule_is_the_spec_s() -> None:
    for account in ("ACC-1", "ACC-2", "账户-3"):
        digest = hashlib.sha256(f"experiment:{account}".encode()).digest()
        assert arm_hash(account) == int.from_bytes(digest[:8], "big") % 100


def test_arms_take_consecutive_ranges_in_list_order() -> None:
    second = {**CHALLENGER, "id": "late", "share_pct": 30}
    config = parse_config({"outreach": {"experiments": [CHALLENGER, second]}}).outreach
    for n in range(400):
        account = f"A{n}"
        h = arm_hash(account)
        expected = "calls-first" if h < 20 else "late" if h < 50 else "champion"
        assert arm_of(account, config) == expected
    assert arm_strategy("calls-first", config)[0].id == "c"
    assert arm_strategy("champion", config) == config.strategy
    assert arm_of("A1", parse_config({}).outreach) == "champion"


@pytest.mark.parametrize(
    ("experiments", "path"),
    [
        (
            [CHALLENGER, {**CHALLENGER, "id": "b", "share_pct": 81}],
            "outreach.experiments: share_pct must sum to at most 100",
        ),
        ([{**CHALLENGER, "id": "champion"}], "outreach.experiments.0.id"),
        (
            [{**CHALLENGER, "strategy": [{"id": "c", "channel": "fax", "template": "t", "from_dpd": 1}]}],
            "outreach.experiments.0.strategy.0.channel",
        ),
        (
            [{**CHALLENGER, "strategy": [{"id": "c", "channel": "sms", "template": "t", "from_dpd": 5, "to_dpd": 1}]}],
            "outreach.experiments.0.strategy.0",
        ),
        ([CHALLENGER, CHALLENGER], "outreach.experiments: experiment ids must be unique"),
        ([{**CHALLENGER, "share_pct": 101}], "outreach.experiments.0.share_pct"),
    ],
)
def test_bad_experiments_stop_the_start_naming_the_key(experiments: list[object], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"outreach": {"experiments": experiments}})
    message = str(caught.value)
    assert message.startswith(f"config: {path}")
    assert "\n" not in message


def test_the_arm_s_strategy_drives_its_steps() -> None:
    config = parse_config({"outreach": {"experiments": [{**CHALLENGER, "share_pct": 100}]}}).outreach
    profile = Profile("C", "UTC", phones=(("+14155550100", "mobile"),), consents=(("autodialed_calls", True),))
    state = AccountState("ACC-9", profile=profile, delinquent_since=date(2026, 1, 1), episode=1)
    _, result = evaluate(state, date(2026, 1, 2), config)
    assert [(c.step.id, c.strategy, c.reason) for c in result.contacts] == [("c", "calls-first", None)]
    _, champion = evaluate(state, date(2026, 1, 2), parse_config({}).outreach)
    assert {c.strategy for c in champion.contacts} == {"champion"}
    assert [c.step.id for c in champion.contacts] == ["sms-reminder", "push-reminder"]


async def test_experiments_endpoint_gives_each_arm_s_figures(sqlite_url: str) -> None:
    import httpx

    from collections_outreach.adapters.api import create_api

    from .conftest import make_harness, of_type

    config = parse_config({"outreach": {"experiments": [{**CHALLENGER, "share_pct": 50}]}})
    accounts = [f"X{n}" for n in range(40)]
    challenger = next(a for a in accounts if arm_of(a, config.outreach) == "calls-first")
    champion = next(a for a in accounts if arm_of(a, config.outreach) == "champion")
    harness = await make_harness(sqlite_url, config)
    try:
        d0, d1 = date(2026, 1, 10), date(2026, 1, 11)
        for account in (challenger, champion):
            await harness.opened(account)
            await harness.delinquent(account, d1, d0)
        published = await harness.close(d1)
        arms_seen = {(r["account_id"], r["strategy"]) for r in of_type(published, "outreach.contact_requested")}
        assert arms_seen == {(challenger, "calls-first"), (champion, "champion")}
        await harness.result(
            challenger,
            "answered_rpc",
            "2026-01-12T03:00:00Z",
            promise={"amount_minor": 500, "promised_on": "2026-01-20"},
        )
        await harness.payment(challenger, "P1", 500, date(2026, 1, 12))
        await harness.delinquent(challenger, date(2026, 1, 12), None)
        app = create_api(harness.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as client:
            body = (await client.get("/experiments", params={"from": "2026-01-01", "to": "2026-01-31"})).json()
            empty = (await client.get("/experiments", params={"from": "2026-02-01", "to": "2026-02-28"})).json()
            bad = await client.get("/experiments", params={"from": "soon"})
        by_arm = {a["arm"]: a for a in body["arms"]}
        c = by_arm["calls-first"]
        assert c["share_pct"] == 50 and c["episodes_started"] == 1
        assert c["contacts_requested"] == {"call": 1} and c["right_party_contacts"] == 1
        assert c["promises"] == {"made": 1, "kept": 1, "broken": 0}
        assert c["cured_within_30_days"] == 1 and c["payments_received_minor"] == 500
        assert by_arm["champion"]["contacts_requested"] == {"push": 1, "sms": 1}
        assert by_arm["champion"]["cured_within_30_days"] == 0
        assert all(a["episodes_started"] == 0 for a in empty["arms"])
        assert bad.status_code == 422
    finally:
        await harness.runtime.db.close()
