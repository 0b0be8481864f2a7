"""The web page in a real browser: Playwright drives headless Chromium against gunicorn.

The server is started as README.md describes (``true-recommend serve``) on a
free port, with a model directory in a temporary folder, so it trains on the
bundled data first. Screenshots are kept in ``test-artifacts/`` at the
repository root, or in ``$TRUE_RECOMMEND_TEST_ARTIFACTS`` when that is set.

Playwright's own browser download is not used: the test runs the system's
Chromium (Debian package ``chromium``), or the binary named by
``$TRUE_RECOMMEND_CHROMIUM``, and skips with the reason when there is none.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the Python package playwright is not installed: pip install '.[test]'"
)

CHROMIUM = os.environ.get("TRUE_RECOMMEND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: apt-get install chromium, or set TRUE_RECOMMEND_CHROMIUM to its path",
)

REPOSITORY = Path(__file__).resolve().parents[1]
ARTIFACT_DIR = Path(os.environ.get("TRUE_RECOMMEND_TEST_ARTIFACTS", REPOSITORY / "test-artifacts"))

# Headless Chromium that never contacts a host of its own accord.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
SERVER_START_SECONDS = 240
WAIT_MS = 30_000

RATED = [
    # (search query, title exactly as in the data, accessible name of the star)
    ("toy story", "Toy Story (1995)", "5 stars"),
    ("matrix", "Matrix, The (1999)", "4.5 stars"),
    ("amelie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "4 stars"),
]
RATED_IDS = {1, 2571, 4973}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(model_dir, port):
    script = Path(sys.executable).with_name("true-recommend")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from api.cli import main; main()"]
    return [*command, "serve", "--model-dir", str(model_dir), "--port", str(port), "--workers", "1"]


def wait_for_health(base_url, server):
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}:\n{server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
                if json.load(response)["status"] == "ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer /health within {SERVER_START_SECONDS} s")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    """Base URL of a gunicorn server that trained its model on the bundled data."""
    model_dir = tmp_path_factory.mktemp("browser") / "model"
    port = free_port()
    server = subprocess.Popen(
        serve_command(model_dir, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()


@pytest.fixture()
def page(tmp_path):
    """A page of a fresh headless Chromium profile, with its console errors and requests recorded."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        context.set_default_timeout(WAIT_MS)
        browser_page = context.new_page()
        browser_page.console_errors = []
        browser_page.requested_urls = []
        browser_page.on("console", lambda message: message.type == "error" and browser_page.console_errors.append(message.text))
        browser_page.on("pageerror", lambda error: browser_page.console_errors.append(str(error)))
        browser_page.on("request", lambda request: browser_page.requested_urls.append(request.url))
        try:
            yield browser_page
        finally:
            context.close()


def recommendation_status(page):
    return page.locator("#recommendations-status")


def recommended_ids(page):
    return [int(value) for value in page.locator("#recommendations > li").evaluate_all("items => items.map(item => item.dataset.movieId)")]


def search_and_rate(page, query, title, stars):
    page.get_by_label("Search by title").fill(query)
    group = page.locator("#search-results").get_by_role("group", name=f"Your rating of {title}")
    group.get_by_role("radio", name=stars, exact=True).check()
    return group


