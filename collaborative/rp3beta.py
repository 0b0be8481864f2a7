"""RP3beta: item-item weights from a three-step random walk on the user-item graph.

Cooper et al., "Random Walks in Recommender Systems: Exact Computation and
Simulations" (WWW 2014) rank items for a user by the probability that a
walk of three steps, user -> item -> user -> item, ends on them (P3). Each
step picks an edge uniformly among those of the current node, so with the
users x items matrix of rated-or-not entries R::

    P_ui = R / deg(u),    P_iu = R^T / deg(i),    W = P_iu P_ui

Christoffel et al., "Blockbusters and Wallflowers" (RecSys 2015) raise
each transition probability to a power ``alpha`` (P3alpha). Paudel et al.,
"Updatable, Accurate, Diverse, and Scalable Recommendations for Interactive
Applications" (ACM TiiS 2017) then divide column j of W by deg(j) ** ``beta``,
so that the walk's pull towards popular items can be traded for novelty
(RP3beta)::

    W_ij = sum_v (R_vi / deg(i)) ** alpha (R_vj / deg(v)) ** alpha / deg(j) ** beta

A user's score of item j is the sum of W_ij over the items i the user rated
(the user's first step, (1 / deg(u)) ** alpha, scales every item alike and
does not change the ranking). Like EASE, it needs no fold-in: a single
rating gives an answer at once, which makes it a strong cold-start signal.
Only the ``neighbours`` largest weights of each row are kept, so W is sparse.

Computing W costs the sum over users of their number of ratings squared,
which heavy users dominate. On the synthetic 20 million ratings of
benchmarks/scale.py that sum is 2.2e10, and 3.8e9 with each user's ratings
capped at 500. So the walk runs over at most ``max_user_ratings`` ratings
of each user, a random subset for users with more.
"""

import logging
import time

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from collaborative._checks import check_finite_factors, check_fold_in_input, check_user_items, require_fitted

logger = logging.getLogger(__name__)

# Memory for the largest weights of the rows of W computed together.
_BLOCK_BYTES = 64 * 2**20


@njit(parallel=True, nogil=True, cache=True)
def _largest_weights(
    start, stop, item_indptr, item_users, user_indptr, user_items, user_weight, row_scale, column_scale, keep, columns, values
):
    """Fill ``columns`` and ``values`` with the ``keep`` largest weights of rows ``start`` to ``stop`` of W.

    Row i of R^T diag(user_weight) R adds the weighted rows of the users
    who rated item i, so the whole matrix costs the sum of the squared user
    degrees. Rows are independent and run in parallel, each in a dense
    buffer as long as a row of W.
    """
    n_items = column_scale.size
    for offset in prange(stop - start):
        item = start + offset
        row = np.zeros(n_items)
        for position in range(item_indptr[item], item_indptr[item + 1]):
            user = item_users[position]
            weight = user_weight[user]
            for rated in range(user_indptr[user], user_indptr[user + 1]):
                row[user_items[rated]] += weight

        for other in range(n_items):
            row[other] *= row_scale[item] * column_scale[other]
        row[item] = 0.0

        if keep < n_items:
            top = np.argpartition(-row, keep - 1)[:keep]
        else:
            top = np.arange(n_items)
        for rank in range(keep):
            columns[offset, rank] = top[rank]
            values[offset, rank] = row[top[rank]]


