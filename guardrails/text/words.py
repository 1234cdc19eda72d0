"""English function words: what carries no content when two sentences are compared (the grounding check's
claim keys, the review page's closest source passage)."""

from __future__ import annotations

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves yes nothing
    however although though thus therefore yet still since many much also according said says known called named
    both either neither whether""".split()  # noqa: SIM905
)
