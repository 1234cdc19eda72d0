"""The NER tier: a spaCy pipeline loaded from a local path, through presidio's SpacyNlpEngine and
SpacyRecognizer (PERSON, LOCATION, ORGANIZATION, NRP, DATE_TIME). Never a download: the path must
exist, and presidio only downloads when it does not."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by `load_ner` only: presidio's NLP engines import spaCy, transformers, torch
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


@dataclass(frozen=True)
class NerTier:
    engine: SpacyNlpEngine
    recognizer: SpacyRecognizer
    language: str

    def analyze(self, text: str, entities: frozenset[str]) -> list[RecognizerResult]:
        wanted = sorted(entities & NER_ENTITIES)
        if not wanted:
            return []
        artifacts = self.engine.process_text(text, self.language)
        results: list[RecognizerResult] = self.recognizer.analyze(text, wanted, artifacts)
        return results


@functools.cache
def load_ner(model_path: str, language: str) -> NerTier:
    path = Path(model_path).expanduser()
    if not (path / "meta.json").is_file() and not (path / "config.cfg").is_file():
        raise ValueError(
            f"key 'params.spacy_model': {model_path!r} is not a saved spaCy pipeline directory "
            "(no meta.json or config.cfg); save one with nlp.to_disk(PATH). Models are never downloaded."
        )
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": str(path)}])
    engine.load()
    recognizer = SpacyRecognizer(supported_language=language)
    return NerTier(engine, recognizer, language)
