"""The hybrid recommender: trains every component and serves every query.

The server, the command line and offline scripts all use this one class::

    from hybrid import HybridRecommender, load_bundled
    model = HybridRecommender().fit(load_bundled())
    model.recommend(1, n=10)
    model.recommend_for_ratings([(1, 5.0), (2571, 4.5)], n=10)

Components and the blend are described in ``hybrid.blend``; the matrices are
users x items, with item ``k`` the ``k``-th movie of the catalogue.
"""

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from collaborative.als import ImplicitALS
from collaborative.ease import EASE
from collaborative.popularity import Popularity
from collaborative.rp3beta import RP3Beta
from collaborative.sgd_mf import ExplicitMF
from content.tfidf import ContentModel
from hybrid.blend import COMPONENTS, blend_many, blend_scores, candidate_statistics, standardize_many, top_n, top_n_many
from hybrid.bundle import read_version, write_version
from hybrid.catalogue import NO_YEAR, Catalogue
from hybrid.config import HybridConfig
from hybrid.ids import IdIndex
from hybrid.reasons import explain

logger = logging.getLogger(__name__)

POPULARITY_FALLBACK = "popularity"

# Engine name recorded in bundles trained by ``fit``.
SINGLE_MACHINE_ENGINE = "single-machine"

# Memory for the precomputed ALS explanation factors of training users
# (users x factors^2 float64): 32 KiB per user at 64 factors, so 64 MiB
# covers 2,048 users. Larger data sets build each user's factor per request.
EXPLANATION_FACTORS_MAX_BYTES = 64 * 2**20

# Memory for the precomputed EASE scores of training users (users x covered
# movies float32): 12 KiB per user with 3,000 covered movies, so 64 MiB
# covers about 5,500 users. Larger data sets score EASE per request.
EASE_USER_SCORES_MAX_BYTES = 64 * 2**20

# Largest number of training users whose score statistics warm_up computes.
# Each user took about 0.5 ms on the bundled data, so this limit costs about
# 5 s. With more users, each request computes its own.
USER_STATISTICS_MAX_USERS = 10_000


class NotFittedError(RuntimeError):
    """Raised when a query reaches a model that was neither fitted nor loaded."""


class OffScaleRatingError(ValueError):
    """Raised when a rating is not on the model's rating scale; ``position`` is its entry in the input."""

    def __init__(self, message, position):
        super().__init__(message)
        self.position = position


class UnknownMovieError(KeyError):
    """Raised when a query names movie ids that are not in the catalogue."""

    def __init__(self, movie_ids):
        self.movie_ids = list(movie_ids)
        super().__init__(f"unknown movie_id {', '.join(map(str, self.movie_ids))}")

    def __str__(self):
        return self.args[0]


@dataclass(frozen=True)
class Filters:
    """Restrictions on which movies may be recommended.

    ``genres`` keeps movies with at least one of the genres, and
    ``exclude_genres`` drops movies with any of them. The year bounds are
    inclusive, and a movie with no known year fails any year bound.
    """

    genres: tuple = ()
    exclude_genres: tuple = ()
    min_year: int | None = None
    max_year: int | None = None


@dataclass
class Recommendations:
    """Result of a recommendation query.

    ``fallback`` is ``"popularity"`` when the user had no usable ratings and
    the list is the most popular movies; ``weights`` are the blend weights
    used; ``unknown_movie_ids`` lists rated movies that were not in the
    catalogue and were ignored. Each item's ``reason`` names the liked movie
    that explains it (see ``hybrid.reasons``), or is None.
    """

    items: list
    n_ratings: int
    weights: dict
    fallback: str | None = None
    unknown_movie_ids: list = field(default_factory=list)


def latest_ratings(ratings):
    """Return ``{movie_id: rating}`` keeping, for a movie rated more than once, its latest rating.

    Entries are ``(movie_id, rating)`` or ``(movie_id, rating, timestamp)``.
    The higher timestamp wins; when either timestamp is missing or they are
    equal, the later entry wins. This is the same policy as for duplicate
    rows in a ratings file.
    """
    latest = {}
    for entry in ratings:
        movie_id, rating = entry[0], entry[1]
        timestamp = entry[2] if len(entry) > 2 else None
        previous = latest.get(movie_id)
        if previous is None or previous[0] is None or timestamp is None or timestamp >= previous[0]:
            latest[movie_id] = (timestamp, rating)
    return {movie_id: rating for movie_id, (_, rating) in latest.items()}


