"""The README keeps up with the code: every setting documented, the reproduction table current."""

from __future__ import annotations

import json

import pytest

from service.settings import Settings
from tests.conftest import CHAPTER_MODELS, MODELS, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ALIASES = {"host": "HOST", "port": "PORT", "workers": "WEB_CONCURRENCY"}


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    name = ALIASES.get(field, f"SENTIMENT_{field.upper()}")
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("name", CHAPTER_MODELS)
def test_reproduction_table_shows_the_cards_test_accuracy(name: str) -> None:
    card = json.loads((MODELS / name / "card.json").read_text())
    row = next(line for line in README.splitlines() if line.startswith(f"| {name} |"))
    assert f"**{card['test']['accuracy']:.4f}**" in row