class RP3Beta(BaseEstimator):
    """Ranking model: random-walk item-item weights with a popularity penalty.

    Parameters
    ----------
    alpha : float
        Exponent of each transition probability; 1 is the plain walk.
    beta : float
        Exponent of the popularity penalty: column j of W is divided by
        deg(j) ** beta. 0 is P3alpha; larger values favour less rated items.
    neighbours : int
        Weights kept per row of W (item), the largest ones.
    max_user_ratings : int or None
        Ratings of each user that the walk goes through; a user with more
        contributes a random subset of this size. None keeps them all.
    random_state : int, RandomState or None
        Seed of the subsets of ``max_user_ratings``.

    Attributes
    ----------
    item_weights_ : scipy.sparse.csr_matrix of shape (n_items, n_items), float32
        The matrix W, zero on the diagonal, at most ``neighbours`` entries per row.
    n_items_ : int
        Number of items (columns) of the training matrix.
    """

    def __init__(self, alpha=1.0, beta=0.5, neighbours=200, max_user_ratings=500, random_state=None):
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours
        self.max_user_ratings = max_user_ratings
        self.random_state = random_state

    def _check_params(self):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha <= 3:
            raise ValueError(f"alpha must be a number in (0, 3], got {self.alpha!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not 0 <= self.beta <= 2:
            raise ValueError(f"beta must be a number in [0, 2], got {self.beta!r}")
        if isinstance(self.neighbours, bool) or not isinstance(self.neighbours, (int, np.integer)) or self.neighbours < 1:
            raise ValueError(f"neighbours must be a positive integer, got {self.neighbours!r}")
        limit = self.max_user_ratings
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
            raise ValueError(f"max_user_ratings must be a positive integer or None, got {limit!r}")

    def fit(self, user_items):
        """Learn W from a users x items matrix; every stored entry counts as one edge, whatever its value."""
        self._check_params()
        ratings = self._limit_user_ratings(check_user_items(user_items))
        started = time.perf_counter()

        n_items = ratings.shape[1]
        user_degree = np.maximum(np.diff(ratings.indptr), 1).astype(np.float64)
        by_item = ratings.tocsc()
        item_degree = np.maximum(np.diff(by_item.indptr), 1).astype(np.float64)

        # With R binary, (R_vi / deg(i))^alpha (R_vj / deg(v))^alpha is
        # deg(i)^-alpha deg(v)^-alpha whenever user v rated both items, so
        # W = diag(deg(i)^-alpha) (R^T diag(deg(v)^-alpha) R) diag(deg(j)^-beta).
        user_weight = np.power(user_degree, -float(self.alpha))
        row_scale = np.power(item_degree, -float(self.alpha))
        column_scale = np.power(item_degree, -float(self.beta))

        # W is computed a block of rows at a time and pruned to its largest
        # weights at once, so the dense items x items matrix never exists.
        keep = min(int(self.neighbours), n_items)
        block = max(1, min(n_items, _BLOCK_BYTES // (16 * keep)))
        rows, columns, values = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            top_columns = np.empty((stop - start, keep), dtype=np.int64)
            top_values = np.empty((stop - start, keep), dtype=np.float64)
            _largest_weights(
                start, stop, by_item.indptr, by_item.indices, ratings.indptr, ratings.indices,
                user_weight, row_scale, column_scale, keep, top_columns, top_values,
            )

            nonzero = top_values > 0
            rows.append(np.repeat(np.arange(start, stop), nonzero.sum(axis=1)))
            columns.append(top_columns[nonzero])
            values.append(top_values[nonzero])

        matrix = sp.csr_matrix(
            (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(columns))),
            shape=(n_items, n_items),
        )
        matrix.sort_indices()
        self.item_weights_ = matrix
        self.n_items_ = int(n_items)
        check_finite_factors("RP3beta", item_weights_=matrix.data)

        logger.debug(
            "RP3beta kept %d weights over %d items in %.2f s", matrix.nnz, n_items, time.perf_counter() - started
        )
        return self

    def _limit_user_ratings(self, ratings):
        """Return ``ratings`` with a random ``max_user_ratings`` of each heavier user's ratings kept."""
        limit = self.max_user_ratings
        counts = np.diff(ratings.indptr)
        if limit is None or counts.max() <= limit:
            return ratings

        # Sorting each row's entries by a random key and keeping the first
        # ``limit`` keeps a uniform random subset of that row.
        rows = np.repeat(np.arange(ratings.shape[0]), counts)
        keys = check_random_state(self.random_state).random_sample(ratings.nnz)
        order = np.lexsort((keys, rows))
        rank = np.empty(ratings.nnz, dtype=np.int64)
        rank[order] = np.arange(ratings.nnz) - ratings.indptr[rows[order]]
        kept = rank < limit

        indptr = np.concatenate([[0], np.cumsum(np.minimum(counts, limit))])
        limited = sp.csr_matrix((ratings.data[kept], ratings.indices[kept], indptr), shape=ratings.shape)
        logger.debug("RP3beta walks over %d of %d ratings, at most %d per user", limited.nnz, ratings.nnz, limit)
        return limited

    @property
    def n_items(self):
        require_fitted(self, "item_weights_")
        return self.n_items_

    def fold_in(self, item_indices, ratings):
        """Return the user's row of R (1 for each rated item) from that user's ratings.

        RP3beta has no user parameters, so this works the same for users in
        and out of training. Only which items were rated matters, not the
        rating values.
        """
        require_fitted(self, "item_weights_")
        items, _ = check_fold_in_input(item_indices, ratings, self.n_items_)

        vector = np.zeros(self.n_items_, dtype=np.float32)
        vector[items] = 1.0
        return vector

    def score(self, user_vector, item_indices=None):
        """Return the sum of the rated items' rows of W, for all items or for ``item_indices``."""
        require_fitted(self, "item_weights_")
        vector = np.asarray(user_vector, dtype=np.float32)
        if vector.shape != (self.n_items_,):
            raise ValueError(f"user_vector must have shape ({self.n_items_},), got {vector.shape}")

        # Only the rated rows of W contribute.
        rated = np.flatnonzero(vector)
        scores = np.asarray(self.item_weights_[rated].T @ vector[rated], dtype=np.float32)
        return scores if item_indices is None else scores[item_indices]

    def explain(self, item_indices, ratings, target_items):
        """Return how much each rated item adds to the score of each target item.

        Entry [j, t] is W[item j, target t], so each column sums to the
        target's ``score``.
        """
        require_fitted(self, "item_weights_")
        items, _ = check_fold_in_input(item_indices, ratings, self.n_items_)
        targets = np.asarray(target_items, dtype=np.int64).ravel()
        if targets.size and (targets.min() < 0 or targets.max() >= self.n_items_):
            raise ValueError(f"target_items must lie in [0, {self.n_items_}), got values from {targets.min()} to {targets.max()}")

        return self.item_weights_[items][:, targets].toarray().astype(np.float64)

    def fold_in_many(self, user_items):
        """Return the rows of R (1 where rated) for each row of a users x items matrix of ratings.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_users, n_items), float32
        """
        check_is_fitted(self, "item_weights_")
        # A copy: csr_matrix returns its argument itself when it is float32
        # CSR already, and the caller's ratings must keep their values.
        matrix = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        if matrix.shape[1] != self.n_items_:
            raise ValueError(f"user_items must have {self.n_items_} columns, got {matrix.shape[1]}")
        matrix.eliminate_zeros()
        matrix.data[:] = 1.0
        return matrix

    def score_many(self, user_vectors):
        """Return the scores of every item for each row of ``user_vectors`` (the output of ``fold_in_many``).

        Returns
        -------
        ndarray of shape (n_users, n_items), float32
        """
        check_is_fitted(self, "item_weights_")
        if user_vectors.shape[1] != self.n_items_:
            raise ValueError(f"user_vectors must have {self.n_items_} columns, got {user_vectors.shape[1]}")
        return np.asarray((user_vectors @ self.item_weights_).toarray(), dtype=np.float32)
