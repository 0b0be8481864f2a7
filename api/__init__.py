"""The HTTP API: a Flask application factory with one blueprint per area."""

import os

from flask import Flask

from api.errors import register_error_handlers
from api.model_holder import ModelHolder
from api.ratings_store import RatingsStore, database_url

DEFAULT_MODEL_DIR = "model"


def default_model_dir():
    """Return the model directory: ``$TRUE_RECOMMEND_MODEL_DIR``, else ``./model``."""
    return os.environ.get("TRUE_RECOMMEND_MODEL_DIR", DEFAULT_MODEL_DIR)


def create_app(config=None):
    """Create the application.

    Parameters
    ----------
    config : dict, optional
        Overrides of the settings below. ``MODEL`` hands in a fitted
        ``HybridRecommender`` directly; otherwise the published version of
        ``MODEL_DIR`` is loaded.

    Settings (also read from environment variables prefixed ``TRUE_RECOMMEND_``):
    ``MODEL_DIR``, ``DATABASE`` (URL of the ratings store; by default the
    SQLite file ``ratings.sqlite3`` in ``MODEL_DIR``, and none for a model
    handed in as ``MODEL``), ``API_TOKEN`` (bearer token of write and admin
    routes, which are off without one), ``MAX_N`` (largest ``n`` or ``limit``, default 100),
    ``MAX_RATINGS`` (ratings in one request, default 500), ``MAX_MOVIE_IDS``
    (ids in one predictions request, default 100) and ``MAX_CONTENT_LENGTH``
    (request body bytes, default 64 KiB; larger bodies get 413).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        MODEL_DIR=default_model_dir(),
        MODEL=None,
        DATABASE=None,
        API_TOKEN=None,
        MAX_N=100,
        MAX_RATINGS=500,
        MAX_MOVIE_IDS=100,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.from_prefixed_env("TRUE_RECOMMEND")
    if config:
        app.config.update(config)

    # Titles keep their non-ASCII characters and keys keep the documented order.
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    register_error_handlers(app)
    ModelHolder(model_dir=app.config["MODEL_DIR"], model=app.config["MODEL"]).init_app(app)
    RatingsStore(database_url(app.config)).init_app(app)

    from api import health, ingest, model_info, movies, openapi, recommendations, users, web

    app.register_blueprint(health.blueprint)
    app.register_blueprint(recommendations.blueprint)
    app.register_blueprint(movies.blueprint)
    app.register_blueprint(users.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(web.blueprint)
    app.register_blueprint(ingest.blueprint)
    app.register_blueprint(model_info.blueprint)
    return app
