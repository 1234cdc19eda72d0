"""Private helpers of the `pii` check: presidio recognizers run only where they can match.

Layout: `recognizers` builds presidio's predefined recognizers once per language (offline e-mail
validation included); `windows` finds the candidate windows each recognizer group needs; `scan` is
the per-document analysis shared by every PII rule; `normalize` undoes zero-width and homoglyph
tricks with an offset map; `context` boosts scores with presidio's own context enhancer;
`redact` builds the repairs; `ner` is the optional spaCy tier.
"""
