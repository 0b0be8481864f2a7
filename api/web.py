"""The web page at ``GET /``: search movies, rate them and see recommendations with reasons.

The page is one server-rendered template plus a plain script and style sheet
from ``api/static``. The script calls the JSON API of the same server
(``/movies``, ``POST /recommendations``, ``/movies/<id>/similar``), so the
page shows exactly what API clients get.
"""

import numpy as np
from flask import Blueprint, current_app, make_response, render_template

from api.model_holder import current_model
from hybrid.catalogue import NO_YEAR

blueprint = Blueprint("web", __name__)

# The page loads only its own script and style sheet and talks only to this
# server, so every source is 'self'. Data blocks (type="application/json")
# are not executed, so they need no script-src exception.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def page_settings(model, max_n):
    """Return what the page script needs to know about the model, as JSON values."""
    catalogue = model.catalogue
    years = catalogue.years[catalogue.years != NO_YEAR]
    minimum, maximum, step = model.rating_scale
    return {
        "genres": list(catalogue.genre_names),
        "min_year": int(np.min(years)) if years.size else None,
        "max_year": int(np.max(years)) if years.size else None,
        "rating_scale": {"minimum": minimum, "maximum": maximum, "step": step},
        "max_n": max_n,
        "model_version": model.info.get("version"),
        "data_name": model.info.get("data", {}).get("name"),
    }


@blueprint.get("/")
def index():
    """Render the page with the model's genres, years and rating scale."""
    settings = page_settings(current_model(), current_app.config["MAX_N"])
    response = make_response(render_template("index.html", settings=settings))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
