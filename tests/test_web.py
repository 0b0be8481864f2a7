"""The web page at GET /, through Flask's test client: markup, settings and security headers."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from api.web import CONTENT_SECURITY_POLICY
from hybrid.catalogue import NO_YEAR

API_DIR = Path(__file__).resolve().parents[1] / "api"


def page_settings(html):
    match = re.search(r'<script id="page-settings" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no settings block"
    return json.loads(match.group(1))


def test_page_is_html_with_a_strict_content_security_policy(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY


def test_page_settings_describe_the_model(client, bundled_model):
    settings = page_settings(client.get("/").get_data(as_text=True))

    years = bundled_model.catalogue.years
    assert settings["genres"] == bundled_model.catalogue.genre_names
    assert settings["min_year"] == int(np.min(years[years != NO_YEAR]))
    assert settings["max_year"] == int(np.max(years[years != NO_YEAR]))
    assert settings["rating_scale"] == {"minimum": 0.5, "maximum": 5.0, "step": 0.5}
    assert settings["max_n"] == 100
    assert settings["data_name"] == "ml-latest-small"


def test_page_has_a_labelled_control_for_every_genre(client, bundled_model):
    html = client.get("/").get_data(as_text=True)

    for name in ("genres", "exclude_genres"):
        values = re.findall(rf'<label><input type="checkbox" name="{name}" value="([^"]+)"> ([^<]+)</label>', html)
        assert [value for value, _ in values] == bundled_model.catalogue.genre_names
        assert all(value == text.strip() for value, text in values)


def test_page_labels_its_inputs(client):
    html = client.get("/").get_data(as_text=True)

    for input_id in ("search-input", "min-year", "max-year"):
        assert f'id="{input_id}"' in html
        assert f'<label for="{input_id}">' in html


@pytest.mark.parametrize(("path", "mimetype"), [("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")])
def test_page_assets_are_served(client, path, mimetype):
    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == mimetype
    response.close()


def test_page_assets_reference_no_other_host():
    # A URL with a scheme, or a protocol-relative one, would make the browser
    # fetch from another host at run time.
    external = re.compile(r"""(https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)
    files = [*(API_DIR / "templates").glob("*.html"), *(API_DIR / "static").glob("*")]

    assert {path.name for path in files} >= {"index.html", "app.js", "style.css"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not external.search(text), f"{path.name} references another host: {external.search(text).group(0)}"
        assert "@import" not in text, path.name
