"""Content-based model: TF-IDF vectors of what each movie is about.

Each movie is described by four fields: the words of its title, its genres,
its decade and, when available, the tags users gave it. Every field is
vectorized with its own TF-IDF weighting, so a rare genre or tag counts more
than a common one, then scaled by a field weight and joined into one
L2-normalized row per movie. Cosine similarity between rows gives "similar
movies". A user's profile, the rating-weighted sum of the rows they rated,
scores every movie for that user (Lops, de Gemmis and Semeraro,
"Content-based Recommender Systems: State of the Art and Trends", 2011).
"""

import logging
import re

import numpy as np
import scipy.sparse as sp
from numba import njit
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

FIELDS = ("title", "genres", "decade", "tags")


def _require_fitted(estimator, attribute):
    # scikit-learn's check_is_fitted builds the estimator's tags on every
    # call (several microseconds in scikit-learn 1.9), which adds up on the
    # request path. A present attribute gives the same answer; a missing one
    # still raises scikit-learn's NotFittedError.
    if not hasattr(estimator, attribute):
        check_is_fitted(estimator, attribute)

# MovieLens titles end with the release year, which the decade field already
# carries; dropping it keeps "1995" from acting as a shared title word.
_TRAILING_YEAR = re.compile(r"\s*\(\d{4}(?:[-–]\d{0,4})?\)\s*$")


def _identity(tokens):
    return tokens


def _title_text(title):
    return _TRAILING_YEAR.sub("", title)


def _genre_tokens(genres):
    return [genre.strip().lower() for genre in genres if genre and genre.strip()]


def _decade_tokens(year):
    if year is None or (isinstance(year, float) and np.isnan(year)):
        return []
    return [f"{int(year) // 10 * 10}s"]


def _tag_text(tags):
    return " ".join(tags) if tags else ""


