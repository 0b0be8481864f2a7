"""The model a running application serves, and its replacement when a new version is published.

``MODEL_DIR/CURRENT`` names the published version. A process serving on its
own (the Flask test client, ``flask run``, any WSGI server) checks that file
at most every ``RELOAD_INTERVAL`` seconds and swaps in the new version
between requests. Under ``true-recommend serve`` the gunicorn master does the
checking and loading instead, then forks fresh workers (see ``api.server``),
and the workers hand reload requests over to it.

Each request pins the model it first touches (``current_model``), so a swap
in the middle of a request cannot mix two versions in one response.
"""

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g

from api.ratings_store import live_view
from hybrid.bundle import CURRENT_FILE, MANIFEST_FILE, VERSIONS_DIR, BundleError, current_version
from hybrid.model import HybridRecommender

logger = logging.getLogger(__name__)

EXTENSION_KEY = "true_recommend.model"
MODEL_VERSION_HEADER = "X-Model-Version"
_REQUEST_MODEL = "true_recommend_model"


class ReloadError(RuntimeError):
    """Raised when the published version cannot be loaded; the served model stays in place."""


@dataclass(frozen=True)
class ReloadOutcome:
    """Outcome of a reload.

    ``status`` is ``"reloaded"`` (this process now serves ``model_version``),
    ``"unchanged"`` (the published version is already served) or
    ``"requested"`` (the gunicorn master was asked to load ``model_version``).
    """

    status: str
    previous_version: str | None
    model_version: str | None


def load_model(path):
    """Load a model directory's published version and run each query once.

    The first query of each kind compiles the numba kernels (or reads them
    from numba's cache) and fills lazy caches, such as the folded titles of
    the search and the fold-in solver. Doing it here keeps that work out of
    the first requests and, in the gunicorn master, lets every worker
    inherit the result.
    """
    model = HybridRecommender.load(path)
    model.warm_up()
    return model


