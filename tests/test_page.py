"""The web page at /, end to end in headless Chromium (the system's or Playwright's: `make browser`
finds or installs one) against the real server: type a review, click Analyze, read every model's
score."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from harness import MISSING_CHROMIUM, find_chromium, live_service
from service.routes.page import STATIC_DIR
from tests.conftest import CHAPTER_MODELS, ROOT

# Without the background-networking flags Chromium calls Google's hosts at every start.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
REVIEW = (
    "The first hour is wonderful, with a great cast and a clever script. "
    "Then it falls apart: the ending is stupid and boring, a waste of a good idea."
)


def post(url: str, body: object) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def served_models(server: str) -> dict[str, int]:
    """Each served model's name and input length (another model may join the chapter's four)."""
    with urllib.request.urlopen(f"{server}/models", timeout=10) as response:
        return {m["name"]: m["input_length"] for m in json.loads(response.read())["models"]}


def explainable_models(server: str) -> list[str]:
    """The served models whose words `explain` can weigh."""
    with urllib.request.urlopen(f"{server}/models", timeout=10) as response:
        return [m["name"] for m in json.loads(response.read())["models"] if m["explainable"]]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_service() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # A failure, not a skip: a missing browser is a missing dependency.
    chromium = find_chromium()
    assert chromium is not None, MISSING_CHROMIUM
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def analyze(page: Page) -> dict[str, float]:
    """Click Analyze, wait until every model's card has its score, and read the scores."""
    page.click("#analyze")
    page.wait_for_function(
        "(() => { const cards = [...document.querySelectorAll('.model-result')];"
        " return cards.length > 0 && cards.every((c) => c.dataset.score !== undefined); })()"
    )
    cards = page.locator(".model-result")
    return {
        str(cards.nth(i).get_attribute("data-model")): float(
            str(cards.nth(i).get_attribute("data-score"))
        )
        for i in range(cards.count())
    }


@pytest.mark.slow
def test_page_scores_every_model_as_compare_does_without_outside_requests(
    page: Page, server: str
) -> None:
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector(".model-result")
    models = served_models(server)

    page.fill("#review", REVIEW)
    shown = analyze(page)

    compared = post(f"{server}/compare", {"text": REVIEW})
    assert shown == {p["model"]: p["score"] for p in compared["predictions"]}
    assert set(shown) == set(models)
    explainable = explainable_models(server)
    seen = page.locator(".model-result .word:not(.cut)")
    assert seen.count() == sum(min(29, models[name]) for name in explainable)  # 29 words
    # A model without word contributions (minilm) says so instead of showing words.
    notes = page.locator(".model-result .note")
    assert notes.count() == len(models) - len(explainable)
    assert all("not available" in n for n in notes.all_inner_texts())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    assert requested
    assert all(url.startswith(f"{server}/") for url in requested), requested
    assert errors == []


@pytest.mark.slow
def test_page_greys_out_the_words_before_the_window_of_a_long_review(
    page: Page, server: str
) -> None:
    page.goto(server)
    page.wait_for_selector(".model-result")
    text = " ".join(["boring"] * 300 + ["a", "wonderful", "film", "that", "i", "loved"])
    page.fill("#review", text)
    analyze(page)

    explained = post(f"{server}/predict", {"text": text, "model": "ff", "explain": True})
    card = page.locator('.model-result[data-model="ff"]')
    more = card.locator("button.more")
    hidden = explained["truncated"] - 12
    assert more.inner_text() == f"… {hidden} earlier words not seen"
    assert card.locator(".word.cut:visible").count() == 12
    assert card.locator(".word:not(.cut)").count() == 20
    more.click()
    assert card.locator(".word.cut:visible").count() == explained["truncated"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-long-review.png"), full_page=True)


@pytest.mark.slow
def test_page_example_buttons_fill_the_review_and_score_it(page: Page, server: str) -> None:
    page.goto(server)
    page.wait_for_selector(".example")
    page.locator(".example").first.click()
    page.wait_for_function(
        f"document.querySelectorAll('.model-result[data-score]').length === "
        f"{len(served_models(server))}"
    )
    assert page.input_value("#review")
    assert page.locator("#agreement").is_visible()


def test_page_and_its_assets_are_served_with_no_outside_urls(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for needle in ('id="review"', 'id="analyze"', "/static/app.js", "/static/style.css"):
        assert needle in html
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


@pytest.mark.slow
def test_page_asks_for_the_api_key_of_a_protected_service(browser: Browser) -> None:
    with live_service(env={"SENTIMENT_API_KEY": "s3cret"}) as url:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        page.wait_for_selector("#api-key", state="visible")
        assert "API key" in page.inner_text("#status")
        page.fill("#api-key", "s3cret")
        page.fill("#review", REVIEW)
        shown = analyze(page)
        assert set(CHAPTER_MODELS) <= set(shown)
        context.close()


@pytest.mark.slow
def test_docs_render_every_route_without_outside_requests(page: Page, server: str) -> None:
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/predict", "/predict/batch", "/compare", "/models"} <= paths
    assert all(url.startswith(f"{server}/") for url in requested), requested
    assert errors == []
