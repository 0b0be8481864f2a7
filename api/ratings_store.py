"""The ratings store of a running application and the live view of the served model.

``current_model()`` hands every route a ``LiveRecommender`` when a store is
configured: the served model with the store's newer ratings and movies
merged in (see ``hybrid.live``). One view is kept per model object, so a
newly published version gets a fresh view and an old one is dropped with
its model.
"""

import logging
import threading
import weakref

from flask import current_app, jsonify, request

from api.errors import ApiError
from hybrid.live import LiveRecommender
from hybrid.store import StoreError, default_database_url, open_store

logger = logging.getLogger(__name__)

EXTENSION_KEY = "true_recommend.ratings_store"


def database_url(config):
    """Return the database URL of an application's settings, or None when it has no store.

    ``DATABASE`` wins; otherwise a model loaded from ``MODEL_DIR`` gets the
    SQLite file in that directory, which ``true-recommend retrain`` reads
    too. A model handed in as ``MODEL`` (tests, notebooks) gets no store
    unless ``DATABASE`` names one.
    """
    if config.get("DATABASE"):
        return config["DATABASE"]
    if config.get("MODEL") is None and config.get("MODEL_DIR"):
        return default_database_url(config["MODEL_DIR"])
    return None


class RatingsStore:
    """Owns the ``RatingStore`` of one application and its live views of the served models."""

    def __init__(self, url):
        self.store = None if url is None else open_store(url)
        self._views = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def init_app(self, app):
        app.extensions[EXTENSION_KEY] = self
        app.register_error_handler(StoreError, _database_unavailable)
        if self.store is not None:
            logger.info("ratings store: %s", self.store.display_url)

    def view(self, model):
        """Return the live view of ``model``, brought up to date with the store's movies."""
        if self.store is None:
            return model
        view = self._views.get(model)
        if view is None:
            with self._lock:
                view = self._views.get(model)
                if view is None:
                    view = LiveRecommender(model, self.store)
                    self._views[model] = view
        return view.refresh()


def _database_unavailable(error):
    # Every route reads the store, so an outage is a 503 that clients may
    # retry, not a 500; the details, which name the database, go to the log.
    logger.error("ratings database error in %s %s: %s", request.method, request.path, error)
    body = ApiError(503, "database_unavailable", "the ratings database is unavailable; try again later").to_dict()
    return jsonify(body), 503


def live_view(model):
    """Return ``model`` as the routes should see it: live when the application has a store."""
    extension = current_app.extensions.get(EXTENSION_KEY)
    return model if extension is None else extension.view(model)


def require_store():
    """Return the application's store, or raise 404 when it has none (write routes are then off)."""
    extension = current_app.extensions.get(EXTENSION_KEY)
    if extension is None or extension.store is None:
        raise ApiError(
            404,
            "not_found",
            "this route is disabled: no ratings database is configured (set TRUE_RECOMMEND_DATABASE or serve from a model directory)",
        )
    return extension.store
