"""The price table: what a provider's tokens cost, so a Guard's result and the sidecar's metrics carry an estimate.

A YAML (or JSON) file, the operator's, in the units providers publish: a price per million tokens.

    currency: USD            # a label only: no conversion is done
    per_tokens: 1000000      # the prices below are per this many tokens (default one million)
    models:
      gpt-4o-mini: {input: 0.15, output: 0.60}
      openai/gpt-4o: {input: 2.50, output: 10.00}   # provider/model: only for that provider

A model is looked up as `provider/model`, then `model`, then the longest key that the model name starts with
followed by `-` or `@` (so `gpt-4o-mini` prices the dated `gpt-4o-mini-2024-07-18` a provider reports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardrails.errors import OutguardError


class PriceTableError(OutguardError, ValueError):
    """A price table that cannot be loaded; the message names the file and the key."""


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, allow_inf_nan=False, description="Price of `per_tokens` prompt tokens")
    output: float = Field(ge=0, allow_inf_nan=False, description="Price of `per_tokens` completion tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(default="USD", min_length=1, max_length=10)
    per_tokens: int = Field(default=1_000_000, gt=0, description="The prices are for this many tokens")
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str) -> PriceTable:
        where = str(path)
        try:
            with open(path, encoding="utf-8") as fh:
                data: Any = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError) as exc:
            raise PriceTableError(f"{where}: cannot read the price table: {exc}") from exc
        try:
            return cls.model_validate(data if data is not None else {})
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "(top level)"
                problems.append(f"{where}: key {key!r}: {err['msg']}")
            raise PriceTableError("\n".join(problems)) from exc

    def price(self, provider: str | None, model: str | None) -> ModelPrice | None:
        if not model:
            return None
        found = self.models.get(f"{provider}/{model}") if provider else None
        if found is None:
            found = self.models.get(model)
        if found is None:
            prefixes = [k for k in self.models if model.startswith(k) and model[len(k) : len(k) + 1] in ("-", "@")]
            if prefixes:
                found = self.models[max(prefixes, key=len)]
        return found

    def cost(self, provider: str | None, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Estimated cost of one call, in `currency`; None when the model has no price."""
        price = self.price(provider, model)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / self.per_tokens
