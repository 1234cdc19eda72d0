"""Skipper: in step with the output while the input's order matches, by id once it does not."""

from __future__ import annotations

from guardrails.batch.resume import Skipper


def test_in_step_it_holds_one_id_at_a_time() -> None:
    written = iter(["a", "b", "c"])
    s = Skipper(written, 3)
    assert [s.seen(k) for k in ["a", "b", "c", "d", "e"]] == [True, True, True, False, False]
    assert (s.skipped, s.reordered, s.unmatched) == (3, False, 0)


def test_out_of_step_it_matches_by_id_and_says_so() -> None:
    s = Skipper(iter(["a", "b", "c"]), 3)
    assert [s.seen(k) for k in ["c", "x", "a", "b", "a"]] == [True, False, True, True, False]
    assert (s.skipped, s.reordered, s.unmatched) == (3, True, 0)


def test_written_ids_the_input_never_offers_are_counted() -> None:
    s = Skipper(iter(["a", "b", "gone"]), 3)
    assert [s.seen(k) for k in ["a", "b"]] == [True, True]
    assert s.unmatched == 1


def test_an_empty_output_skips_nothing() -> None:
    s = Skipper(iter(()), 0)
    assert not s.seen("a") and s.skipped == 0
