"""The incremental JSON scanner: cut points after complete values only, closers that make valid JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.guard import JSONStreamScanner

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=values, indent=st.sampled_from([None, 1]), step=st.integers(min_value=1, max_value=7))
def test_every_cut_closes_into_valid_json(value: Any, indent: int | None, step: int) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    scanner = JSONStreamScanner()
    last = 0
    for i in range(0, len(text), step):
        scanner.feed(text[i : i + step])
        cut = scanner.take(i + step)
        if cut is not None:
            offset, closers = cut
            assert offset > last
            last = offset
            json.loads(text[:offset] + closers)  # never half a token
    scanner.finish()
    assert scanner.error is None and scanner.done


@pytest.mark.parametrize(
    "text",
    ['{"a": 1,}', "[1,]", '{"a" 1}', "[tru]", '{"a": 1]', '"unterminated', "{}x", '{"a": "\x01"}', "[1, 2"],
)
def test_invalid_json_is_an_error(text: str) -> None:
    scanner = JSONStreamScanner()
    scanner.feed(text)
    scanner.finish()
    assert scanner.error is not None


def test_a_number_is_not_released_until_it_ends() -> None:
    scanner = JSONStreamScanner()
    scanner.feed('{"n": 12')
    assert scanner.take(100) is None
    scanner.feed("3, ")
    assert scanner.take(100) == (len('{"n": 123'), "}")


def test_deep_nesting_does_not_recurse() -> None:
    scanner = JSONStreamScanner()
    scanner.feed("[" * 100_000 + "]" * 100_000)
    scanner.finish()
    assert scanner.done and scanner.error is None
