"""After a reviewer corrects a fact: the item's output validated again, under its policy, against the new facts.

A corrected fact says the facts store was wrong; it does not say the output is right (the output may state a
third value, or make other claims). So the queue releases the output only when this fresh report passes.
The known-facts check polls its store on every run, so the row just written is what it reads. The decision
runs under the item's lock (see guardrails.reviews.store), so nobody decides the item meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from guardrails import Context, Report, sensitive_rule_ids
from guardrails.reviews import ReviewError, ReviewItem
from service.state import AppState


def revalidator(state: AppState) -> Callable[[ReviewItem], Report]:
    """The callable `ReviewStore.decide(..., revalidate=)` uses: the served engine of the item's policy."""

    def run(item: ReviewItem) -> Report:
        engine = state.engines.get(item.policy)
        if engine is None:
            raise ReviewError(
                f"policy {item.policy!r} is not served by this sidecar, so the output cannot be validated again "
                "after the correction; serve the policy (--policy) or decide the item another way"
            )
        # Redacted like every report that leaves validation for the queue (the item's own report was).
        return engine.validate(item.output, Context.coerce(item.context)).redacted(sensitive_rule_ids(engine.rules))

    return run
