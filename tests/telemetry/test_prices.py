"""The price table: lookups by provider/model, model and dated prefix; errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.telemetry import PriceTable, PriceTableError


def test_lookup_order_and_cost(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "currency: EUR\nmodels:\n  gpt-4o: {input: 2.5, output: 10}\n  gpt-4o-mini: {input: 0.15, output: 0.6}\n"
        "  azure/gpt-4o: {input: 3, output: 12}\n"
    )
    table = PriceTable.load(path)
    assert table.currency == "EUR"
    assert table.cost("openai", "gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("azure", "gpt-4o", 1_000_000, 0) == pytest.approx(3.0)
    # A dated snapshot takes the longest matching name: gpt-4o-mini, not gpt-4o.
    assert table.cost("openai", "gpt-4o-mini-2024-07-18", 0, 1_000_000) == pytest.approx(0.6)
    assert table.cost("openai", "gpt-4oxyz", 10, 10) is None  # a prefix must end at - or @
    assert table.cost("openai", None, 10, 10) is None


def test_per_tokens_unit() -> None:
    table = PriceTable.model_validate({"per_tokens": 1000, "models": {"m": {"input": 0.01, "output": 0.03}}})
    assert table.cost(None, "m", 2000, 1000) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("models:\n  m: {input: -1, output: 1}\n", "key 'models.m.input'"),
        ("models:\n  m: {input: 1, outptu: 1}\n", "key 'models.m.outptu'"),
        ("currency: USD\nper_token: 5\n", "key 'per_token'"),
        ("models: [1, 2\n", "cannot read"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(PriceTableError) as info:
        PriceTable.load(path)
    assert str(path) in str(info.value) and message in str(info.value)
