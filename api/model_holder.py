"""The model a running application serves, loaded once per process."""

import logging
import threading

from flask import current_app

from api.ratings_store import live_view

from hybrid.model import HybridRecommender

logger = logging.getLogger(__name__)

EXTENSION_KEY = "true_recommend.model"


class ModelHolder:
    """Owns the ``HybridRecommender`` of one application.

    Either a fitted model is handed in (tests, notebooks) or the published
    version of ``model_dir`` is loaded on first use.
    """

    def __init__(self, model_dir=None, model=None):
        if model_dir is None and model is None:
            raise ValueError("ModelHolder needs a model_dir or a model")
        self.model_dir = model_dir
        self._model = model
        self._lock = threading.Lock()

    def init_app(self, app):
        app.extensions[EXTENSION_KEY] = self

    def get(self):
        """Return the served model, loading it on the first call."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = HybridRecommender.load(self.model_dir)
        return self._model

    @property
    def loaded(self):
        return self._model is not None


def current_model():
    """Return the model of the application handling the current request.

    With a ratings store it is the live view, which merges the store's
    newer ratings and movies into the answers.
    """
    return live_view(current_app.extensions[EXTENSION_KEY].get())
