"""Every example a person reads (the curl examples of the README and docs/api.md, the web page's
example reviews) gets the answer a person would give, from the model the service serves by
default."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
APP_JS = (ROOT / "service" / "static" / "app.js").read_text(encoding="utf-8")
PAGE_EXAMPLES = {
    "Loved it": "positive",
    "Hated it": "negative",
    "Ending decides": "negative",
    "Long review": "positive",
}


def readme_examples(route: str) -> list[tuple[dict[str, Any], str]]:
    """Each curl example of the README and docs/api.md posting to `route`: its JSON body and the
    answer shown under it."""
    pattern = re.compile(
        r"curl -s localhost:8000(?P<path>\S+)(?:(?!curl ).)*?-d '(?P<body>.*?)'\n"
        r"(?P<answer>(?:#[^\n]*\n)+)",
        re.S,
    )
    return [
        (json.loads(m["body"]), m["answer"])
        for m in pattern.finditer(README + "\n" + API_DOC)
        if re.fullmatch(route, m["path"])
    ]


def test_readme_has_examples_of_predict_compare_and_v2() -> None:
    assert len(readme_examples("/predict")) >= 2
    assert len(readme_examples("/predict/batch")) == 1
    assert len(readme_examples("/compare")) == 2
    assert len(readme_examples(r"/v2/models/\w+/infer")) == 2


def test_readme_predict_examples_give_the_answers_they_show(client: TestClient) -> None:
    for body, answer in readme_examples("/predict"):
        response = client.post("/predict", json=body)
        error = re.search(r'"error":\{"type":"(\w+)"', answer)
        if error:
            assert response.json()["error"]["type"] == error[1], body
            continue
        assert response.status_code == 200
        shown = re.search(r'"label":"(\w+)"', answer)
        assert shown is not None
        assert response.json()["label"] == shown[1], body
        assert f'"model":"{response.json()["model"]}"' in answer


def test_readme_batch_example_gives_the_labels_it_shows(client: TestClient) -> None:
    ((body, answer),) = readme_examples("/predict/batch")
    response = client.post("/predict/batch", json=body)
    assert response.status_code == 200
    labels = [p["label"] for p in response.json()["predictions"]]
    assert labels == re.findall(r'"label":"(\w+)"', answer)
    assert f'"model":"{response.json()["model"]}"' in answer


def test_readme_v2_examples_give_the_labels_they_show(client: TestClient) -> None:
    for path in ("rnn2", "ngram"):
        for body, answer in readme_examples(f"/v2/models/{path}/infer"):
            response = client.post(f"/v2/models/{path}/infer", json=body)
            assert response.status_code == 200
            labels = next(o for o in response.json()["outputs"] if o["name"] == "label")["data"]
            assert f'"data":{json.dumps(labels, separators=(",", ":"))}' in answer


def test_readme_explain_and_predict_examples_read_as_a_person_would(client: TestClient) -> None:
    """The README's own reviews, scored by the default model: the label a reader expects."""
    expected = {
        "A masterpiece. The cast is superb and the story moved me to tears; I loved every minute"
        " of it.": "positive",
        "Boring and far too long. The plot makes no sense and the acting is wooden. I wanted my"
        " money back.": "negative",
        "Great cast, but the film is a boring mess.": "negative",
        "Slow start, but I loved it in the end.": "positive",
        "The first hour is wonderful, but the ending is stupid and boring.": "negative",
        "A masterpiece, I loved it.": "positive",
        "A waste of time.": "negative",
    }
    for text, label in expected.items():
        assert text in README + API_DOC
        response = client.post("/predict", json={"text": text})
        assert response.json()["label"] == label, text


def page_examples() -> dict[str, str]:
    """The page's example reviews by name, their JavaScript string pieces joined."""
    found = re.findall(r'name: "([^"]+)",\s*text: ((?:"(?:[^"\\]|\\.)*"\s*\+?\s*)+),', APP_JS)
    return {
        name: "".join(json.loads(p) for p in re.findall(r'"(?:[^"\\]|\\.)*"', text))
        for name, text in found
    }


def test_page_examples_give_the_label_a_person_expects(client: TestClient) -> None:
    examples = page_examples()
    assert set(examples) == set(PAGE_EXAMPLES)
    for name, text in examples.items():
        response = client.post("/predict", json={"text": text})
        assert response.status_code == 200
        assert response.json()["label"] == PAGE_EXAMPLES[name], name


def test_readme_compare_example_shows_whether_the_models_agree(client: TestClient) -> None:
    for body, answer in readme_examples("/compare"):
        response = client.post("/compare", json=body)
        assert response.status_code == 200
        assert f'"agree":{json.dumps(response.json()["agree"])}' in answer
