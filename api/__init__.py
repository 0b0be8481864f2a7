"""The HTTP API: a Flask application factory with one blueprint per area."""

import os

from flask import Flask

from api.errors import register_error_handlers
from api.json_provider import OrjsonProvider
from api.model_holder import ModelHolder
from api.ratings_store import RatingsStore, database_url
from api.settings import DEFAULT_MODEL_DIR, load_settings


def default_model_dir():
    """Return the model directory: ``$TRUE_RECOMMEND_MODEL_DIR``, else ``./model``."""
    return os.environ.get("TRUE_RECOMMEND_MODEL_DIR") or DEFAULT_MODEL_DIR


def create_app(config=None):
    """Create the application.

    Parameters
    ----------
    config : dict, optional
        Values that win over the configuration file and the environment.
        ``MODEL`` hands in a fitted ``HybridRecommender`` directly; otherwise
        the published version of ``MODEL_DIR`` is loaded on first use.
        ``CONFIG_FILE`` names a TOML configuration file (default:
        ``$TRUE_RECOMMEND_CONFIG_FILE``).

    The settings, their defaults and their sources are listed in
    ``api.settings``: ``MODEL_DIR``, ``DATABASE`` (URL of the ratings store;
    by default the SQLite file ``ratings.sqlite3`` in ``MODEL_DIR``, and none
    for a model handed in as ``MODEL``), ``API_TOKEN`` (bearer token of the write
    and admin routes, which are off without one), ``MAX_N`` (largest ``n`` or
    ``limit``, default 100), ``MAX_RATINGS`` (ratings in one request, default
    500), ``MAX_MOVIE_IDS`` (ids in one predictions request, default 100),
    ``MAX_CONTENT_LENGTH`` (request body bytes, default 64 KiB; larger bodies
    get 413) and ``RELOAD_INTERVAL`` (seconds between checks for a newly
    published version, default 1).
    """
    overrides = dict(config or {})
    config_file = overrides.pop("CONFIG_FILE", None)

    # No static folder: the page's assets are served from memory (api.assets),
    # so no route of this application reads a file named by a request.
    app = Flask(__name__, static_folder=None)
    app.json = OrjsonProvider(app)
    app.config.update(MODEL=None)
    app.config.update(load_settings(config_file, overrides))

    # Titles keep their non-ASCII characters and keys keep the documented order.
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    register_error_handlers(app)

    from api import admin, assets, health, ingest, metrics, model_info, movies, openapi, recommendations, users, web

    metrics.init_app(app)
    holder = ModelHolder(
        model_dir=app.config["MODEL_DIR"],
        model=app.config["MODEL"],
        reload_interval=app.config["RELOAD_INTERVAL"],
    )
    holder.on_reload = metrics.record_reload
    holder.init_app(app)
    RatingsStore(database_url(app.config)).init_app(app)
    assets.init_app(app)

    app.register_blueprint(health.blueprint)
    app.register_blueprint(recommendations.blueprint)
    app.register_blueprint(movies.blueprint)
    app.register_blueprint(users.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(web.blueprint)
    app.register_blueprint(ingest.blueprint)
    app.register_blueprint(model_info.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(metrics.blueprint)
    return app
