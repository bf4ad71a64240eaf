"""The README and docs/ keep up with the code: the settings table is the one the settings'
docstrings give, the models table shows the cards' accuracy, every link resolves, and the README
stays short."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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


def readme_examples() -> list[tuple[str, str, str]]:
    """Each `curl ... -d '<body>'` of the README with the answer shown under it: (path, body,
    the comment lines)."""
    found = re.findall(
        r"curl -s localhost:8000(/\S+)(?:(?!curl).)*?-d '([^']*)'\n((?:#[^\n]*\n)+)",
        README,
        flags=re.S,
    )
    return [(path, body, comment) for path, body, comment in found]


PAIR = re.compile(r'"label":"(\w+)","score":([0-9.e-]+)')


@pytest.mark.parametrize(
    ("path", "body", "shown"),
    [e for e in readme_examples() if PAIR.search(e[2])],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else "",
)
def test_readme_examples_answer_what_the_readme_shows(
    client: TestClient, path: str, body: str, shown: str
) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    answered = PAIR.findall(response.text)
    rest = iter(answered)
    for label, score in PAIR.findall(shown):
        # Each shown pair is the next matching answer, its score as rounded in the README.
        decimals = len(score.split(".")[1]) if "." in score else 0
        assert any(
            a_label == label and abs(float(a_score) - float(score)) <= 0.5 * 10**-decimals
            for a_label, a_score in rest
        ), (label, score, answered)


def test_readme_error_example_answers_what_the_readme_shows(client: TestClient) -> None:
    (path, body, shown), *_ = [e for e in readme_examples() if '"error"' in e[2]]
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 404
    assert response.json() == json.loads(shown.removeprefix("# "))


def test_readme_v2_example_answers_what_the_readme_shows(client: TestClient) -> None:
    (path, body, shown), *_ = [e for e in readme_examples() if e[0].startswith("/v2/")]
    response = client.post(path, content=body)
    assert response.status_code == 200
    score = re.search(r'"FP32","shape":\[1\],"data":\[([0-9.]+)\]', shown)
    label = re.search(r'"BYTES","shape":\[1\],"data":\["(\w+)"\]', shown)
    assert score is not None
    assert label is not None
    outputs = {o["name"]: o["data"][0] for o in response.json()["outputs"]}
    assert outputs["label"] == label.group(1)
    assert outputs["score"] == pytest.approx(float(score.group(1)), abs=5e-5)
