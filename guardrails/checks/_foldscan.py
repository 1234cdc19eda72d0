"""One Aho-Corasick pass over a document's folded text for several users (ban lists, regex anchor groups).

Walking the automaton costs about as much per character as the whole rest of a ban-list or anchor check on
text that contains none of its words, so users that read the same folded view share one automaton over all
their keys: one walk per document instead of one per user. Each user gets exactly the (end, payload) pairs
its own automaton would have yielded, in the same order: the automaton reports the keys that end at one
offset longest first, and the keys of one user keep that order among everyone's.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import ahocorasick

from guardrails.checks._textnorm import FoldedText
from guardrails.document import Document

RawHits = list[tuple[int, Any]]
"""(end offset of the key in the folded text, the user's payload for the key), in automaton order."""


class ScanUser:
    """Something that looks up keys in the folded text; `shared` is set once it joins a FoldedScan."""

    shared: tuple[FoldedScan, int] | None = None

    def folded_keys(self) -> Mapping[str, Any]:
        """Folded key -> payload, as the user's own automaton holds them."""
        raise NotImplementedError


class ScanSource:
    """A check whose ScanUsers may share a pass with those of its sibling checks (see `share_among`)."""

    def scan_users(self) -> Sequence[ScanUser]:
        raise NotImplementedError


def share_among(siblings: Sequence[object]) -> None:
    """Let the ScanUsers of all these checks share one pass. Every check calls it from `bind`, after setting up
    its own users, so whichever binds last leaves all of them on one FoldedScan."""
    users: list[ScanUser] = []
    for check in siblings:
        if isinstance(check, ScanSource):
            users.extend(u for u in check.scan_users() if all(u is not seen for seen in users))
    FoldedScan.share(users)


class FoldedScan:
    _ids = itertools.count()

    def __init__(self, users: Sequence[ScanUser]) -> None:
        self.view_key = f"folded-scan:{next(self._ids)}"
        self.users = tuple(users)
        merged: dict[str, list[tuple[int, Any]]] = {}
        for index, user in enumerate(self.users):
            for key, payload in user.folded_keys().items():
                merged.setdefault(key, []).append((index, payload))
        self.automaton = ahocorasick.Automaton()
        for key, pairs in merged.items():
            self.automaton.add_word(key, tuple(pairs))
        self.automaton.make_automaton()

    @classmethod
    def share(cls, users: Sequence[ScanUser]) -> None:
        """Let `users` share one pass (a no-op when they already do)."""
        if len(users) < 2:
            return
        first = users[0].shared
        if first is not None and first[0].users == tuple(users):
            return
        scan = cls(users)
        for index, user in enumerate(users):
            user.shared = (scan, index)

    def hits(self, doc: Document, index: int) -> RawHits:
        return doc.view(self.view_key, self._scan)[index]

    def _scan(self, doc: Document) -> list[RawHits]:
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        out: list[RawHits] = [[] for _ in self.users]
        for end_idx, pairs in self.automaton.iter(folded.text):
            for index, payload in pairs:
                out[index].append((end_idx, payload))
        return out
