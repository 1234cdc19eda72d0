"""Which review items a client is waiting on (hold-for-review, docs/hold-for-review.md): the notice a queue row and
an item page show, and the queue's held view (those items, nearest deadline first, paged by keyset).

The held state comes from service.hold's store in one query per page: `HeldStore.marks` for the items of a page,
`HeldStore.waiting` for the held view. Everything here is pure: the clock is an argument.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails.reviews import ReviewItem, ReviewState
from service.hold.store import HeldMark

HELD_VIEW_CAP = 1000  # the held view ranks at most this many waiting items (a client waits at most hold.timeout_s)
_TIMEOUT = "timeout_"


@dataclass(frozen=True, slots=True)
class HeldNotice:
    """What a reviewer is told about an item's held answer: a client waiting (and until when), or the deadline
    passed and the timeout action was (or is about to be) applied in the reviewer's place."""

    held_id: str
    deadline: dt.datetime
    left: str | None  # "4 min left" while a client waits; None once timed out
    timed_out: str | None  # the timeout action ("block" | "release") once the deadline passed undecided

    @property
    def waiting(self) -> bool:
        return self.timed_out is None

    @property
    def text(self) -> str:
        if self.timed_out is not None:
            return f"timed out: {self.timed_out}"
        return f"held: a client is waiting, {self.left}"

    @property
    def iso(self) -> str:
        return self.deadline.isoformat().replace("+00:00", "Z")


def notice(mark: HeldMark | None, item: ReviewItem, now: float, timeout_action: str) -> HeldNotice | None:
    """The notice for `item`, or None when no client waits on it (never held, or its answer was released by a
    decision). `timeout_action`: what the sweeper applies to a held answer past its deadline it has not swept yet."""
    if mark is None:
        return None
    deadline = dt.datetime.fromtimestamp(mark.deadline_at, dt.UTC)
    decided = item.state is ReviewState.DECIDED
    if not mark.released:
        if decided:  # n > 1: this choice is decided, the client waits for another item
            return None
        if now < mark.deadline_at:
            return HeldNotice(mark.held_id, deadline, time_left(mark.deadline_at - now), None)
        return HeldNotice(mark.held_id, deadline, None, timeout_action)
    outcome = mark.outcome or ""
    if outcome.startswith(_TIMEOUT):
        return HeldNotice(mark.held_id, deadline, None, outcome.removeprefix(_TIMEOUT))
    if not decided and outcome == "mixed":
        # Released while this item was still undecided: only the deadline releases an answer with an item open.
        return HeldNotice(mark.held_id, deadline, None, timeout_action)
    return None


def time_left(seconds: float) -> str:
    """Rounded up, so "1 min left" is never shown for a deadline 90 s away and "0 min" never at all."""
    if seconds < 60:
        return "under 1 min left"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min left"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min left" if minutes else f"{hours} h left"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h left" if hours else f"{days} d left"


# -- the held view ---------------------------------------------------------------------------------------------


def cursor(mark: HeldMark) -> str:
    return f"{mark.deadline_at!r}~{mark.item_id}"


def _parse(after: str | None) -> tuple[float, str] | None:
    """A held view's cursor; anything else (another sort's cursor, a forged value) restarts from the top."""
    if not after or "~" not in after:
        return None
    deadline, _, item_id = after.partition("~")
    try:
        value = float(deadline)
    except ValueError:
        return None
    return (value, item_id) if math.isfinite(value) else None


def page(ranked: Sequence[HeldMark], after: str | None, limit: int) -> tuple[list[HeldMark], str | None]:
    """One page of waiting items in deadline order, strictly after the cursor: (marks, next cursor or None).
    Keyset as the other views: an item decided meanwhile does not shift the next page."""
    start = _parse(after)
    rest = [m for m in ranked if start is None or (m.deadline_at, m.item_id) > start]
    shown = rest[:limit]
    return shown, (cursor(shown[-1]) if len(rest) > limit and shown else None)