class ContentModel(BaseEstimator):
    """TF-IDF item vectors over title words, genres, decade and tags.

    Parameters
    ----------
    title_weight, genre_weight, decade_weight, tag_weight : float
        Weight of each field's block before the joined row is normalized.
    profile_damping : float
        Pseudo-ratings at ``mean_rating`` mixed into a user's mean when
        profile weights are computed, so that a user with a single rating still
        gets a profile (a lone rating would otherwise equal its own mean).
    stop_words : str or None
        Title words to drop, as for ``TfidfVectorizer``.

    Attributes
    ----------
    item_matrix_ : scipy.sparse.csr_matrix of shape (n_items, n_features), float32
        L2-normalized item rows.
    vocabularies_ : dict of str to list of str
        The terms of each field, in column order.
    idf_ : dict of str to ndarray
        The inverse document frequencies of each field's terms.
    mean_rating_ : float
        Neutral rating that profile weights are measured from.
    """

    def __init__(
        self,
        title_weight=0.6,
        genre_weight=1.0,
        decade_weight=0.4,
        tag_weight=0.8,
        profile_damping=2.0,
        stop_words="english",
    ):
        self.title_weight = title_weight
        self.genre_weight = genre_weight
        self.decade_weight = decade_weight
        self.tag_weight = tag_weight
        self.profile_damping = profile_damping
        self.stop_words = stop_words

    def _field_weights(self):
        parameters = {
            "title": "title_weight",
            "genres": "genre_weight",
            "decade": "decade_weight",
            "tags": "tag_weight",
        }
        weights = {}
        for field, parameter in parameters.items():
            weight = getattr(self, parameter)
            if not weight >= 0:
                raise ValueError(f"{parameter} must be >= 0, got {weight!r}")
            weights[field] = weight
        return weights

    def _vectorizer(self, field, vocabulary=None):
        # Genres and decades arrive as token lists, so they skip tokenization;
        # titles and tags are free text.
        if field in ("genres", "decade"):
            return TfidfVectorizer(analyzer=_identity, vocabulary=vocabulary, dtype=np.float32)
        return TfidfVectorizer(
            strip_accents="unicode",
            stop_words=self.stop_words if field == "title" else None,
            sublinear_tf=True,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    @staticmethod
    def _documents(titles, genres, years, tags):
        n_items = len(titles)
        if len(genres) != n_items or len(years) != n_items:
            raise ValueError(
                f"titles, genres and years must have the same length, got {n_items}, {len(genres)} and {len(years)}"
            )
        if tags is not None and len(tags) != n_items:
            raise ValueError(f"tags must have one entry per item ({n_items}), got {len(tags)}")

        return {
            "title": [_title_text(title) for title in titles],
            "genres": [_genre_tokens(item_genres) for item_genres in genres],
            "decade": [_decade_tokens(year) for year in years],
            "tags": [_tag_text(item_tags) for item_tags in tags] if tags is not None else [""] * n_items,
        }

    def fit(self, titles, genres, years, tags=None, *, mean_rating=3.0):
        """Learn the vocabularies and IDF weights and build one row per item.

        Parameters
        ----------
        titles : sequence of str
        genres : sequence of sequences of str
            An empty sequence means the item has no genres.
        years : sequence of int or None
        tags : sequence of sequences of str, optional
        mean_rating : float
            The global mean rating, which profile weights are measured from.
        """
        weights = self._field_weights()
        documents = self._documents(titles, genres, years, tags)
        if not documents["title"]:
            raise ValueError("titles must hold at least one item")

        self.vocabularies_ = {}
        self.idf_ = {}
        blocks = []
        for field in FIELDS:
            vectorizer = self._vectorizer(field)
            try:
                block = vectorizer.fit_transform(documents[field])
            except ValueError:
                # An empty vocabulary (no tags given, or titles of stop words
                # only) leaves the field out rather than failing the whole fit.
                logger.debug("content field %s has no terms; it is left out", field)
                self.vocabularies_[field] = []
                self.idf_[field] = np.zeros(0, dtype=np.float32)
                continue
            self.vocabularies_[field] = vectorizer.get_feature_names_out().tolist()
            self.idf_[field] = vectorizer.idf_.astype(np.float32)
            blocks.append(weights[field] * normalize(block))

        self.item_matrix_ = normalize(sp.hstack(blocks, format="csr")).astype(np.float32)
        self.mean_rating_ = float(mean_rating)
        logger.debug(
            "content model: %d items x %d features, %d non-zeros",
            *self.item_matrix_.shape,
            self.item_matrix_.nnz,
        )
        return self

    def transform(self, titles, genres, years, tags=None):
        """Return L2-normalized rows for items described by the same fields, using the learned vocabularies.

        Items added after fitting (a new movie) get a vector this way without
        refitting; terms never seen in fitting are ignored.
        """
        _require_fitted(self, "item_matrix_")
        weights = self._field_weights()
        documents = self._documents(titles, genres, years, tags)

        blocks = []
        for field in FIELDS:
            terms = self.vocabularies_[field]
            if not terms:
                continue
            vectorizer = self._vectorizer(field, vocabulary={term: column for column, term in enumerate(terms)})
            vectorizer.idf_ = self.idf_[field]
            blocks.append(weights[field] * normalize(vectorizer.transform(documents[field])))
        return normalize(sp.hstack(blocks, format="csr")).astype(np.float32)

    @property
    def n_items(self):
        _require_fitted(self, "item_matrix_")
        return self.item_matrix_.shape[0]

    def fold_in(self, item_indices, ratings):
        """Return a user's profile: the sum of rated rows weighted by rating minus the user's mean.

        The user's mean is shrunk toward ``mean_rating_`` by
        ``profile_damping`` pseudo-ratings, so liking a single movie gives
        that movie a positive weight and a low rating a negative one.
        """
        _require_fitted(self, "item_matrix_")
        items = np.asarray(item_indices, dtype=np.int64).ravel()
        values = np.asarray(ratings, dtype=np.float32).ravel()
        if items.shape != values.shape:
            raise ValueError(f"item_indices and ratings must have the same length, got {items.size} and {values.size}")
        if items.size == 0:
            return np.zeros(self.item_matrix_.shape[1], dtype=np.float32)
        if items.min() < 0 or items.max() >= self.n_items:
            raise ValueError(f"item_indices must lie in [0, {self.n_items}), got values from {items.min()} to {items.max()}")

        matrix = self.item_matrix_
        weights = self.profile_weights(values)
        return _weighted_row_sum(matrix.indptr, matrix.indices, matrix.data, items, weights, matrix.shape[1])

    def fold_in_many(self, user_items):
        """Return the profile of each row of a users x items matrix of ratings, as ``fold_in`` does.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_users, n_features), float32
        """
        check_is_fitted(self, "item_matrix_")
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if matrix.shape[1] != self.n_items:
            raise ValueError(f"user_items must have {self.n_items} columns, got {matrix.shape[1]}")

        counts = np.diff(matrix.indptr)
        sums = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
        denominators = counts + self.profile_damping
        user_means = np.divide(
            sums + self.profile_damping * self.mean_rating_,
            denominators,
            out=np.zeros(counts.size, dtype=np.float64),
            where=denominators > 0,
        )
        weights = matrix.copy()
        weights.data = (weights.data - np.repeat(user_means, counts)).astype(np.float32)
        return (weights @ self.item_matrix_).tocsr().astype(np.float32)

    def profile_weights(self, ratings):
        """Return each rating minus the user's mean shrunk toward ``mean_rating_``.

        Positive weights mark the movies the user liked; ``fold_in`` sums the
        rated rows with these weights.
        """
        _require_fitted(self, "item_matrix_")
        values = np.asarray(ratings, dtype=np.float32).ravel()
        user_mean = (values.sum() + self.profile_damping * self.mean_rating_) / (values.size + self.profile_damping)
        return values - user_mean

    def explain(self, item_indices, ratings, target_items):
        """Return how much each rated item adds to the score of each target item.

        The profile score of target i is sum_j w_j cos(i, j), with ``w`` from
        ``profile_weights``. Entry [j, t] of the result is that term for rated
        item j and target ``target_items[t]``, so each column sums to the
        target's ``score``.
        """
        _require_fitted(self, "item_matrix_")
        items = np.asarray(item_indices, dtype=np.int64).ravel()
        targets = np.asarray(target_items, dtype=np.int64).ravel()

        # The targets as dense columns make the product one compiled pass over
        # the rated rows, with the same float32 sums as SciPy's sparse product.
        matrix = self.item_matrix_
        dense_targets = np.zeros((matrix.shape[1], targets.size), dtype=np.float32)
        for position, target in enumerate(targets.tolist()):
            start, end = matrix.indptr[target], matrix.indptr[target + 1]
            dense_targets[matrix.indices[start:end], position] = matrix.data[start:end]
        similarities = _rows_times_dense(matrix.indptr, matrix.indices, matrix.data, items, dense_targets)
        return similarities.astype(np.float64) * self.profile_weights(ratings)[:, None]

    def score(self, user_vector, item_indices=None):
        """Return the profile's dot product with every item row, or with ``item_indices``."""
        _require_fitted(self, "item_matrix_")
        rows = self.item_matrix_ if item_indices is None else self.item_matrix_[item_indices]
        return np.asarray(rows @ np.asarray(user_vector, dtype=np.float32), dtype=np.float32).ravel()

    def score_many(self, user_vectors):
        """Return each profile's dot product with every item row, for each row of ``user_vectors``.

        Returns
        -------
        ndarray of shape (n_users, n_items), float32
        """
        check_is_fitted(self, "item_matrix_")
        products = sp.csr_matrix(user_vectors, dtype=np.float32) @ self.item_matrix_.T
        return np.asarray(products.toarray(), dtype=np.float32)

    def similarities(self, item_index):
        """Return the cosine similarity of item ``item_index`` with every item."""
        _require_fitted(self, "item_matrix_")
        # A dense copy of the row turns the sparse-sparse product into one
        # sparse matrix-vector product, several times faster per request.
        matrix = self.item_matrix_
        start, end = matrix.indptr[item_index], matrix.indptr[item_index + 1]
        row = np.zeros(matrix.shape[1], dtype=np.float32)
        row[matrix.indices[start:end]] = matrix.data[start:end]
        return np.asarray(matrix @ row, dtype=np.float32).ravel()

    def add_items(self, titles, genres, years, tags=None):
        """Append rows for new items and return their indices."""
        rows = self.transform(titles, genres, years, tags)
        start = self.item_matrix_.shape[0]
        self.item_matrix_ = sp.vstack([self.item_matrix_, rows], format="csr")
        return np.arange(start, start + rows.shape[0])


# Compiled kernels over the CSR arrays of item_matrix_. They accumulate in
# float32 in the order SciPy's sparse products use, so they return the same
# values as ``item_matrix_[rows].T @ weights`` and ``item_matrix_[rows] @ B``
# without building sliced and transposed matrices on every request.


@njit(cache=True, nogil=True)
def _weighted_row_sum(indptr, indices, data, rows, weights, n_features):
    """Return the sum of the CSR rows ``rows``, each times its weight, as a dense float32 vector."""
    total = np.zeros(n_features, dtype=np.float32)
    for position in range(rows.shape[0]):
        row = rows[position]
        weight = weights[position]
        for entry in range(indptr[row], indptr[row + 1]):
            total[indices[entry]] += data[entry] * weight
    return total


@njit(cache=True, nogil=True)
def _rows_times_dense(indptr, indices, data, rows, dense):
    """Return the CSR rows ``rows`` times the dense (n_features, k) matrix, as float32."""
    result = np.zeros((rows.shape[0], dense.shape[1]), dtype=np.float32)
    for position in range(rows.shape[0]):
        row = rows[position]
        for entry in range(indptr[row], indptr[row + 1]):
            feature = indices[entry]
            value = data[entry]
            for column in range(dense.shape[1]):
                result[position, column] += value * dense[feature, column]
    return result
