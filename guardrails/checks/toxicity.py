"""`toxicity`: score each sentence with a toxicity model from the local store; flag categories over threshold.

The model comes only from the model store (`guardrails models pull NAME`); a missing or altered model
fails at policy load. Text is normalised first (zero-width characters, homoglyphs, compatibility forms)
so a hidden slur scores as what a reader sees. Every sentence is scored, in batches; a sentence longer
than the model's input limit is covered by overlapping windows, never truncated. Scores are computed
once per output and shared by every toxicity rule that uses the same model and settings.

Toxicity is not rewritten silently: rules use regenerate, review or block. `mask_fix` offers a safe
fix that masks the words driving a sentence's score (found by leaving each word out in turn).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import regex
from pydantic import Field, field_validator

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

Category = Literal["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack", "sexual_explicit"]
DEFAULT_MODEL = "toxblock-bilstm"
DEFAULT_SLIGHT = 0.2
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}'\u2019*-]*")


class ToxicityParams(CheckParams):
    model: str = Field(default=DEFAULT_MODEL, description="Model name in the store (`guardrails models list`)")
    backend: str | None = Field(default=None, description="Expected backend; default: the stored model's own")
    store_dir: str | None = Field(default=None, description="Model store directory; default $OUTGUARD_MODEL_DIR")
    thresholds: dict[Category, float] = Field(description="Category -> probability at or above which it is flagged")
    profile: Literal["standard", "strict"] = Field(
        default="standard", description="strict: flag any slight rating, using strict_thresholds"
    )
    strict_thresholds: dict[Category, float] = Field(
        default_factory=dict, description=f"What 'slight' means per category (default {DEFAULT_SLIGHT})"
    )
    batch_size: int = Field(default=32, ge=1, le=1024, description="Sentences scored per model call")
    torch_threads: int | None = Field(
        default=1,
        ge=1,
        le=256,
        description="torch intra-op threads, process-wide (None: leave torch's setting). 1 by default: these small"
        " models gain little from more, and OpenMP threads spin badly on a busy machine",
    )
    normalize: bool = Field(default=True, description="Drop zero-width chars, fold compatibility forms and accents")
    fold_homoglyphs: bool = Field(
        default=True, description="Fold letters that look Latin (Cyrillic, Greek) in Latin text"
    )
    fold_spelling: bool = Field(
        default=True, description='Read leetspeak ("1d10t") and letter-by-letter spelling ("i d i o t") as words'
    )
    max_findings: int = Field(default=50, ge=1, description="Report at most this many sentences per output")
    mask_fix: bool = Field(default=False, description="Offer a safe fix masking the words that drive the score")
    verify_checksums: bool = Field(default=True, description="Hash the model files against the store lock at load")

    @field_validator("thresholds", "strict_thresholds")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for cat, t in value.items():
            if not 0.0 < t <= 1.0:
                raise ValueError(f"threshold for {cat!r} must be in (0, 1], got {t}")
        return value

    @field_validator("thresholds")
    @classmethod
    def _some(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("give at least one category threshold, e.g. {toxicity: 0.5}")
        return value

    def effective_thresholds(self) -> dict[str, float]:
        if self.profile == "standard":
            return {c: t for c, t in self.thresholds.items()}
        return {c: min(t, self.strict_thresholds.get(c, DEFAULT_SLIGHT)) for c, t in self.thresholds.items()}


@dataclass(frozen=True, slots=True)
class ScoredUnit:
    start: int  # original text offsets
    end: int
    text: str  # normalised text the model saw
    window: bool
    scores: dict[str, float]
    source: list[int]
    """Original offset of each character of `text`: maps word spans the model saw back to the output."""

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.source[start], self.source[end - 1] + 1


class ToxicityCheck(Check[ToxicityParams]):
    kind = "toxicity"

    def __init__(self, params: ToxicityParams) -> None:
        super().__init__(params)
        from guardrails.models import ModelStore

        store = ModelStore(params.store_dir)
        model = store.require(params.model, verify=params.verify_checksums)
        try:
            from guardrails.checks._tox.backends import load_backend, set_torch_threads

            set_torch_threads(params.torch_threads)
            self.backend = load_backend(model, params.backend)
        except ImportError as exc:
            raise ValueError(
                f"the toxicity check needs the toxicity extra ({exc.name} is missing): pip install 'outguard[toxicity]'"
            ) from exc
        self.thresholds = params.effective_thresholds()
        missing = sorted(set(self.thresholds) - set(self.backend.labels))
        if missing:
            raise ValueError(
                f"key 'params.thresholds': model {params.model!r} does not score {', '.join(missing)}; "
                f"it scores {', '.join(self.backend.labels)}"
            )
        self.backend_kind = model.backend
        self._view_key = (
            f"toxicity\x1f{model.dir}\x1f{params.normalize}\x1f{params.fold_homoglyphs}\x1f{params.fold_spelling}"
        )

    # -- scoring, shared per document ----------------------------------------------------------

    def _score(self, doc: Document, ctx: RunContext) -> list[ScoredUnit]:
        from guardrails.checks._tox.normalize import normalize
        from guardrails.checks._tox.units import units

        if self.params.normalize:
            norm = normalize(
                doc.text, fold_homoglyphs=self.params.fold_homoglyphs, fold_spelling=self.params.fold_spelling
            )
            text, source = norm.text, norm.source
        else:
            text, source = doc.text, list(range(len(doc.text) + 1))

        cut = units(text, self.backend.token_spans, self.backend.max_tokens, ctx.deadline.check)
        out: list[ScoredUnit] = []
        for i in range(0, len(cut), self.params.batch_size):
            ctx.deadline.check()
            batch = cut[i : i + self.params.batch_size]
            for u, scores in zip(batch, self.backend.score([text[u.start : u.end] for u in batch]), strict=True):
                src = source[u.start : u.end]
                out.append(ScoredUnit(src[0], src[-1] + 1, text[u.start : u.end], u.window, scores, src))
        return out

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        scored = doc.view(self._view_key, lambda d: self._score(d, ctx))
        found = 0
        for unit in scored:
            for category, threshold in self.thresholds.items():
                score = unit.scores[category]
                if score < threshold:
                    continue
                yield self._hit(doc, unit, category, score, threshold)
                found += 1
                if found >= self.params.max_findings:
                    return

    def _hit(self, doc: Document, unit: ScoredUnit, category: str, score: float, threshold: float) -> Hit:
        details: dict[str, object] = {
            "category": category,
            "scores": {k: round(v, 4) for k, v in unit.scores.items()},
            "profile": self.params.profile,
            "window": unit.window,
        }
        original = doc.text[unit.start : unit.end]
        if unit.text != original:
            details["normalized"] = unit.text
        fix = None
        if self.params.mask_fix:
            words = self._culprits(unit, category, threshold)
            if words:
                details["words"] = [doc.text[s:e] for s, e in words]
                fix = Fix(
                    title=f"mask the words that make this sentence score as {category}",
                    edits=[Edit(start=s, end=e, replacement=_mask(doc.text[s:e])) for s, e in words],
                    safe=True,
                )
        return Hit(
            unit.start,
            unit.end,
            values={
                "category": category.replace("_", " "),
                "score": f"{score:.2f}",
                "threshold": f"{threshold:.2f}",
                "model": self.params.model,
            },
            evidence=Evidence(
                score=round(score, 4),
                threshold=threshold,
                source=f"{self.params.model} ({self.backend_kind})",
                details=details,
            ),
            fix=fix,
        )

    def _culprits(self, unit: ScoredUnit, category: str, threshold: float) -> list[tuple[int, int]]:
        """Original spans of the words whose removal brings the score under threshold (or lowers it most)."""
        words = [m.span() for m in _WORD.finditer(unit.text)]
        if not words or len(words) > 200:
            return []
        variants = [unit.text[:s] + " " + unit.text[e:] for s, e in words]
        scores = [r[category] for r in self.backend.score(variants)]
        base = unit.scores[category]
        chosen = [w for w, s in zip(words, scores, strict=True) if s < threshold]
        if not chosen:
            best = min(range(len(words)), key=lambda i: scores[i])
            if base - scores[best] < 0.1:
                return []
            chosen = [words[best]]
        return [unit.original_span(s, e) for s, e in chosen]


def _mask(word: str) -> str:
    return word[0] + "".join("*" if c.isalnum() else c for c in word[1:])


CHECK = ToxicityCheck
