"""RP3beta: item-item weights from a three-step random walk on the user-item graph.

Cooper et al., "Random Walks in Recommender Systems: Exact Computation and
Simulations" (WWW 2014) rank items for a user by the probability that a
walk of three steps, user -> item -> user -> item, ends on them (P3). Each
step picks an edge uniformly among those of the current node, so with the
users x items matrix of rated-or-not entries R::

    P_ui = R / deg(u),    P_iu = R^T / deg(i),    W = P_iu P_ui

Christoffel et al., "Blockbusters and Wallflowers" (RecSys 2015) raise
each transition probability to a power ``alpha`` (P3alpha), and Paudel et
al., "Updatable, Accurate, Diverse, and Scalable Recommendations for
Interactive Applications" (ACM TiiS 2017) divide column j of W by
deg(j) ** ``beta`` so that the walk's pull towards popular items can be
traded for novelty (RP3beta)::

    W_ij = sum_v (R_vi / deg(i)) ** alpha (R_vj / deg(v)) ** alpha / deg(j) ** beta

A user's score of item j is the sum of W_ij over the items i the user rated
(the user's first step, (1 / deg(u)) ** alpha, scales every item alike and
does not change the ranking). Like EASE, it needs no fold-in: a single
rating gives an answer at once, which makes it a strong cold-start signal.
Only the ``neighbours`` largest weights of each row are kept, so W is sparse.
"""

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from collaborative._checks import check_finite_factors, check_fold_in_input, check_user_items, require_fitted

logger = logging.getLogger(__name__)

# Rows of W computed together; each block holds a dense (rows x items) array.
_BLOCK_BYTES = 64 * 2**20


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

    Attributes
    ----------
    item_weights_ : scipy.sparse.csr_matrix of shape (n_items, n_items), float32
        The matrix W, zero on the diagonal, at most ``neighbours`` entries per row.
    n_items_ : int
        Number of items (columns) of the training matrix.
    """

    def __init__(self, alpha=1.0, beta=0.5, neighbours=200):
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours

    def _check_params(self):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha <= 3:
            raise ValueError(f"alpha must be a number in (0, 3], got {self.alpha!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not 0 <= self.beta <= 2:
            raise ValueError(f"beta must be a number in [0, 2], got {self.beta!r}")
        if isinstance(self.neighbours, bool) or not isinstance(self.neighbours, (int, np.integer)) or self.neighbours < 1:
            raise ValueError(f"neighbours must be a positive integer, got {self.neighbours!r}")

    def fit(self, user_items):
        """Learn W from a users x items matrix; every stored entry counts as one edge, whatever its value."""
        self._check_params()
        ratings = check_user_items(user_items)
        started = time.perf_counter()

        edges = sp.csr_matrix((np.ones(ratings.nnz, dtype=np.float64), ratings.indices, ratings.indptr), shape=ratings.shape)
        n_items = edges.shape[1]
        user_degree = np.maximum(np.diff(edges.indptr), 1).astype(np.float64)
        item_degree = np.bincount(edges.indices, minlength=n_items).astype(np.float64)

        user_to_item = sp.diags(1.0 / user_degree) @ edges
        item_to_user = (sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ edges.T).tocsr()
        if self.alpha != 1:
            user_to_item = user_to_item.power(self.alpha)
            item_to_user = item_to_user.power(self.alpha)
        penalty = np.power(np.maximum(item_degree, 1.0), -float(self.beta))

        # W is computed a block of rows at a time and pruned to its largest
        # weights at once, so the dense items x items product never exists.
        keep = min(int(self.neighbours), max(n_items - 1, 1))
        block = max(1, min(n_items, _BLOCK_BYTES // (8 * max(n_items, 1))))
        rows, columns, values = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            weights = (item_to_user[start:stop] @ user_to_item).toarray()
            weights *= penalty[None, :]
            weights[np.arange(stop - start), np.arange(start, stop)] = 0.0

            if keep < n_items:
                top = np.argpartition(-weights, keep - 1, axis=1)[:, :keep]
            else:
                top = np.broadcast_to(np.arange(n_items), weights.shape)
            kept = np.take_along_axis(weights, top, axis=1)
            nonzero = kept > 0
            rows.append(np.repeat(np.arange(start, stop), nonzero.sum(axis=1)))
            columns.append(top[nonzero])
            values.append(kept[nonzero])

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

    @property
    def n_items(self):
        require_fitted(self, "item_weights_")
        return self.n_items_

    def fold_in(self, item_indices, ratings):
        """Return the user's row of R (1 for each rated item) from that user's ratings.

        RP3beta has no user parameters, so this works the same for users in
        and out of training; the rating values do not matter, only which
        items were rated.
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