def build_user_items(rows, columns, ratings, timestamps, shape):
    """Return the users x items CSR matrix of ratings and the timestamps aligned with its data.

    Each (row, column) pair must occur once. Column indices come out sorted
    within each row, which the models and the bundle rely on.
    """
    # Sorting by (row, column) once builds the CSR arrays directly, without
    # the COO copies of scipy, and keeps the timestamps aligned with them.
    # One int64 key sorts about three times faster than np.lexsort on two
    # (1.8 s against 5.8 s for 20 million ratings).
    if shape[0] * shape[1] < np.iinfo(np.int64).max:
        order = np.argsort(np.asarray(rows, dtype=np.int64) * shape[1] + columns, kind="stable")
    else:
        order = np.lexsort((columns, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    user_items = sp.csr_matrix(
        (
            np.asarray(ratings, dtype=np.float32)[order],
            np.asarray(columns)[order].astype(np.int32),
            indptr,
        ),
        shape=shape,
    )
    return user_items, np.asarray(timestamps, dtype=np.int64)[order]


def _check_n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


class HybridRecommender:
    """Collaborative, content and popularity scores blended per user.

    Parameters
    ----------
    config : HybridConfig, optional
        Hyperparameters and blend weights; the defaults when omitted.

    Attributes (set by ``fit`` or ``load``)
    ----------------------------------------
    users : IdIndex
        External user id of each matrix row.
    catalogue : Catalogue
        Movie ids, titles, genres and years of each matrix column.
    user_items : scipy.sparse.csr_matrix
        Training ratings, users x items.
    rating_times : ndarray of int64
        Timestamp of each stored rating, aligned with ``user_items.data``.
    rating_scale : tuple of (minimum, maximum, step)
    als, ease, rp3beta, mf, content, popularity : the fitted components
    info : dict
        Where the model came from: data set, counts, training time, version.
    """

    def __init__(self, config=None):
        self.config = config if config is not None else HybridConfig()
        self.catalogue = None

    # Training -------------------------------------------------------------

    def fit(self, dataset, *, show_progress=False):
        """Train every component on a ``hybrid.data.Dataset`` and return self."""
        timings = {}
        started = time.perf_counter()

        self._index(dataset)
        timings["index"] = time.perf_counter() - started
        ratings = self.user_items
        logger.info(
            "training on %s: %d ratings, %d users, %d movies",
            dataset.name,
            ratings.nnz,
            len(self.users),
            len(self.catalogue),
        )

        for name, message in (
            ("popularity", None),
            ("als", "fitting implicit ALS"),
            ("ease", "fitting the EASE item-item model"),
            ("rp3beta", "fitting the RP3beta random-walk item-item model"),
            ("mf", "fitting explicit matrix factorization by SGD"),
        ):
            step = time.perf_counter()
            if message:
                logger.info(message)
            self._fit_component(name, show_progress)
            timings[name] = time.perf_counter() - step

        step = time.perf_counter()
        self._fit_content(dataset.tags)
        timings["content"] = time.perf_counter() - step

        timings["total"] = time.perf_counter() - started
        self._finish(dataset.name, dataset.tags, timings)
        return self

    @classmethod
    def from_components(cls, config, dataset, user_ids, user_items, rating_times, als, mf, timings, engine):
        """Build a model around collaborative components trained elsewhere, such as on Spark.

        Popularity, EASE, RP3beta and content are fitted here, as ``fit`` fits them.

        Parameters
        ----------
        config : HybridConfig
        dataset : hybrid.data.Dataset
            Movies, tags, rating scale and name; its ``ratings`` are not read
            and may be empty.
        user_ids : ndarray of int64
            External id of each row of ``user_items``.
        user_items : scipy.sparse.csr_matrix
            Training ratings, users x items, with sorted column indices.
        rating_times : ndarray of int64
            Timestamp of each stored rating, aligned with ``user_items.data``.
        als : ImplicitALS
        mf : ExplicitMF
            Fitted on ``user_items``: one factor row per user and per movie.
        timings : dict of str to float
            Seconds spent in each training step so far.
        engine : dict
            What trained the components, for example
            ``{"name": "spark", "spark_version": "4.0.1"}``; saved in the manifest.
        """
        model = cls(config)
        model._set_catalogue(dataset)
        model.users = IdIndex(user_ids)
        if user_items.shape != (len(model.users), len(model.catalogue)):
            raise ValueError(
                f"user_items has shape {user_items.shape}, expected ({len(model.users)}, {len(model.catalogue)}) "
                "for the users and the movies of the catalogue"
            )
        model.user_items = user_items
        model.rating_times = rating_times
        model.als = als
        model.mf = mf

        timings = dict(timings)
        step = time.perf_counter()
        model.popularity = Popularity(**config.popularity).fit(user_items)
        timings["popularity"] = time.perf_counter() - step

        step = time.perf_counter()
        model._fit_component("ease", show_progress=False)
        timings["ease"] = time.perf_counter() - step

        step = time.perf_counter()
        model._fit_component("rp3beta", show_progress=False)
        timings["rp3beta"] = time.perf_counter() - step

        step = time.perf_counter()
        model._fit_content(dataset.tags)
        timings["content"] = time.perf_counter() - step

        timings["total"] = sum(seconds for name, seconds in timings.items() if name != "total")
        model._finish(dataset.name, dataset.tags, timings, engine)
        return model

    def _fit_content(self, tags):
        logger.info("fitting the TF-IDF content model")
        self.content = ContentModel(**self.config.content).fit(
            self.catalogue.titles,
            self.catalogue.genres,
            [None if year == NO_YEAR else int(year) for year in self.catalogue.years],
            self._tags_by_movie(tags),
            mean_rating=float(self.user_items.data.mean()),
        )

    def _finish(self, name, tags, timings, engine=None):
        self.info = {
            "data": {
                "name": name,
                "ratings": int(self.user_items.nnz),
                "users": len(self.users),
                "movies": len(self.catalogue),
                "tags": 0 if tags is None else len(tags),
            },
            "training_seconds": {step: round(seconds, 3) for step, seconds in timings.items()},
            "engine": engine if engine is not None else {"name": SINGLE_MACHINE_ENGINE},
            "version": None,
        }
        self._prepare()
        logger.info("training finished in %.1f s", timings["total"])

    # Components fitted on the ratings matrix alone, which ``fit_component`` can refit.
    MATRIX_COMPONENTS = ("popularity", "als", "ease", "rp3beta", "mf")

    def fit_component(self, name, params=None, *, show_progress=False):
        """Refit one component on the training ratings, with new hyperparameters when given.

        Offline tuning uses this to try settings of one component without
        refitting the others. ``name`` is one of ``MATRIX_COMPONENTS``;
        ``params`` replaces that section of ``config``, which is copied first.
        Returns self.
        """
        self._check_fitted()
        if name not in self.MATRIX_COMPONENTS:
            raise ValueError(f"cannot refit component {name!r}; expected one of {list(self.MATRIX_COMPONENTS)}")
        if params is not None:
            self.config = dataclasses.replace(self.config, **{name: dict(params)})
        self._fit_component(name, show_progress)
        self._prepare()
        return self

    def _fit_component(self, name, show_progress):
        ratings = self.user_items
        seed = self.config.random_state
        if name == "popularity":
            self.popularity = Popularity(**self.config.popularity).fit(ratings)
        elif name == "als":
            self.als = ImplicitALS(**self.config.als, random_state=seed, show_progress=show_progress).fit(ratings)
        elif name == "ease":
            self.ease = EASE(**self.config.ease).fit(ratings)
        elif name == "rp3beta":
            self.rp3beta = RP3Beta(**self.config.rp3beta, random_state=seed).fit(ratings)
        elif name == "mf":
            minimum, maximum, _ = self.rating_scale
            self.mf = ExplicitMF(
                **self.config.mf,
                rating_range=(minimum, maximum),
                random_state=seed,
                show_progress=show_progress,
            ).fit(ratings)

    def _set_catalogue(self, dataset):
        movies = dataset.movies
        years = movies["year"].astype("Int64").fillna(NO_YEAR).to_numpy(dtype=np.int32)
        self.catalogue = Catalogue(
            IdIndex(movies["movie_id"].to_numpy(dtype=np.int64)),
            movies["title"].tolist(),
            movies["genres"].tolist(),
            years,
        )
        self.rating_scale = (
            float(dataset.rating_scale.minimum),
            float(dataset.rating_scale.maximum),
            None if dataset.rating_scale.step is None else float(dataset.rating_scale.step),
        )

    def _index(self, dataset):
        self._set_catalogue(dataset)
        ratings = dataset.ratings
        user_ids = ratings["user_id"].to_numpy(dtype=np.int64)
        self.users = IdIndex(np.unique(user_ids))
        rows = self.users.indices_of(user_ids)
        columns = self.catalogue.movie_ids.indices_of(ratings["movie_id"].to_numpy(dtype=np.int64))
        if (columns < 0).any():
            missing = np.unique(ratings["movie_id"].to_numpy()[columns < 0])[:5].tolist()
            raise ValueError(f"ratings name movies that are not in the catalogue, e.g. {missing}")

        self.user_items, self.rating_times = build_user_items(
            rows,
            columns,
            ratings["rating"].to_numpy(dtype=np.float32),
            ratings["timestamp"].to_numpy(dtype=np.int64),
            (len(self.users), len(self.catalogue)),
        )

    def _tags_by_movie(self, tags):
        if tags is None or tags.empty:
            return None
        columns = self.catalogue.movie_ids.indices_of(tags["movie_id"].to_numpy(dtype=np.int64))
        grouped = tags.assign(movie_index=columns).groupby("movie_index")["tag"].agg(list)
        tags_by_movie = [[] for _ in range(len(self.catalogue))]
        for movie_index, movie_tags in grouped.items():
            if movie_index >= 0:
                tags_by_movie[movie_index] = movie_tags
        return tags_by_movie

    def _prepare(self):
        """Precompute what every request needs, once per loaded model."""
        self._popular_order = self.popularity.ranking()
        # Computed by warm_up from the components fitted now; a refit drops them.
        self._explanation_factors = None
        self._ease_user_scores = None
        self._user_statistics = None
        norms = np.linalg.norm(self.als.item_factors_, axis=1)
        self._als_unit_items = (self.als.item_factors_ / np.maximum(norms, 1e-12)[:, None]).astype(np.float32)

    def warm_up(self):
        """Prepare every kind of query so that no request pays a one-time cost, and return self.

        It factorizes the ALS explanation system of each training user (see
        ``_prepare_explanations``) and runs each kind of query once. The
        first query of a kind makes numba compile the request-path kernels
        (or read them from its cache), builds the fold-in solver and folds
        every title for the search. A server calls this after loading.
        """
        self._check_fitted()
        self._prepare_explanations()
        self._prepare_ease_scores()
        self._prepare_user_statistics()
        if len(self.catalogue) == 0:
            return self
        movie_id = self.catalogue.movie_ids.id_of(0)
        if len(self.users):
            self.recommend(self.users.id_of(0), 1)
        self.recommend_for_ratings([(movie_id, self.rating_scale[1])], 1)
        self.similar_movies(movie_id, 1)
        self.search_movies("a", 1)
        return self

    def _prepare_explanations(self):
        """Factorize the ALS system that explains each training user's recommendations.

        The system (Y^T C_u Y + lambda I, see ``ImplicitALS.explain``)
        depends only on a user's training ratings, yet building it costs
        O(ratings x factors^2) per request. Its factors for all users are
        kept when they fit in ``EXPLANATION_FACTORS_MAX_BYTES``; beyond that,
        each request builds its own.
        """
        self._explanation_factors = None
        n_users, n_factors = len(self.users), self.als.item_factors_.shape[1]
        size = n_users * n_factors * n_factors * 8
        if size > EXPLANATION_FACTORS_MAX_BYTES:
            logger.info(
                "explanation factors of %d users would take %.0f MiB, over the %.0f MiB limit: each request computes its own",
                n_users,
                size / 2**20,
                EXPLANATION_FACTORS_MAX_BYTES / 2**20,
            )
            return

        started = time.perf_counter()
        factors = np.empty((n_users, n_factors, n_factors), dtype=np.float64)
        for user_index in range(n_users):
            items, ratings = self._user_history(user_index)
            factors[user_index] = self.als.explanation_factor(items, ratings)
        self._explanation_factors = factors
        logger.debug("factorized the explanation systems of %d users in %.2f s", n_users, time.perf_counter() - started)

    def _prepare_ease_scores(self):
        """Compute each training user's EASE scores of the covered movies once.

        EASE scores a user by summing the user's rated rows of its item
        weights, a (ratings x covered movies) read that was the largest cost
        of a recommendation on the bundled data. For a training user the
        result depends only on the training ratings, so it is kept when it
        fits in ``EASE_USER_SCORES_MAX_BYTES``. Each row comes from the same
        ``EASE.score`` call that a request makes, so the recommendations do not change.
        """
        self._ease_user_scores = None
        if self.ease is None:
            return
        covered = self.ease.covered_items_
        size = len(self.users) * covered.size * 4
        if size > EASE_USER_SCORES_MAX_BYTES:
            logger.info(
                "EASE scores of %d users would take %.0f MiB, over the %.0f MiB limit: each request computes its own",
                len(self.users),
                size / 2**20,
                EASE_USER_SCORES_MAX_BYTES / 2**20,
            )
            return

        started = time.perf_counter()
        scores = np.empty((len(self.users), covered.size), dtype=np.float32)
        for user_index in range(len(self.users)):
            items, ratings = self._user_history(user_index)
            scores[user_index] = self.ease.score(self.ease.fold_in(items, ratings))[covered]
        self._ease_user_scores = scores
        logger.debug("computed the EASE scores of %d users in %.2f s", len(self.users), time.perf_counter() - started)

    def _ease_scores(self, items, ratings, user_index):
        """Return EASE's score of every trained movie: precomputed for a training user, else from ``items``."""
        precomputed = getattr(self, "_ease_user_scores", None)
        if precomputed is None or user_index is None:
            return self.ease.score(self.ease.fold_in(items, ratings))
        scores = np.zeros(self.ease.n_items_, dtype=np.float32)
        scores[self.ease.covered_items_] = precomputed[user_index]
        return scores

    def _prepare_user_statistics(self):
        """Compute the mean and spread over the candidates of each training user's component scores once.

        Standardizing a component costs two passes over its scores for these
        two numbers. For a training user without filters the candidates are
        the movies the user has not rated, so the numbers depend on the
        training data alone. They are computed here by the same calls as in
        a request, for the components the blend weights use, and
        ``_recommend`` then makes one pass per component.
        """
        self._user_statistics = None
        n_users = len(self.users)
        if n_users > USER_STATISTICS_MAX_USERS or self.n_trained_movies < len(self.catalogue):
            return

        started = time.perf_counter()
        statistics = {}
        for user_index in range(n_users):
            items, ratings = self._user_history(user_index)
            if items.size == 0:
                continue
            weights = self.config.blend.for_count(items.size)
            active = [name for name in COMPONENTS if weights[name] > 0]
            candidates = self._candidates(items, None)
            for name, scores in self.component_scores(items, ratings, user_index, active).items():
                if name not in statistics:
                    statistics[name] = np.full((n_users, 2), np.nan)
                statistics[name][user_index] = candidate_statistics(scores, candidates)
        self._user_statistics = statistics
        logger.debug("computed the score statistics of %d users in %.2f s", n_users, time.perf_counter() - started)

    def _precomputed_statistics(self, user_index, filters):
        """Return the precomputed (mean, spread) of each component for a training user without filters, or None."""
        statistics = getattr(self, "_user_statistics", None)
        if statistics is None or user_index is None or filters is not None:
            return None
        found = {}
        for name, values in statistics.items():
            mean, spread = values[user_index].tolist()
            if not math.isnan(mean):
                found[name] = (mean, spread)
        return found

    def _explanation_factor(self, user_index):
        factors = getattr(self, "_explanation_factors", None)
        if factors is None or user_index is None:
            return None
        return factors[user_index]

    def _check_fitted(self):
        if self.catalogue is None:
            raise NotFittedError("this HybridRecommender is not fitted; call fit(dataset) or HybridRecommender.load(path)")

    # Queries ----------------------------------------------------------------

    def user_index(self, user_id):
        """Return the matrix row of ``user_id``, or None for a user not in training."""
        self._check_fitted()
        return self.users.index_of(user_id)

    def movie_index(self, movie_id):
        """Return the matrix column of ``movie_id``, or None when it is not in the catalogue."""
        self._check_fitted()
        return self.catalogue.movie_ids.index_of(movie_id)

    def _user_history(self, user_index):
        start, end = self.user_items.indptr[user_index], self.user_items.indptr[user_index + 1]
        return self.user_items.indices[start:end].astype(np.int64), self.user_items.data[start:end]

    def recommend(self, user_id, n=10, *, filters=None):
        """Recommend ``n`` movies to a user, never one the user already rated.

        A user who was not in training gets the popularity fallback.
        """
        n = _check_n(n)
        user_index = self.user_index(user_id)
        if user_index is None:
            return self._popular(n, filters)
        items, ratings = self._user_history(user_index)
        return self._recommend(items, ratings, n, filters, user_index=user_index)

    def recommend_history(self, items, ratings, n=10, *, filters=None):
        """Recommend ``n`` movies to a user given by rated movie indices and ratings, folded in.

        ``items`` must be distinct catalogue indices; nothing in ``items`` is
        recommended. No ratings gives the popularity fallback.
        """
        self._check_fitted()
        n = _check_n(n)
        items = np.asarray(items, dtype=np.int64)
        return self._recommend(items, np.asarray(ratings, dtype=np.float32), n, filters)

    def recommend_for_ratings(self, ratings, n=10, *, filters=None):
        """Recommend ``n`` movies to someone not in the data, from their ratings alone.

        Parameters
        ----------
        ratings : iterable of (movie_id, rating) or (movie_id, rating, timestamp)
            Each rating must be on the model's rating scale. A movie rated more
            than once counts with its latest rating: the higher timestamp, or
            the later entry when timestamps are equal or missing. Movies not in
            the catalogue are ignored and reported in ``unknown_movie_ids``;
            no usable rating gives the popularity fallback.
        """
        self._check_fitted()
        n = _check_n(n)
        entries = list(ratings)
        invalid = ~self.rating_scale_contains([entry[1] for entry in entries])
        if invalid.any():
            position = int(np.flatnonzero(invalid)[0])
            movie_id, rating = entries[position][:2]
            raise OffScaleRatingError(
                f"rating {rating!r} for movie_id {movie_id} is not on the rating scale {self.describe_rating_scale()}",
                position,
            )

        latest = latest_ratings(entries)
        movie_ids = list(latest)
        values = np.array([latest[movie_id] for movie_id in movie_ids], dtype=np.float64)

        indices = self.catalogue.movie_ids.indices_of(np.array(movie_ids, dtype=np.int64))
        known = indices >= 0
        unknown = [movie_id for movie_id, is_known in zip(movie_ids, known) if not is_known]

        if not known.any():
            result = self._popular(n, filters)
        else:
            result = self._recommend(indices[known], values[known].astype(np.float32), n, filters)
        result.unknown_movie_ids = unknown
        return result

    def rating_scale_contains(self, values):
        """Return a mask of the values that are valid ratings on the model's scale."""
        minimum, maximum, step = self.rating_scale
        values = np.asarray(values, dtype=np.float64)
        inside = np.isfinite(values) & (values >= minimum) & (values <= maximum)
        if step is None:
            return inside
        steps = (values - minimum) / step
        return inside & np.isclose(steps, np.round(steps), atol=1e-9)

    def describe_rating_scale(self):
        """Return the rating scale in words, e.g. "0.5 to 5.0 in steps of 0.5"."""
        minimum, maximum, step = self.rating_scale
        return f"{minimum} to {maximum}" + ("" if step is None else f" in steps of {step}")

    def _candidates(self, rated_items, filters):
        candidates = np.ones(len(self.catalogue), dtype=bool)
        candidates[rated_items] = False
        if filters is None:
            return candidates

        if filters.genres:
            candidates &= self.catalogue.genre_mask(filters.genres)
        if filters.exclude_genres:
            candidates &= ~self.catalogue.genre_mask(filters.exclude_genres)
        years = self.catalogue.years
        if filters.min_year is not None:
            candidates &= (years != NO_YEAR) & (years >= filters.min_year)
        if filters.max_year is not None:
            candidates &= (years != NO_YEAR) & (years <= filters.max_year)
        return candidates

    @property
    def n_trained_movies(self):
        """Number of movies the collaborative and popularity models were trained with.

        Movies added after training (``with_movies``) have larger indices and
        only a content vector.
        """
        return self.als.item_factors_.shape[0]

    def _pad(self, scores):
        """Extend trained-movie scores to the whole catalogue with zeros, which ``_blend_new_movies`` sets aside."""
        missing = len(self.catalogue) - scores.shape[0]
        if missing <= 0:
            return scores
        return np.concatenate([scores, np.zeros(missing, dtype=scores.dtype)])

    def _trained_only(self, items, ratings):
        trained = items < self.n_trained_movies
        if trained.all():
            return items, ratings
        return items[trained], ratings[trained]

    def component_scores(self, items, ratings, user_index=None, components=COMPONENTS):
        """Return the raw score of every movie from each of ``components``.

        ``user_index`` selects a training user's learned factors, and after
        ``warm_up`` that user's precomputed EASE scores, so ``items`` and
        ``ratings`` must then be the user's training ratings. Without it
        the collaborative models fold the ratings in. Movies added after
        training score 0 in every component but content, a placeholder that
        ``_blend_new_movies`` replaces.
        """
        scores = {}
        trained_items, trained_ratings = self._trained_only(items, ratings)
        if "collaborative" in components:
            if user_index is not None:
                vector = self.als.user_vector(user_index)
            else:
                vector = self.als.fold_in(trained_items, trained_ratings)
            scores["collaborative"] = self._pad(self.als.score(vector))
        if "ease" in components and self.ease is not None:
            scores["ease"] = self._pad(self._ease_scores(trained_items, trained_ratings, user_index))
        if "rp3beta" in components and self.rp3beta is not None:
            scores["rp3beta"] = self._pad(self.rp3beta.score(self.rp3beta.fold_in(trained_items, trained_ratings)))
        if "rating" in components:
            if user_index is not None:
                vector = self.mf.user_vector(user_index)
            else:
                vector = self.mf.fold_in(trained_items, trained_ratings)
            scores["rating"] = self._pad(self.mf.score(vector))
        if "content" in components:
            scores["content"] = self.content.score(self.content.fold_in(items, ratings))
        if "popularity" in components:
            scores["popularity"] = self._pad(self.popularity.score())
        return scores

    def component_scores_many(self, user_items, user_indices=None, components=COMPONENTS):
        """Return the raw scores of every movie for many users at once, by component.

        This is the batched form of ``component_scores``: row ``k`` of each
        array equals ``component_scores`` for the ratings in row ``k`` of
        ``user_items``, up to float32 rounding.

        Parameters
        ----------
        user_items : scipy.sparse matrix of shape (n_users, n_movies)
            Each user's ratings, by movie index. Content and EASE always score
            from them, and so do ALS and the explicit MF when
            ``user_indices`` is None, by folding each user in.
        user_indices : array-like of int, optional
            The training rows of these users; ALS and the explicit MF then
            use their learned factors.
        components : iterable of str

        Returns
        -------
        dict of str to ndarray of shape (n_users, n_movies), float32
        """
        self._check_fitted()
        user_items = self._catalogue_rows(user_items)
        if user_indices is not None:
            user_indices = np.asarray(user_indices, dtype=np.int64)
            if user_indices.shape != (user_items.shape[0],):
                raise ValueError(
                    f"user_indices must hold one index per row of user_items ({user_items.shape[0]}), got shape {user_indices.shape}"
                )

        # The collaborative, EASE, RP3beta, MF and popularity models know only the
        # movies they were trained with; the movies added since score 0 there.
        trained = user_items[:, : self.n_trained_movies]
        scores = {}
        if "collaborative" in components:
            if user_indices is not None:
                vectors = self.als.user_factors_[user_indices]
            else:
                vectors = self.als.fold_in_many(trained)
            scores["collaborative"] = self._pad_many(self.als.score_many(vectors))
        if "ease" in components and self.ease is not None:
            scores["ease"] = self._pad_many(self.ease.score_many(self.ease.fold_in_many(trained)))
        if "rp3beta" in components and self.rp3beta is not None:
            scores["rp3beta"] = self._pad_many(self.rp3beta.score_many(self.rp3beta.fold_in_many(trained)))
        if "rating" in components:
            if user_indices is not None:
                vectors = np.hstack([self.mf.user_bias_[user_indices, None], self.mf.user_factors_[user_indices]])
            else:
                vectors = self.mf.fold_in_many(trained)
            scores["rating"] = self._pad_many(self.mf.score_many(vectors))
        if "content" in components:
            scores["content"] = self.content.score_many(self.content.fold_in_many(user_items))
        if "popularity" in components:
            scores["popularity"] = np.broadcast_to(self._pad(self.popularity.score()), user_items.shape)
        return scores

    def _catalogue_rows(self, user_items):
        """Return ``user_items`` as CSR with one column per catalogue movie.

        A matrix as wide as the trained movies, such as ``user_items`` after
        movies were added, is widened with empty columns.
        """
        user_items = sp.csr_matrix(user_items, dtype=np.float32)
        width = user_items.shape[1]
        if width == len(self.catalogue):
            return user_items
        if not self.n_trained_movies <= width < len(self.catalogue):
            raise ValueError(f"user_items must have {len(self.catalogue)} columns, one per movie, got {width}")
        return sp.csr_matrix((user_items.data, user_items.indices, user_items.indptr), shape=(user_items.shape[0], len(self.catalogue)))

    def _pad_many(self, scores):
        missing = len(self.catalogue) - scores.shape[1]
        if missing <= 0:
            return scores
        return np.hstack([scores, np.zeros((scores.shape[0], missing), dtype=scores.dtype)])

    def recommend_many(self, user_items, n=10, *, user_indices=None, weights=None, batch_size=256):
        """Return the top ``n`` movie indices of many users, ranked as ``recommend`` ranks them.

        One vectorized pass per batch of users scores, standardizes, blends
        and ranks; offline evaluation and tuning use it to rank every test
        user at once.

        Parameters
        ----------
        user_items : scipy.sparse matrix of shape (n_users, n_movies)
            Each user's ratings; rated movies are never recommended.
        n : int
        user_indices : array-like of int, optional
            Training rows of the users, as for ``component_scores_many``.
        weights : BlendWeights, optional
            Blend weights; ``config.blend`` when omitted.
        batch_size : int
            Users scored together; memory grows with batch_size x n_movies.

        Returns
        -------
        ndarray of shape (n_users, n), int64
            Movie indices, best first. A user without ratings gets the
            popularity fallback; -1 pads a row with fewer than ``n``
            candidates.
        """
        self._check_fitted()
        n = _check_n(n)
        batch_size = _check_n(batch_size, "batch_size")
        weights = weights if weights is not None else self.config.blend
        user_items = self._catalogue_rows(user_items)
        user_indices = None if user_indices is None else np.asarray(user_indices, dtype=np.int64)

        ranked = np.empty((user_items.shape[0], n), dtype=np.int64)
        for start in range(0, user_items.shape[0], batch_size):
            stop = min(start + batch_size, user_items.shape[0])
            batch = user_items[start:stop]
            indices = None if user_indices is None else user_indices[start:stop]
            ranked[start:stop] = self._rank_batch(batch, indices, weights, n)
        return ranked

    def _rank_batch(self, user_items, user_indices, weights, n):
        counts = np.diff(user_items.indptr)
        user_weights = weights.for_counts(counts)
        active = [name for name in COMPONENTS if (user_weights[name] > 0).any()]

        candidates = np.ones(user_items.shape, dtype=bool)
        rows = np.repeat(np.arange(user_items.shape[0]), counts)
        candidates[rows, user_items.indices] = False

        scores = self.component_scores_many(user_items, user_indices, active)
        n_trained = self.n_trained_movies
        if n_trained < len(self.catalogue):
            # As in _recommend: movies added after training do not shift the
            # standardization, and their blended score is their content part.
            trained_candidates = candidates.copy()
            trained_candidates[:, n_trained:] = False
            parts = {name: standardize_many(values, trained_candidates) for name, values in scores.items()}
            total = blend_many(parts, user_weights)
            total[:, n_trained:] = parts["content"][:, n_trained:] if "content" in parts else 0.0
        else:
            parts = {name: standardize_many(values, candidates) for name, values in scores.items()}
            total = blend_many(parts, user_weights)
        ranked = top_n_many(total, candidates, n)

        fallback = self._popular_order[:n]
        without_ratings = counts == 0
        ranked[without_ratings] = -1
        ranked[without_ratings, : fallback.size] = fallback
        return ranked

    def _recommend(self, items, ratings, n, filters, user_index=None):
        if items.size == 0:
            return self._popular(n, filters)

        weights = self.config.blend.for_count(items.size)
        active = [name for name in COMPONENTS if weights[name] > 0]
        scores = self.component_scores(items, ratings, user_index, active)
        candidates = self._candidates(items, filters)
        n_trained = self.n_trained_movies
        if n_trained < len(self.catalogue):
            # The placeholders of new movies must not shift the mean and
            # spread that standardize the trained movies' scores.
            trained_candidates = candidates.copy()
            trained_candidates[n_trained:] = False
            blended = blend_scores(scores, weights, trained_candidates)
            self._blend_new_movies(blended)
        else:
            blended = blend_scores(scores, weights, candidates, self._precomputed_statistics(user_index, filters))
        best = top_n(blended.total, candidates, n)

        totals = blended.total[best].tolist()
        selected_parts = blended.parts(best)
        for name, values in selected_parts.items():
            if name != "content":
                values[best >= n_trained] = np.nan
        # explain reads parts[name][movie index]; only the returned movies are standardized.
        parts_by_index = {name: dict(zip(best.tolist(), values.tolist())) for name, values in selected_parts.items()}
        reasons = explain(
            best, items, ratings, parts_by_index, weights, content=self.content, als=self.als,
            als_factor=self._explanation_factor(user_index), ease=self.ease, rp3beta=self.rp3beta,
        )

        result_items = []
        for position, (index, reason) in enumerate(zip(best.tolist(), reasons)):
            item = self.catalogue.describe(index)
            item["score"] = round(totals[position], 4)
            item["components"] = {
                name: round(values[index], 4) for name, values in parts_by_index.items() if not math.isnan(values[index])
            }
            item["reason"] = self._describe_reason(reason)
            result_items.append(item)
        return Recommendations(items=result_items, n_ratings=int(items.size), weights=weights)

    def _blend_new_movies(self, blended):
        """Score movies added after training on the components that know them, in place.

        Only content scores such a movie. As the blender does for a component
        missing for every movie, the present components' weights are scaled
        up to the usual sum, so the movie's blended score is its standardized
        content score. The other components' parts are NaN there (set by
        ``_recommend`` for the returned movies), and the responses leave them
        out.
        """
        new = np.arange(self.n_trained_movies, len(self.catalogue))
        if "content" in blended.statistics:
            blended.total[new] = blended.parts(new)["content"]
        else:
            blended.total[new] = 0.0

    def _describe_reason(self, reason):
        if reason is None:
            return None
        return {
            "movie_id": self.catalogue.movie_ids.id_of(reason.rated_index),
            "title": self.catalogue.titles[reason.rated_index],
            "rating": reason.rating,
            "kind": reason.kind,
            "share": round(reason.share, 4),
        }

    def _popular(self, n, filters):
        """Return the documented fallback: the most rated movies, best rated first among equals."""
        order = self._popular_order
        if filters is not None:
            order = order[self._candidates(np.zeros(0, dtype=np.int64), filters)[order]]
        result_items = []
        for index in order[:n]:
            item = self.catalogue.describe(index)
            item["score"] = round(float(self.popularity.scores_[index]), 4)
            item["components"] = {"popularity": item["score"]}
            item["reason"] = None
            result_items.append(item)
        weights = {name: float(name == "popularity") for name in COMPONENTS}
        return Recommendations(items=result_items, n_ratings=0, weights=weights, fallback=POPULARITY_FALLBACK)

    def predict(self, user_id, movie_ids):
        """Return predicted star ratings of ``movie_ids`` for ``user_id``, clipped to the rating scale.

        A user not in training gets each movie's baseline, the global mean plus
        the movie's bias. Raises ``UnknownMovieError`` naming every movie id
        that is not in the catalogue.
        """
        self._check_fitted()
        movie_ids = list(movie_ids)
        indices = self.catalogue.movie_ids.indices_of(np.array(movie_ids, dtype=np.int64))
        if (indices < 0).any():
            raise UnknownMovieError([movie_id for movie_id, index in zip(movie_ids, indices) if index < 0])

        user_index = self.user_index(user_id)
        if user_index is None:
            vector = self.mf.fold_in(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        else:
            vector = self.mf.user_vector(user_index)
        return self._predict_indices(vector, indices), user_index is not None

    def predict_history(self, items, ratings, movie_ids):
        """Return predicted star ratings of ``movie_ids`` for a user given by rated movie indices and ratings.

        The user is folded into the explicit MF; raises ``UnknownMovieError``
        as ``predict`` does.
        """
        self._check_fitted()
        movie_ids = list(movie_ids)
        indices = self.catalogue.movie_ids.indices_of(np.array(movie_ids, dtype=np.int64))
        if (indices < 0).any():
            raise UnknownMovieError([movie_id for movie_id, index in zip(movie_ids, indices) if index < 0])
        items, ratings = self._trained_only(np.asarray(items, dtype=np.int64), np.asarray(ratings, dtype=np.float32))
        return self._predict_indices(self.mf.fold_in(items, ratings), indices)

    def _predict_indices(self, vector, indices):
        # A movie added after training has no bias or factors, so the MF's
        # own prediction for it is the global mean plus the user's bias.
        trained = indices < self.n_trained_movies
        predicted = np.empty(indices.size, dtype=np.float64)
        predicted[trained] = self.mf.score(vector, indices[trained])
        if not trained.all():
            minimum, maximum = self.rating_scale[:2]
            predicted[~trained] = np.clip(self.mf.global_mean_ + float(vector[0]), minimum, maximum)
        return [round(float(value), 4) for value in predicted]

    def similar_movies(self, movie_id, n=10):
        """Return the ``n`` movies most similar to ``movie_id``, most similar first.

        Similarity mixes the cosine of TF-IDF content vectors with the cosine
        of ALS item factors (movies rated by the same people), weighted by
        ``config.similar_content_weight``. Raises ``UnknownMovieError`` for a
        movie not in the catalogue.
        """
        n = _check_n(n)
        index = self.movie_index(movie_id)
        if index is None:
            raise UnknownMovieError([movie_id])

        share = self.config.similar_content_weight
        similarity = self.content.similarities(index)
        if share < 1.0 and index < self._als_unit_items.shape[0]:
            # Movies added after training have no ALS factors: their
            # similarity is the content cosine alone, not a half of it.
            collaborative = self._als_unit_items @ self._als_unit_items[index]
            similarity[: collaborative.size] = share * similarity[: collaborative.size] + (1.0 - share) * collaborative
        candidates = np.ones(similarity.size, dtype=bool)
        candidates[index] = False

        result = []
        for other in top_n(similarity, candidates, n):
            item = self.catalogue.describe(other)
            item["score"] = round(float(similarity[other]), 4)
            result.append(item)
        return result

    def search_movies(self, query, limit=20):
        """Return up to ``limit`` movies whose title contains ``query`` (case and accents ignored)."""
        self._check_fitted()
        limit = _check_n(limit, "limit")
        popularity = self._pad(self.popularity.scores_)
        return [self.catalogue.describe(index) for index in self.catalogue.search(query, limit, popularity)]

    def user_ratings(self, user_id):
        """Return the training ratings of ``user_id``, newest first; empty for an unknown user."""
        user_index = self.user_index(user_id)
        if user_index is None:
            return []
        return self.describe_history(*self.training_history(user_index))

    def training_history(self, user_index):
        """Return the training ratings of row ``user_index`` as (movie indices, ratings, timestamps)."""
        start, end = self.user_items.indptr[user_index], self.user_items.indptr[user_index + 1]
        return (
            self.user_items.indices[start:end].astype(np.int64),
            self.user_items.data[start:end],
            self.rating_times[start:end],
        )

    def describe_history(self, items, ratings, timestamps):
        """Return ratings given by movie indices as public descriptions, newest first (equal times by movie index)."""
        history = []
        for position in np.lexsort((items, -timestamps)):
            item = self.catalogue.describe(int(items[position]))
            item["rating"] = float(ratings[position])
            item["timestamp"] = int(timestamps[position])
            history.append(item)
        return history

    def with_movies(self, movie_ids, titles, genres, years):
        """Return a copy of this model whose catalogue also lists new movies; this model is unchanged.

        The content model gives each new movie a vector at once, from the
        vocabularies it was fitted with, so it can be recommended and found
        similar before anyone rates it. The collaborative and popularity
        models score it only after retraining. ``years`` contains None where a
        year is unknown. Raises ``ValueError`` for an id already in the
        catalogue.
        """
        self._check_fitted()
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        taken = [int(movie_id) for movie_id in movie_ids if int(movie_id) in self.catalogue.movie_ids]
        if taken:
            raise ValueError(f"movie_id {taken[0]} is already in the catalogue")

        extended = copy.copy(self)
        extended.catalogue = Catalogue(
            self.catalogue.movie_ids.with_ids(movie_ids),
            [*self.catalogue.titles, *titles],
            [*self.catalogue.genres, *[tuple(movie_genres) for movie_genres in genres]],
            np.concatenate(
                [self.catalogue.years, np.array([NO_YEAR if year is None else year for year in years], dtype=np.int32)]
            ),
        )
        extended.content = copy.copy(self.content)
        extended.content.add_items(list(titles), list(genres), list(years))
        return extended

    # Persistence ----------------------------------------------------------------

    def save(self, model_dir, *, publish=True):
        """Write this model as a new version in ``model_dir`` and return the version name.

        The version becomes the published one unless ``publish`` is False.
        """
        self._check_fitted()
        content = self.content
        arrays = {
            "user_ids": self.users.ids,
            "movie_ids": self.catalogue.movie_ids.ids,
            "movie_years": self.catalogue.years,
            "ratings_data": self.user_items.data,
            "ratings_indices": self.user_items.indices,
            "ratings_indptr": self.user_items.indptr,
            "rating_times": self.rating_times,
            "als_user_factors": self.als.user_factors_,
            "als_item_factors": self.als.item_factors_,
            "ease_item_weights": self.ease.item_weights_,
            "ease_covered_items": self.ease.covered_items_,
            "rp3beta_data": self.rp3beta.item_weights_.data,
            "rp3beta_indices": self.rp3beta.item_weights_.indices,
            "rp3beta_indptr": self.rp3beta.item_weights_.indptr,
            "mf_user_factors": self.mf.user_factors_,
            "mf_item_factors": self.mf.item_factors_,
            "mf_user_bias": self.mf.user_bias_,
            "mf_item_bias": self.mf.item_bias_,
            "content_data": content.item_matrix_.data,
            "content_indices": content.item_matrix_.indices,
            "content_indptr": content.item_matrix_.indptr,
            "popularity_counts": self.popularity.counts_,
            "popularity_damped_means": self.popularity.damped_means_,
        }
        for field_name, idf in content.idf_.items():
            arrays[f"content_idf_{field_name}"] = idf

        documents = {
            "catalogue": {"titles": self.catalogue.titles, "genres": [list(genres) for genres in self.catalogue.genres]},
            "content_vocabularies": content.vocabularies_,
        }
        manifest = {
            "config": self.config.to_dict(),
            "rating_scale": list(self.rating_scale),
            "data": self.info["data"],
            "training_seconds": self.info["training_seconds"],
            "engine": self.info.get("engine", {"name": SINGLE_MACHINE_ENGINE}),
            "components": {
                "als": _json_params(self.als),
                "ease": _json_params(self.ease),
                "rp3beta": _json_params(self.rp3beta),
                "mf": _json_params(self.mf),
                "content": _json_params(content),
                "popularity": _json_params(self.popularity),
            },
            "mf_global_mean": float(self.mf.global_mean_),
            "content_mean_rating": content.mean_rating_,
            "content_shape": list(content.item_matrix_.shape),
        }
        for key in ("store", "evaluation"):
            if self.info.get(key) is not None:
                manifest[key] = self.info[key]
        version = write_version(model_dir, arrays, documents, manifest, publish=publish)
        self.info["version"] = version
        return version

    @classmethod
    def load(cls, path):
        """Load the published version of a model directory, or one version directory.

        Arrays are copy-on-write memory maps: processes that load the same
        version share its pages, and nothing in the bundle is executed.
        """
        manifest, arrays, documents = read_version(path, mmap_mode="c")
        model = cls(HybridConfig.from_dict(manifest["config"]))
        components = manifest["components"]

        catalogue = documents["catalogue"]
        model.catalogue = Catalogue(arrays["movie_ids"], catalogue["titles"], catalogue["genres"], arrays["movie_years"])
        model.users = IdIndex(arrays["user_ids"])
        model.rating_scale = tuple(manifest["rating_scale"])
        model.user_items = sp.csr_matrix(
            (arrays["ratings_data"], arrays["ratings_indices"], arrays["ratings_indptr"]),
            shape=(len(model.users), len(model.catalogue)),
            copy=False,
        )
        model.rating_times = arrays["rating_times"]

        model.als = ImplicitALS(**components["als"])
        model.als.user_factors_ = arrays["als_user_factors"]
        model.als.item_factors_ = arrays["als_item_factors"]

        # Bundles written before EASE was added have no EASE arrays; their
        # models blend the other components only.
        model.ease = None
        if "ease_item_weights" in arrays:
            model.ease = EASE(**components["ease"])
            model.ease.item_weights_ = arrays["ease_item_weights"]
            model.ease.covered_items_ = arrays["ease_covered_items"]
            model.ease.n_items_ = model.als.item_factors_.shape[0]

        # Likewise for bundles written before RP3beta was added.
        model.rp3beta = None
        if "rp3beta_data" in arrays:
            n_items = model.als.item_factors_.shape[0]
            model.rp3beta = RP3Beta(**components["rp3beta"])
            model.rp3beta.item_weights_ = sp.csr_matrix(
                (arrays["rp3beta_data"], arrays["rp3beta_indices"], arrays["rp3beta_indptr"]),
                shape=(n_items, n_items),
                copy=False,
            )
            model.rp3beta.n_items_ = n_items

        mf_params = dict(components["mf"])
        if mf_params.get("rating_range") is not None:
            mf_params["rating_range"] = tuple(mf_params["rating_range"])
        model.mf = ExplicitMF(**mf_params)
        model.mf.global_mean_ = manifest["mf_global_mean"]
        model.mf.user_factors_ = arrays["mf_user_factors"]
        model.mf.item_factors_ = arrays["mf_item_factors"]
        model.mf.user_bias_ = arrays["mf_user_bias"]
        model.mf.item_bias_ = arrays["mf_item_bias"]

        model.content = ContentModel(**components["content"])
        model.content.item_matrix_ = sp.csr_matrix(
            (arrays["content_data"], arrays["content_indices"], arrays["content_indptr"]),
            shape=tuple(manifest["content_shape"]),
            copy=False,
        )
        model.content.vocabularies_ = documents["content_vocabularies"]
        model.content.idf_ = {name: arrays[f"content_idf_{name}"] for name in model.content.vocabularies_}
        model.content.mean_rating_ = manifest["content_mean_rating"]

        model.popularity = Popularity(**components["popularity"])
        model.popularity._set_state(arrays["popularity_counts"], arrays["popularity_damped_means"])

        model.info = {
            "data": manifest["data"],
            "training_seconds": manifest["training_seconds"],
            # Bundles written before engines were recorded all come from fit.
            "engine": manifest.get("engine", {"name": SINGLE_MACHINE_ENGINE}),
            "version": manifest["version"],
            "created_at": manifest["created_at"],
            "store": manifest.get("store"),
            "evaluation": manifest.get("evaluation"),
        }
        model._prepare()
        logger.info("loaded model version %s (%d users, %d movies)", manifest["version"], len(model.users), len(model.catalogue))
        return model


def _json_params(estimator):
    """Return an estimator's constructor arguments as JSON values (tuples become lists)."""
    params = estimator.get_params(deep=False)
    return {name: list(value) if isinstance(value, tuple) else value for name, value in params.items()}
