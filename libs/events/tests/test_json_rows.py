"""json_rows writes the text the standard library wrote for stored rows, and reads both (issue 14)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collections_events.store import json_rows

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _stdlib(value: Any, sort_keys: bool) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


@given(values, st.booleans())
def test_same_text_as_the_standard_library(value: Any, sort_keys: bool) -> None:
    assert json_rows.dumps(value, sort_keys=sort_keys) == _stdlib(value, sort_keys)
    assert json_rows.loads(json_rows.dumps(value)) == value


def test_integers_beyond_64_bits_fall_back_and_read_back() -> None:
    value = {"amount_minor": 10**30, "name": "Zoë"}
    assert json_rows.dumps(value) == _stdlib(value, False)
    assert json_rows.loads(json_rows.dumps(value)) == value


def test_text_that_is_not_json_raises_value_error() -> None:
    try:
        json_rows.loads("{not json")
    except ValueError:
        return
    raise AssertionError("expected ValueError")


@given(st.integers(min_value=2**63, max_value=10**40) | st.integers(max_value=-(2**63), min_value=-(10**40)))
def test_no_integer_loses_digits(number: int) -> None:
    assert json_rows.loads(json_rows.dumps([number, {"n": number}])) == [number, {"n": number}]
