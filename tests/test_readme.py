"""The README and docs/ keep up with the code: the settings table is the one the settings'
docstrings give, the models table shows the cards' accuracy, every link resolves, and the README
stays short."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.card import CARD, ModelCard
from service.settings import Settings, env_names
from tests.conftest import MODELS, ROOT, SERVED_MODELS

README = (ROOT / "README.md").read_text(encoding="utf-8")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_settings_table_is_the_one_the_settings_docstrings_give() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/settings_table.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"| `{env_names(field)[0]}`" in OPERATIONS


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_models_table_shows_the_cards_test_accuracy(name: str) -> None:
    accuracy = ModelCard.read(MODELS / name / CARD).test.accuracy
    assert accuracy is not None
    row = next(line for line in README.splitlines() if line.startswith(f"| {name} |"))
    assert f"**{accuracy:.4f}**" in row


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (page.parent / target).exists(), target


def test_readme_stays_a_front_door() -> None:
    # What it is, the two commands, one example per endpoint family, models, links: the rest
    # belongs in docs/.
    assert len(README.splitlines()) <= 200
