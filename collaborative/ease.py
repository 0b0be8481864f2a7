"""EASE: an item-item model with a closed-form solution.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW 2019),
learns an item-item weight matrix B by ridge regression of each item's
column of the users x items matrix X on all other columns::

    min_B  |X - X B|_F^2 + lambda |B|_F^2   subject to  diag(B) = 0

Its solution (equation 8 of the paper) needs one matrix inverse::

    P = (X^T X + lambda I)^-1,    B_ij = -P_ij / P_jj  (i != j),    B_jj = 0

A user's scores are their row of X times B, so a user who was not in
training needs no fold-in step: the ratings are the user's vector.

The inverse costs O(m^3) time and O(m^2) memory in the number of items m,
so only the ``max_items`` most rated items are modelled. The other items
score 0, which is what EASE gives an item that no training user rated.
"""

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from collaborative._checks import check_finite_factors, check_fold_in_input, check_user_items, require_fitted

logger = logging.getLogger(__name__)


class EASE(BaseEstimator):
    """Ranking model: EASE item-item weights over the most rated items.

    Parameters
    ----------
    regularization : float
        The L2 penalty lambda on B; it is added to the diagonal of the
        Gram matrix X^T X.
    rating_exponent : float
        Each rating r enters X as r ** rating_exponent: 0 gives Steck's
        binary matrix (rated or not); 0.5 lets higher ratings weigh more.
    max_items : int
        Number of items modelled, the most rated first (ties by index).
        Memory is about 24 bytes times max_items squared while fitting, and
        4 bytes times max_items squared afterwards.

    Attributes
    ----------
    item_weights_ : ndarray of shape (n_covered, n_covered), float32
        The matrix B over the covered items, zero on the diagonal.
    covered_items_ : ndarray of shape (n_covered,), int64
        Item index of each row and column of ``item_weights_``, ascending.
    n_items_ : int
        Number of items (columns) of the training matrix.
    """

    def __init__(self, regularization=400.0, rating_exponent=0.0, max_items=3000):
        self.regularization = regularization
        self.rating_exponent = rating_exponent
        self.max_items = max_items

    def _check_params(self):
        if isinstance(self.max_items, bool) or not isinstance(self.max_items, (int, np.integer)) or self.max_items < 1:
            raise ValueError(f"max_items must be a positive integer, got {self.max_items!r}")
        if isinstance(self.regularization, bool) or not self.regularization > 0:
            raise ValueError(f"regularization must be > 0, got {self.regularization!r}")
        if isinstance(self.rating_exponent, bool) or not 0 <= self.rating_exponent <= 2:
            raise ValueError(f"rating_exponent must be a number in [0, 2], got {self.rating_exponent!r}")

    def transform_ratings(self, ratings):
        """Return the entries of X for the given ratings, r ** rating_exponent."""
        values = np.asarray(ratings, dtype=np.float32)
        if self.rating_exponent == 0:
            return np.ones_like(values)
        return np.power(np.maximum(values, 0.0), np.float32(self.rating_exponent))

    def fit(self, user_items):
        """Learn B from a users x items matrix of positive ratings."""
        self._check_params()
        ratings = check_user_items(user_items)
        if (ratings.data <= 0).any():
            raise ValueError("user_items must hold positive ratings; shift the rating scale so that its minimum is above 0")
        started = time.perf_counter()

        n_items = ratings.shape[1]
        counts = np.bincount(ratings.indices, minlength=n_items)
        by_count = np.lexsort((np.arange(n_items), -counts))
        covered = np.sort(by_count[: min(self.max_items, n_items)]).astype(np.int64)

        inputs = ratings[:, covered]
        inputs.data = self.transform_ratings(inputs.data)
        gram = (inputs.T @ inputs).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.regularization

        # LU inversion (LAPACK getrf and getri through numpy) measured faster
        # than the Cholesky route with OpenBLAS 0.3, whose potri ran about
        # three times slower than getri on a 3,000-item Gram matrix.
        # With lambda > 0 the matrix is positive definite, so it always inverts.
        inverse = np.linalg.inv(gram)
        del gram

        inverse /= -np.diag(inverse).copy()[None, :]
        np.fill_diagonal(inverse, 0.0)
        self.item_weights_ = inverse.astype(np.float32)
        self.covered_items_ = covered
        self.n_items_ = int(n_items)
        check_finite_factors("EASE", item_weights_=self.item_weights_)

        logger.debug(
            "EASE fitted %d of %d items in %.2f s", covered.size, n_items, time.perf_counter() - started
        )
        return self

    @property
    def n_items(self):
        require_fitted(self, "item_weights_")
        return self.n_items_

    def _covered_positions(self):
        """Return, for each item index, its row in ``item_weights_`` or -1 when not covered."""
        positions = getattr(self, "_positions", None)
        if positions is None or positions.size != self.n_items_:
            positions = np.full(self.n_items_, -1, dtype=np.int64)
            positions[self.covered_items_] = np.arange(self.covered_items_.size)
            self._positions = positions
        return positions

    def fold_in(self, item_indices, ratings):
        """Return the user's row of X over the covered items, from that user's ratings.

        EASE has no user parameters, so this works the same for users in and
        out of training. Rated items that are not covered are dropped.
        """
        require_fitted(self, "item_weights_")
        items, values = check_fold_in_input(item_indices, ratings, self.n_items_)

        vector = np.zeros(self.covered_items_.size, dtype=np.float32)
        positions = self._covered_positions()[items]
        kept = positions >= 0
        vector[positions[kept]] = self.transform_ratings(values[kept])
        return vector

    def score(self, user_vector, item_indices=None):
        """Return x_u B for all items, or for ``item_indices``; items not covered score 0."""
        require_fitted(self, "item_weights_")
        vector = np.asarray(user_vector, dtype=np.float32)
        if vector.shape != (self.covered_items_.size,):
            raise ValueError(
                f"user_vector must have shape ({self.covered_items_.size},), the covered items, got {vector.shape}"
            )

        # Only the rated rows of B contribute, so a user with r ratings costs
        # r x n_covered operations instead of a full vector-matrix product.
        rated = np.flatnonzero(vector)
        scores = np.zeros(self.n_items_, dtype=np.float32)
        scores[self.covered_items_] = vector[rated] @ self.item_weights_[rated]
        return scores if item_indices is None else scores[item_indices]

    def explain(self, item_indices, ratings, target_items):
        """Return how much each rated item adds to the score of each target item.

        The score of target i is sum_j x_j B_ji over the rated items j, so
        entry [j, t] is x_j B_ji for i = ``target_items[t]``, and each column
        sums to the target's ``score``. Rated or target items that are not
        covered have all-zero rows or columns.
        """
        require_fitted(self, "item_weights_")
        items, values = check_fold_in_input(item_indices, ratings, self.n_items_)
        targets = np.asarray(target_items, dtype=np.int64).ravel()
        if targets.size and (targets.min() < 0 or targets.max() >= self.n_items_):
            raise ValueError(f"target_items must lie in [0, {self.n_items_}), got values from {targets.min()} to {targets.max()}")

        positions = self._covered_positions()
        rated, target = positions[items], positions[targets]
        terms = np.zeros((items.size, targets.size), dtype=np.float64)
        rated_rows, target_columns = np.flatnonzero(rated >= 0), np.flatnonzero(target >= 0)

        # One gather from the flattened matrix reads the weights B_ji about
        # twice as fast as indexing with np.ix_.
        flat_weights = np.asarray(self.item_weights_).reshape(-1)
        flat_positions = rated[rated_rows][:, None] * self.covered_items_.size + target[target_columns][None, :]
        inputs = self.transform_ratings(values[rated_rows]).astype(np.float64)
        products = inputs[:, None] * flat_weights[flat_positions]
        if target_columns.size == targets.size:
            terms[rated_rows] = products
        else:
            terms[np.ix_(rated_rows, target_columns)] = products
        return terms

    def fold_in_many(self, user_items):
        """Return the rows of X over the covered items for each row of a users x items matrix of ratings.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_users, n_covered), float32
        """
        check_is_fitted(self, "item_weights_")
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if matrix.shape[1] != self.n_items_:
            raise ValueError(f"user_items must have {self.n_items_} columns, got {matrix.shape[1]}")
        matrix.eliminate_zeros()

        inputs = matrix[:, self.covered_items_].tocsr()
        inputs.data = self.transform_ratings(inputs.data)
        return inputs

    def score_many(self, user_vectors):
        """Return x_u B of every item for each row of ``user_vectors`` (the output of ``fold_in_many``).

        Returns
        -------
        ndarray of shape (n_users, n_items), float32
        """
        check_is_fitted(self, "item_weights_")
        if user_vectors.shape[1] != self.covered_items_.size:
            raise ValueError(
                f"user_vectors must have {self.covered_items_.size} columns, the covered items, got {user_vectors.shape[1]}"
            )

        scores = np.zeros((user_vectors.shape[0], self.n_items_), dtype=np.float32)
        scores[:, self.covered_items_] = user_vectors @ self.item_weights_
        return scores