class ModelHolder:
    """Owns the ``HybridRecommender`` of one application and replaces it when a new version is published.

    Parameters
    ----------
    model_dir : path, optional
        Model directory whose published version is served.
    model : HybridRecommender, optional
        A fitted model to serve (tests, notebooks). The directory is then
        not watched, though an explicit ``reload`` still reads ``model_dir``.
    reload_interval : float
        Seconds between checks of ``MODEL_DIR/CURRENT``; 0 turns the checks off.
    """

    def __init__(self, model_dir=None, model=None, reload_interval=1.0):
        if model_dir is None and model is None:
            raise ValueError("ModelHolder needs a model_dir or a model")
        self.model_dir = model_dir
        self.reload_interval = reload_interval
        self._model = model
        self._lock = threading.Lock()
        self._watching = model is None and model_dir is not None and reload_interval > 0
        self._next_check = time.monotonic() + reload_interval
        self._failed_version = None
        self._delegate = None
        # Called with True or False after each attempt to load a new version
        # (create_app points it at the reload counter of api.metrics).
        self.on_reload = None

    def init_app(self, app):
        app.extensions[EXTENSION_KEY] = self
        app.after_request(_add_version_header)

    @property
    def loaded(self):
        return self._model is not None

    @property
    def version(self):
        """Version name of the served model, None before the first load or for an unsaved model."""
        model = self._model
        return None if model is None else model.info.get("version")

    def get(self):
        """Return the served model, loading it on the first call.

        While watching, at most once per ``reload_interval`` this also reads
        ``CURRENT`` and swaps in a newly published version first.
        """
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_model(self.model_dir)
                return self._model

        if self._watching and time.monotonic() >= self._next_check:
            self._reload_if_published()
            model = self._model
        return model

    def published_version(self):
        """Return the version that ``MODEL_DIR/CURRENT`` names, or None when nothing is published."""
        return current_version(self.model_dir)

    def new_version_published(self):
        """Return True when ``CURRENT`` names a version that is not served and has not failed to load."""
        try:
            published = self.published_version()
        except OSError as error:
            logger.error("cannot read the published version in %s: %s", self.model_dir, error)
            return False
        return published is not None and published != self.version and published != self._failed_version

    def reload(self):
        """Load the published version now, unless it is the one already served.

        Returns a ``ReloadOutcome``. Raises ``ReloadError`` when nothing is
        published or the version cannot be loaded; the served model is kept.
        """
        with self._lock:
            previous = self.version
            published = self._require_published()
            if published == previous:
                return ReloadOutcome("unchanged", previous, previous)

            model = self._load_checked(published)
            self._notify_reload(True)
            self._model = model
            self._failed_version = None
            version = model.info.get("version")
            logger.info("now serving model version %s (previous: %s)", version, previous)
            return ReloadOutcome("reloaded", previous, version)

    def delegate_reloads(self, request_reload):
        """Stop watching in this process and hand reloads to ``request_reload`` (a callable without arguments).

        Gunicorn workers call this: their master watches ``CURRENT``, loads
        the new version once and replaces the workers.
        """
        self._watching = False
        self._delegate = request_reload

    def request_reload(self):
        """Reload now, or check that the published version loads and hand the reload over.

        Returns a ``ReloadOutcome``; raises ``ReloadError`` like ``reload``.
        """
        if self._delegate is None:
            return self.reload()

        previous = self.version
        published = self._require_published()
        if published == previous:
            return ReloadOutcome("unchanged", previous, previous)

        # Loading the version here first lets the caller hear about a broken
        # bundle at once; the master would only log it. The check skips the
        # warm-up, which only the serving copy needs.
        self._load_checked(published, warm_up=False)
        self._delegate()
        logger.info("requested a reload to model version %s (serving %s)", published, previous)
        return ReloadOutcome("requested", previous, published)

    def _require_published(self):
        try:
            published = self.published_version()
        except OSError as error:
            raise ReloadError(f"cannot read the published version in {self.model_dir}: {error}; still serving {self.version}") from None
        if published is None:
            raise ReloadError(f"no published model in {self.model_dir}: CURRENT is missing")
        return published

    def _load_checked(self, published, warm_up=True):
        # The version is loaded by name, so that a publication between reading
        # CURRENT and loading cannot change which version this outcome names.
        version_dir = Path(self.model_dir) / VERSIONS_DIR / published
        try:
            if Path(published).name != published or published.startswith("."):
                raise BundleError(f"{Path(self.model_dir) / CURRENT_FILE} names {published!r}, which is not a version name")
            if not (version_dir / MANIFEST_FILE).is_file():
                raise BundleError(f"{Path(self.model_dir) / CURRENT_FILE} names version {published}, but {version_dir} contains no manifest")
            return load_model(version_dir) if warm_up else HybridRecommender.load(version_dir)
        # A bundle can be broken in many ways (a missing file, a bad array, a
        # manifest from another format). Whatever the cause, the running
        # model must stay and the error must reach the log and the caller.
        except Exception as error:
            self._failed_version = published
            self._notify_reload(False)
            logger.error(
                "cannot load model version %s from %s: %s: %s",
                published,
                self.model_dir,
                type(error).__name__,
                error,
                exc_info=not isinstance(error, BundleError),
            )
            raise ReloadError(f"cannot load model version {published}: {error}; still serving {self.version}") from None

    def _notify_reload(self, succeeded):
        if self.on_reload is not None:
            self.on_reload(succeeded)

    def _reload_if_published(self):
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + self.reload_interval
            if not self.new_version_published():
                return
        finally:
            self._lock.release()

        try:
            self.reload()
        except ReloadError:
            # Logged in _load_checked; the failed version is remembered, so it
            # is not retried until CURRENT changes again.
            pass


def current_holder():
    """Return the ``ModelHolder`` of the application handling the current request."""
    return current_app.extensions[EXTENSION_KEY]


def current_model():
    """Return the model of the current request.

    With a ratings store it is the live view, which merges the store's
    newer ratings and movies into the answers. The first call of a request
    pins the model in ``flask.g``, so every later call of the same request
    returns the same version, even after a swap.
    """
    model = g.get(_REQUEST_MODEL)
    if model is None:
        model = live_view(current_holder().get())
        setattr(g, _REQUEST_MODEL, model)
    return model


def _add_version_header(response):
    model = g.get(_REQUEST_MODEL)
    if model is not None and model.info.get("version"):
        response.headers[MODEL_VERSION_HEADER] = model.info["version"]
    return response
