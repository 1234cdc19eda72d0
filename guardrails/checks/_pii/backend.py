"""Everything of the `pii` check that needs presidio, behind one class: `pii.py` imports it when a rule is
built, so a missing `pii` extra becomes a load error that names the rule, not an import crash."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from guardrails.checks._pii.ner import NER_ENTITIES, NerTier, load_ner
from guardrails.checks._pii.normalize import Normalized
from guardrails.checks._pii.recognizers import RecognizerSet, recognizer_set
from guardrails.checks._pii.scan import Candidate, DocScan, candidate_from


class Backend:
    ner_entities = NER_ENTITIES

    @staticmethod
    def recognizers(language: str) -> RecognizerSet:
        return recognizer_set(language)

    @staticmethod
    def known_languages() -> frozenset[str]:
        from guardrails.checks._pii.slim import configured_languages

        return configured_languages()

    @staticmethod
    def ner(model_path: str, language: str) -> NerTier:
        return load_ner(model_path, language)

    @staticmethod
    def scan(text: str, rs: RecognizerSet) -> DocScan:
        return DocScan(text, rs)

    @staticmethod
    def candidate(result: RecognizerResult, norm: Normalized) -> Candidate:
        return candidate_from(result, norm)

    @staticmethod
    def custom_recognizer(
        entity: str,
        language: str,
        *,
        patterns: Sequence[tuple[str, str, float]],
        deny_list: Sequence[str],
        deny_list_score: float,
        context: Sequence[str],
    ) -> EntityRecognizer:
        return PatternRecognizer(
            supported_entity=entity,
            name=f"custom:{entity}",
            supported_language=language,
            patterns=[Pattern(name, regex, score) for name, regex, score in patterns] or None,  # type: ignore[arg-type]
            deny_list=list(deny_list) or None,  # type: ignore[arg-type]
            deny_list_score=deny_list_score,
            context=list(context) or None,  # type: ignore[arg-type]
        )
