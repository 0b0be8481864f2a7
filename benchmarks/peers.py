"""Peer baselines for the quality benchmark: the libraries a user would otherwise pick.

Every ranking peer follows one small contract, so the benchmark treats them
all alike. ``fit(user_items, item_features)`` takes a users x items CSR
matrix of ratings. ``scores(user_indices)`` then returns a dense
(users x items) array in which a higher score ranks first. The caller
excludes rated items, exactly as for the product.

- `EASEPeer`: the closed form of Steck, "Embarrassingly Shallow
  Autoencoders for Sparse Data" (WWW 2019), over all items, binary input.
- `ImplicitALSPeer`: ``implicit.als.AlternatingLeastSquares`` with raw,
  binary or BM25-weighted confidences.
- `LightFMPeer`: ``lightfm.LightFM`` (the ``rectools-lightfm`` package)
  with the WARP loss and genre item features.
- `PopularityPeer`: the number of ratings of each item.

Rating peers (Surprise SVD and SVD++) are run by `fit_surprise`.
"""

import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


class PopularityPeer:
    """Ranks items by their number of training ratings."""

    name = "popularity"

    def fit(self, user_items, item_features=None):
        self.counts_ = np.diff(sp.csc_matrix(user_items).indptr).astype(np.float32)
        return self

    def scores(self, user_indices):
        return np.broadcast_to(self.counts_, (len(user_indices), self.counts_.size))


class EASEPeer:
    """EASE with a binary input matrix, as in Steck (2019), over at most ``max_items`` most rated items.

    The other items score 0. The inverse of an m x m matrix costs O(m^3),
    so a catalogue of about 10,000 movies is capped like the product's EASE.
    """

    name = "EASE"

    def __init__(self, regularization=300.0, max_items=3000):
        self.regularization = regularization
        self.max_items = max_items

    def fit(self, user_items, item_features=None):
        binary = sp.csr_matrix(user_items, dtype=np.float64)
        binary.data[:] = 1.0
        counts = np.diff(binary.tocsc().indptr)
        self.covered_ = np.sort(np.argsort(-counts, kind="stable")[: self.max_items])
        self.n_items_ = binary.shape[1]

        inputs = binary[:, self.covered_]
        gram = (inputs.T @ inputs).toarray()
        gram[np.diag_indices_from(gram)] += self.regularization
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)
        self.inputs_ = inputs.astype(np.float32).tocsr()
        return self

    def scores(self, user_indices):
        scores = np.zeros((len(user_indices), self.n_items_), dtype=np.float32)
        scores[:, self.covered_] = self.inputs_[user_indices] @ self.weights_
        return scores


class ImplicitALSPeer:
    """``implicit``'s ALS with one of three confidence weightings of the ratings.

    ``implicit`` takes the stored value as the confidence of an observed
    cell, against 1 for an unobserved one. ``weighting`` sets that value:
    ``"rating"`` is alpha * r, ``"one_plus_rating"`` is 1 + alpha * r (Hu,
    Koren and Volinsky 2008, equation 6, as the product's ALS uses it),
    ``"binary"`` is alpha for every rating and ``"bm25"`` is alpha times the
    BM25 weight of each entry, as in implicit's own examples.
    """

    name = "implicit ALS"

    def __init__(self, factors=200, regularization=0.01, alpha=1.0, iterations=15, weighting="rating", random_state=0):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.random_state = random_state

    def _confidence(self, user_items):
        from implicit.nearest_neighbours import bm25_weight

        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if self.weighting == "binary":
            matrix.data[:] = 1.0
        elif self.weighting == "bm25":
            binary = matrix.copy()
            binary.data[:] = 1.0
            matrix = bm25_weight(binary, K1=100, B=0.8).tocsr().astype(np.float32)
        elif self.weighting == "one_plus_rating":
            # implicit multiplies the matrix by alpha, so 1 + alpha * r is
            # passed as 1 / alpha + r.
            matrix.data = (1.0 / self.alpha + matrix.data).astype(np.float32)
        elif self.weighting != "rating":
            raise ValueError(f"weighting must be 'rating', 'one_plus_rating', 'binary' or 'bm25', got {self.weighting!r}")
        return matrix

    def fit(self, user_items, item_features=None):
        from implicit.als import AlternatingLeastSquares

        # implicit parallelizes over users itself, so BLAS keeps one thread.
        with threadpool_limits(1, "blas"):
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                use_gpu=False,
            )
            self.model_.fit(self._confidence(user_items), show_progress=False)
        return self

    def scores(self, user_indices):
        return self.model_.user_factors[user_indices] @ self.model_.item_factors.T


class LightFMPeer:
    """LightFM with the WARP loss, an identity feature per item plus its genres."""

    name = "LightFM WARP"

    def __init__(self, no_components=64, learning_rate=0.05, epochs=30, item_alpha=1e-6, random_state=0, num_threads=2):
        self.no_components = no_components
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.item_alpha = item_alpha
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(self, user_items, item_features=None):
        from lightfm import LightFM

        interactions = sp.coo_matrix(user_items, dtype=np.float32)
        interactions.data[:] = 1.0
        self.item_features_ = item_features
        self.model_ = LightFM(
            no_components=self.no_components,
            learning_rate=self.learning_rate,
            loss="warp",
            item_alpha=self.item_alpha,
            random_state=self.random_state,
        )
        self.model_.fit(interactions, item_features=item_features, epochs=self.epochs, num_threads=self.num_threads)
        return self

    def scores(self, user_indices):
        item_biases, item_embeddings = self.model_.get_item_representations(self.item_features_)
        _, user_embeddings = self.model_.get_user_representations()
        return user_embeddings[user_indices] @ item_embeddings.T + item_biases[None, :]


def genre_features(genres):
    """Return LightFM item features: an identity column per item plus one column per genre, rows L1-normalized."""
    names = sorted({genre for item_genres in genres for genre in item_genres})
    column = {name: position for position, name in enumerate(names)}
    rows, columns = [], []
    for item, item_genres in enumerate(genres):
        for genre in item_genres:
            rows.append(item)
            columns.append(column[genre])
    genre_matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(genres), len(names)))
    features = sp.hstack([sp.identity(len(genres), dtype=np.float32, format="csr"), genre_matrix], format="csr")
    sums = np.asarray(features.sum(axis=1)).ravel()
    return sp.diags(1.0 / sums).astype(np.float32) @ features


def fit_surprise(algorithm, train, test, rating_scale):
    """Fit a Surprise algorithm on a ratings DataFrame and return (test predictions, fit seconds).

    Predictions are clipped to ``rating_scale`` (low, high), as Surprise does by default.
    """
    from surprise import Dataset, Reader

    reader = Reader(rating_scale=rating_scale)
    trainset = Dataset.load_from_df(train[["user_id", "movie_id", "rating"]], reader).build_full_trainset()

    started = time.perf_counter()
    algorithm.fit(trainset)
    seconds = time.perf_counter() - started

    predictions = np.array(
        [algorithm.predict(user, movie).est for user, movie in zip(test["user_id"], test["movie_id"])], dtype=np.float64
    )
    return predictions, seconds