def test_page_search_rate_recommend_and_filter(base_url, page):
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base_url}/")
    sync_api.expect(recommendation_status(page)).to_have_text("No ratings yet: the 10 most popular movies.")
    assert len(recommended_ids(page)) == 10

    # Rate two movies with the pointer and one with the keyboard alone.
    for query, title, stars in RATED[:2]:
        search_and_rate(page, query, title, stars)
    query, title, stars = RATED[2]
    page.get_by_label("Search by title").fill(query)
    group = page.locator("#search-results").get_by_role("group", name=f"Your rating of {title}")
    group.get_by_role("radio", name="0.5 stars", exact=True).focus()
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    sync_api.expect(group.get_by_role("radio", name=stars, exact=True)).to_be_checked()

    sync_api.expect(recommendation_status(page)).to_have_text("10 recommendations from 3 ratings.")
    ratings_list = page.get_by_role("list", name="Movies you rated")
    sync_api.expect(ratings_list.get_by_role("listitem")).to_have_count(3)
    for _, title, stars in RATED:
        sync_api.expect(ratings_list.get_by_role("group", name=f"Your rating of {title}").get_by_role("radio", name=stars, exact=True)).to_be_checked()

    recommended = recommended_ids(page)
    assert len(recommended) == 10
    assert len(set(recommended)) == 10
    assert not RATED_IDS & set(recommended)
    reasons = page.locator("#recommendations .reason").all_inner_texts()
    assert len(reasons) == 10
    # With three ratings the default cold weights apply, and RP3beta ties the
    # popular picks to The Matrix.
    assert any(reason.startswith("Because you rated Matrix, The (1999) highly (4.5 stars)") for reason in reasons), reasons
    components = page.locator("#recommendations > li").first.locator(".components dt").all_inner_texts()
    assert components == ["Rated together", "Rated by the same people", "Content", "Popularity", "Predicted rating"]

    # Keep only comedies.
    page.locator("summary", has_text="Only these genres").click()
    page.get_by_role("group", name="Only these genres").get_by_role("checkbox", name="Comedy", exact=True).check()
    sync_api.expect(recommendation_status(page)).to_have_text("10 recommendations from 3 ratings. Filters: only Comedy.")
    filtered = recommended_ids(page)
    assert len(filtered) == 10
    assert not RATED_IDS & set(filtered)
    for meta in page.locator("#recommendations .meta").all_inner_texts():
        assert "Comedy" in meta.split(" · ")[-1].split(", "), meta

    # Fold the genre list away so that the screenshot shows more recommendations.
    page.locator("summary", has_text="Only these genres").click()
    page.screenshot(path=str(ARTIFACT_DIR / "web-desktop.png"))
    page.screenshot(path=str(ARTIFACT_DIR / "web-desktop-full.png"), full_page=True)

    # A phone-sized screen: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACT_DIR / "web-phone.png"), full_page=True)

    assert page.console_errors == []
    assert all(url.startswith(base_url) or url.startswith("data:") for url in page.requested_urls), page.requested_urls


def test_page_controls_all_have_accessible_names(base_url, page):
    page.goto(f"{base_url}/")
    search_and_rate(page, *RATED[0])
    sync_api.expect(recommendation_status(page)).to_have_text("10 recommendations from 1 rating.")

    unnamed = page.evaluate(
        """() => [...document.querySelectorAll("input, select, button")]
            .filter(control => !(control.labels && control.labels.length) && !control.getAttribute("aria-label")
                    && !control.textContent.trim())
            .map(control => control.outerHTML)"""
    )
    assert unnamed == []


def test_similar_movies_open_from_a_recommendation_and_close_with_escape(base_url, page):
    page.goto(f"{base_url}/")
    search_and_rate(page, *RATED[0])
    sync_api.expect(recommendation_status(page)).to_have_text("10 recommendations from 1 rating.")

    page.locator("#search-results").get_by_role("button", name="Similar movies to Toy Story (1995)").click()
    heading = page.get_by_role("heading", name="Similar to Toy Story (1995)")
    sync_api.expect(heading).to_be_focused()
    sync_api.expect(page.locator("#similar-status")).to_have_text("10 movies similar to Toy Story (1995).")
    assert page.locator("#similar > li").first.locator(".title").inner_text() == "Toy Story 2 (1999)"

    page.keyboard.press("Escape")
    sync_api.expect(page.locator("#similar-panel")).to_be_hidden()
    sync_api.expect(page.locator("#search-results").get_by_role("button", name="Similar movies to Toy Story (1995)")).to_be_focused()


def test_contradictory_years_show_the_api_error(base_url, page):
    page.goto(f"{base_url}/")
    sync_api.expect(recommendation_status(page)).to_have_text("No ratings yet: the 10 most popular movies.")

    page.get_by_label("From year").fill("2000")
    page.get_by_label("To year").fill("1990")
    page.get_by_label("To year").press("Enter")

    sync_api.expect(recommendation_status(page)).to_have_text(
        "Could not update the recommendations: filters.min_year 2000 is greater than filters.max_year 1990"
    )
