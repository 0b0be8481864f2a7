"""A published model plus everything the ratings store received after it was trained.

The database is the source of truth, shared by every server process. A
model records the store revision it was trained on: the last rating ``seq``
it saw. On each request for a user, ``LiveRecommender`` reads that user's
rows with a higher ``seq`` (one indexed query). When there are none, the
model scores the user with their learned factors as before. When there are
some, they are merged with the user's training ratings by the rules of
``current_ratings`` and the user is folded into every component (ALS, the
explicit MF and the content profile), so the next answer reflects a rating
whichever process stored it and whichever process serves the request.

Movies added through the store reach a process when the store's movie
revision changes: the process then builds, once, a copy of the model whose
catalogue and content matrix include them (``HybridRecommender.with_movies``).
"""

import logging
import threading

import numpy as np

from hybrid.model import OffScaleRatingError, UnknownMovieError
from hybrid.store import DuplicateMovieError

logger = logging.getLogger(__name__)


class MovieNotRatedError(LookupError):
    """Raised when a deletion names a rating the user does not have."""


def current_ratings(user_ids, movie_ids, ratings, timestamps, seq):
    """Return the positions of the rows that are the current ratings, by the store's rules.

    Each row is one rating or deletion (``ratings`` NaN) of a (user, movie)
    pair, and ``seq`` orders them. Ratings from a data file all take -1,
    before any store row. For each pair:

    - a deletion removes every row of the pair that came before it;
    - of the rows left, the one with the latest timestamp is the rating; on
      equal timestamps the higher ``seq`` wins, which is the duplicate rule
      of the data files.

    Every step is a vectorized sort, so this serves one user per request as
    well as a whole data set in the retrain pipeline.

    Returns
    -------
    ndarray of int64
        Positions of the current ratings, sorted by (user, movie).
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    ratings = np.asarray(ratings, dtype=np.float64)
    timestamps = np.asarray(timestamps, dtype=np.int64)
    seq = np.asarray(seq, dtype=np.int64)
    if user_ids.size == 0:
        return np.zeros(0, dtype=np.int64)

    # Rows of each pair together, in seq order.
    order = np.lexsort((seq, movie_ids, user_ids))
    sorted_users = user_ids[order]
    sorted_movies = movie_ids[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (sorted_users[1:] != sorted_users[:-1]) | (sorted_movies[1:] != sorted_movies[:-1])])
    )
    group = np.repeat(np.arange(starts.size), np.diff(np.append(starts, order.size)))

    # A row survives when it is a rating placed after the pair's last deletion.
    deleted = np.isnan(ratings[order])
    position = np.arange(order.size)
    last_deletion = np.maximum.reduceat(np.where(deleted, position, -1), starts)
    alive = ~deleted & (position > last_deletion[group])
    survivors = order[alive]
    if survivors.size == 0:
        return survivors.astype(np.int64)

    # Of each pair's survivors, the latest timestamp wins, then the higher seq.
    ranked = survivors[np.lexsort((seq[survivors], timestamps[survivors], movie_ids[survivors], user_ids[survivors]))]
    last_of_pair = np.ones(ranked.size, dtype=bool)
    last_of_pair[:-1] = (user_ids[ranked][1:] != user_ids[ranked][:-1]) | (movie_ids[ranked][1:] != movie_ids[ranked][:-1])
    return ranked[last_of_pair].astype(np.int64)


def model_revision(model, store):
    """Return the last rating ``seq`` of ``store`` that ``model`` was trained on.

    A model trained without the store, or from another database, counts
    from 0: every row of this store is newer than it.
    """
    recorded = (model.info or {}).get("store") or {}
    if recorded.get("store_id") != store.store_id:
        return 0
    return int(recorded.get("rating_revision", 0))


class LiveRecommender:
    """Run the queries of ``HybridRecommender`` with the store's newer ratings and movies merged in.

    Parameters
    ----------
    model : HybridRecommender
        The published version, which is never modified.
    store : RatingStore

    Attributes not defined here (``info``, ``rating_scale``, ``config`` ...)
    are those of the model with the store's movies added.
    """

    def __init__(self, model, store):
        self.base = model
        self.store = store
        self.revision = model_revision(model, store)
        self._model = model
        self._movie_revision = 0
        self._lock = threading.Lock()

    def __getattr__(self, name):
        # Only called for names this class does not define.
        model = self.__dict__.get("_model")
        if model is None:
            raise AttributeError(name)
        return getattr(model, name)

    @property
    def model(self):
        """The model with the store's movies added, as of the last ``refresh``."""
        return self._model

    # Movies -----------------------------------------------------------------

    def refresh(self):
        """Add the movies the store received since the last call; one cheap query when there are none."""
        revision = self.store.movie_revision()
        if revision == self._movie_revision:
            return self
        with self._lock:
            if revision != self._movie_revision:
                self._add_movies(self.store.movies(after=self._movie_revision), revision)
        return self

    def _add_movies(self, movies, revision):
        model = self._model
        new = [movie for movie in movies if movie.movie_id not in model.catalogue.movie_ids]
        if new:
            model = model.with_movies(
                [movie.movie_id for movie in new],
                [movie.title for movie in new],
                [movie.genres for movie in new],
                [movie.year for movie in new],
            )
            logger.info(
                "added %d movies from the ratings store to model version %s (movie revision %d)",
                len(new),
                model.info.get("version"),
                revision,
            )
        # Requests read self._model once, so they see either the old or the
        # new catalogue, never a mixture.
        self._model = model
        self._movie_revision = revision

    # Users ------------------------------------------------------------------------

    def history(self, user_id, model=None):
        """Return the user's current ratings as (movie indices, ratings, timestamps), or None.

        None means the store contains nothing newer than the model for this user,
        so the model's own data for the user is current. The indices are those
        of ``model``, by default the current ``model``; a request passes the
        model it captured, because a concurrent ``refresh`` may replace it.
        """
        model = self._model if model is None else model
        events = self.store.user_events(user_id, after=self.revision)
        if len(events) == 0:
            return None
        return self._merge(model, user_id, events)

    def _merge(self, model, user_id, events):
        user_index = model.user_index(user_id)
        if user_index is None:
            base_items = np.zeros(0, dtype=np.int64)
            base_ratings = np.zeros(0, dtype=np.float64)
            base_times = np.zeros(0, dtype=np.int64)
        else:
            base_items, base_ratings, base_times = model.training_history(user_index)

        # Rows naming a movie this model does not list cannot be scored. That
        # happens only when a retrain's data lost a movie the store lists.
        event_items = model.catalogue.movie_ids.indices_of(events.movie_ids)
        known = event_items >= 0
        if not known.all():
            logger.warning(
                "user %d: ignoring %d stored ratings of movies not in model version %s",
                user_id,
                int((~known).sum()),
                model.info.get("version"),
            )

        items = np.concatenate([base_items, event_items[known]])
        ratings = np.concatenate([np.asarray(base_ratings, dtype=np.float64), events.ratings[known]])
        times = np.concatenate([base_times, events.timestamps[known]])
        seq = np.concatenate([np.full(base_items.size, -1, dtype=np.int64), events.seq[known]])
        keep = current_ratings(np.zeros(items.size, dtype=np.int64), items, ratings, times, seq)
        return items[keep], ratings[keep].astype(np.float32), times[keep]

    def recommend(self, user_id, n=10, *, filters=None):
        """Recommend as ``HybridRecommender.recommend``, folding in the user's stored ratings."""
        model = self._model
        history = self.history(user_id, model)
        if history is None:
            return model.recommend(user_id, n, filters=filters)
        items, ratings, _ = history
        return model.recommend_history(items, ratings, n, filters=filters)

    def predict(self, user_id, movie_ids):
        """Predict as ``HybridRecommender.predict``; a user with stored ratings is folded in."""
        model = self._model
        history = self.history(user_id, model)
        if history is None:
            return model.predict(user_id, movie_ids)
        items, ratings, _ = history
        if items.size == 0:
            return model.predict_history(items, ratings, movie_ids), False
        return model.predict_history(items, ratings, movie_ids), True

    def user_ratings(self, user_id):
        """Return the user's current ratings, training data and store merged, newest first."""
        model = self._model
        history = self.history(user_id, model)
        if history is None:
            return model.user_ratings(user_id)
        return model.describe_history(*history)

    # Writes -------------------------------------------------------------------------

    def add_ratings(self, user_id, entries):
        """Check and store ``(movie_id, rating, timestamp or None)`` entries of one user; return the stored rows.

        Raises ``OffScaleRatingError`` naming the first rating off the scale and
        ``UnknownMovieError`` naming every movie id not in the catalogue, in
        the order of the entries. Nothing is stored then.
        """
        model = self.refresh()._model
        movie_ids = [entry[0] for entry in entries]
        ratings = [entry[1] for entry in entries]
        timestamps = [entry[2] for entry in entries]

        off_scale = ~model.rating_scale_contains(ratings)
        if off_scale.any():
            position = int(np.flatnonzero(off_scale)[0])
            raise OffScaleRatingError(
                f"ratings[{position}].rating {ratings[position]!r} for movie_id {movie_ids[position]} "
                f"is not on the rating scale {model.describe_rating_scale()}",
                position,
            )
        unknown = model.catalogue.movie_ids.indices_of(np.array(movie_ids, dtype=np.int64)) < 0
        if unknown.any():
            raise UnknownMovieError(list(dict.fromkeys(movie_ids[position] for position in np.flatnonzero(unknown))))

        stored = self.store.add_ratings(user_id, movie_ids, ratings, timestamps)
        logger.debug("stored %d ratings of user %d (last seq %d)", len(stored), user_id, int(stored.seq[-1]))
        return stored

    def delete_rating(self, user_id, movie_id):
        """Store the deletion of the user's current rating of ``movie_id`` and return that rating's description.

        Raises ``MovieNotRatedError`` when the user has no such rating.
        """
        model = self.refresh()._model
        history = self.history(user_id, model)
        if history is None:
            user_index = model.user_index(user_id)
            history = model.training_history(user_index) if user_index is not None else (np.zeros(0, dtype=np.int64),) * 3
        items, ratings, times = history
        movie_index = model.movie_index(movie_id)
        matches = np.flatnonzero(items == movie_index) if movie_index is not None else np.zeros(0, dtype=np.int64)
        if matches.size == 0:
            raise MovieNotRatedError(f"user {user_id} has no rating of movie_id {movie_id}")

        deleted = model.describe_history(items[matches], ratings[matches], times[matches])[0]
        stored = self.store.delete_rating(user_id, movie_id)
        logger.debug("deleted the rating of movie %d by user %d (seq %d)", movie_id, user_id, int(stored.seq[-1]))
        return deleted

    def add_movie(self, movie_id, title, genres, year):
        """Store a new movie and make it recommendable at once; raise ``DuplicateMovieError`` when its id is taken."""
        if movie_id in self.refresh()._model.catalogue.movie_ids:
            raise DuplicateMovieError(f"movie_id {movie_id} is already in the catalogue")
        self.store.add_movie(movie_id, title, genres, year)
        self.refresh()
        return self._model.catalogue.describe(self._model.movie_index(movie_id))

