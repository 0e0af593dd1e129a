"""`topics:` names are Kafka topic names, one per key (the second newcomer review: an empty or spaced
name, or one topic for two keys, passed validation and failed only against the broker)."""

from __future__ import annotations

import pytest

from collections_events.config import ConfigError, parse_config


@pytest.mark.parametrize(
    ("topics", "words"),
    [
        ({"payments": ""}, "topics.payments: must be a Kafka topic name"),
        ({"payments": "bad topic/with spaces"}, "topics.payments: must be a Kafka topic name"),
        ({"payments": "x" * 246}, "topics.payments: must be a Kafka topic name"),
        ({"accounts": "lender.billing.v1"}, "each topic key needs its own topic; shared: lender.billing.v1"),
    ],
)
def test_a_bad_topic_name_or_a_shared_topic_is_one_line(topics: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"topics": topics})
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_good_names_pass() -> None:
    config = parse_config({"topics": {"accounts": "acme.accounts-v2_eu", "payments": "x" * 245}})
    assert config.topics.name("accounts") == "acme.accounts-v2_eu"
