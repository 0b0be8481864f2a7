"""Implicit-feedback alternating least squares through the ``implicit`` library.

The model follows Hu, Koren and Volinsky, "Collaborative Filtering for
Implicit Feedback Datasets" (ICDM 2008): every rating is a positive
observation p_ui = 1 whose confidence grows with the rating,
c_ui = 1 + alpha * r_ui (their equation 6 with r_ui the star rating), and
every unrated cell is p_ui = 0 with confidence 1. ``implicit`` solves the
weighted least-squares problem; this wrapper adds the confidence transform,
input checks and the fold-in of users who were not in training.
"""

import logging
import time

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from collaborative._checks import (
    check_finite_factors,
    check_fold_in_input,
    check_user_items,
)

logger = logging.getLogger(__name__)

_controller = None


def _require_fitted(estimator, attribute):
    # scikit-learn's check_is_fitted builds the estimator's tags on every
    # call (several microseconds in scikit-learn 1.9), which adds up on the
    # request path. A present attribute gives the same answer; a missing one
    # still raises scikit-learn's NotFittedError.
    if not hasattr(estimator, attribute):
        check_is_fitted(estimator, attribute)


def _single_blas_thread():
    """Return a context manager that limits BLAS to one thread.

    ``threadpool_limits`` scans the loaded libraries on every call, which
    took about 5 ms, as long as a whole fold-in; the controller scans once
    per process and is reused.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


class ImplicitALS(BaseEstimator):
    """Ranking model: implicit ALS over the users x items matrix of ratings.

    Parameters
    ----------
    factors : int
        Number of latent factors.
    regularization : float
        L2 penalty lambda on user and item factors.
    alpha : float
        Confidence slope: a rating r counts with confidence 1 + alpha * r.
    iterations : int
        Number of ALS sweeps (one user solve and one item solve each).
    random_state : int, numpy.random.RandomState or None
        Seed of the factor initialization.
    num_threads : int
        Threads ``implicit`` uses while fitting; 0 means one per core.
    show_progress : bool
        Show a progress bar over the iterations.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors), float32
    item_factors_ : ndarray of shape (n_items, factors), float32
    """

    def __init__(
        self,
        factors=64,
        regularization=0.05,
        alpha=1.0,
        iterations=15,
        random_state=None,
        num_threads=0,
        show_progress=False,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads
        self.show_progress = show_progress

    def _check_params(self):
        if isinstance(self.factors, bool) or not isinstance(self.factors, (int, np.integer)) or self.factors < 1:
            raise ValueError(f"factors must be a positive integer, got {self.factors!r}")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, (int, np.integer)) or self.iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {self.iterations!r}")
        if not self.regularization >= 0:
            raise ValueError(f"regularization must be >= 0, got {self.regularization!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha!r}")

    def confidence(self, ratings):
        """Return the confidence c = 1 + alpha * r of each rating (Hu et al. 2008, eq. 6)."""
        return (1.0 + self.alpha * np.asarray(ratings, dtype=np.float32)).astype(np.float32)

    def fit(self, user_items):
        """Learn user and item factors from a users x items matrix of ratings.

        Ratings must be positive: a stored value <= 0 would make ``implicit``
        read the cell as a dislike.
        """
        self._check_params()
        ratings = check_user_items(user_items)
        if (ratings.data <= 0).any():
            raise ValueError("user_items must hold positive ratings; shift the rating scale so that its minimum is above 0")

        confidence = ratings.copy()
        confidence.data = self.confidence(confidence.data)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)

        # alpha is applied above, so implicit must not scale again. OpenBLAS is
        # limited to one thread because implicit parallelizes over users itself
        # and nested thread pools oversubscribe the cores.
        with _single_blas_thread():
            solver = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                random_state=seed,
                num_threads=self.num_threads,
                use_gpu=False,
            )
            started = time.perf_counter()
            solver.fit(confidence, show_progress=self.show_progress)
        logger.debug("ALS fitted %d users x %d items in %.2f s", *ratings.shape, time.perf_counter() - started)

        self.user_factors_ = np.ascontiguousarray(solver.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(solver.item_factors, dtype=np.float32)
        check_finite_factors("ImplicitALS", user_factors_=self.user_factors_, item_factors_=self.item_factors_)
        self._solver = None
        return self

    @property
    def n_items(self):
        _require_fitted(self, "item_factors_")
        return self.item_factors_.shape[0]

    def user_vector(self, user_index):
        """Return the learned factors of training user ``user_index``."""
        _require_fitted(self, "user_factors_")
        return self.user_factors_[user_index]

    def _fold_in_solver(self):
        # implicit's Cython solver wants writable factor buffers, so a bundle
        # loaded read-only is copied once here; a copy-on-write memory map
        # passes as it is.
        solver = getattr(self, "_solver", None)
        if solver is None:
            with _single_blas_thread():
                solver = AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    alpha=1.0,
                    num_threads=1,
                    use_gpu=False,
                )
            item_factors = self.item_factors_
            if not item_factors.flags.writeable:
                item_factors = np.array(item_factors)
            solver.item_factors = item_factors
            self._solver = solver
        return solver

    def fold_in(self, item_indices, ratings):
        """Return factors for a user who was not in training, from that user's ratings.

        This is one user's least-squares step of ALS against the fixed item
        factors, so it costs one k x k solve and no retraining.
        """
        _require_fitted(self, "item_factors_")
        items, values = check_fold_in_input(item_indices, ratings, self.n_items)
        if items.size == 0:
            return np.zeros(self.item_factors_.shape[1], dtype=np.float32)

        order = np.argsort(items)
        row = sp.csr_matrix(
            (self.confidence(values[order]), items[order], np.array([0, items.size])),
            shape=(1, self.n_items),
        )
        with _single_blas_thread():
            factors = self._fold_in_solver().recalculate_user(0, row)
        return np.asarray(factors, dtype=np.float32)

    def fold_in_many(self, user_items):
        """Return factors for many users who were not in training, one row per row of ``user_items``.

        Each row is the same least-squares step as ``fold_in``; ``implicit``
        solves them in one call.

        Returns
        -------
        ndarray of shape (n_users, factors), float32
        """
        check_is_fitted(self, "item_factors_")
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if matrix.shape[1] != self.n_items:
            raise ValueError(f"user_items must have {self.n_items} columns, got {matrix.shape[1]}")
        matrix.eliminate_zeros()
        matrix.sort_indices()
        if not np.isfinite(matrix.data).all():
            raise ValueError("ratings must be finite numbers")

        confidence = matrix.copy()
        confidence.data = self.confidence(confidence.data)
        with _single_blas_thread():
            factors = self._fold_in_solver().recalculate_user(np.arange(matrix.shape[0]), confidence)
        return np.asarray(factors, dtype=np.float32).reshape(matrix.shape[0], -1)

    def score(self, user_vector, item_indices=None):
        """Return the preference scores x_u . y_i of all items, or of ``item_indices``."""
        _require_fitted(self, "item_factors_")
        item_factors = self.item_factors_ if item_indices is None else self.item_factors_[item_indices]
        return item_factors @ np.asarray(user_vector, dtype=np.float32)

    def score_many(self, user_vectors):
        """Return the scores x_u . y_i of every item for each row of ``user_vectors``.

        Returns
        -------
        ndarray of shape (n_users, n_items), float32
        """
        check_is_fitted(self, "item_factors_")
        return np.asarray(user_vectors, dtype=np.float32) @ self.item_factors_.T

    def _item_gram(self):
        # Y^T Y over all items, cached for as long as the item factors are the same array.
        cached = getattr(self, "_gram_cache", None)
        if cached is None or cached[0] is not self.item_factors_:
            factors = np.asarray(self.item_factors_, dtype=np.float64)
            cached = (self.item_factors_, factors.T @ factors)
            self._gram_cache = cached
        return cached[1]

    def explanation_factor(self, item_indices, ratings):
        """Return the Cholesky factor of the fold-in system Y^T C Y + lambda I of these ratings.

        ``explain`` solves this system for every request. It depends only on
        the ratings, so a caller that explains the same user again (a user who
        was in training) can compute it once and pass it to ``explain``.

        Returns
        -------
        ndarray of shape (factors, factors), float64
            The upper triangle U with U^T U = Y^T C Y + lambda I.
        """
        _require_fitted(self, "item_factors_")
        items, values = check_fold_in_input(item_indices, ratings, self.item_factors_.shape[0])
        return self._system_factor(items, values)

    def _system_factor(self, items, values):
        rated = np.asarray(self.item_factors_[items], dtype=np.float64)
        confidence = self.confidence(values).astype(np.float64)
        # Y^T (C - I) Y as S^T S with S = sqrt(C - I) Y, which BLAS computes
        # faster than the product with a diagonal in between; C - I = alpha * r >= 0.
        scaled = rated * np.sqrt(confidence - 1.0)[:, None]
        system = self._item_gram() + scaled.T @ scaled + self.regularization * np.eye(rated.shape[1])
        # The Cholesky factorization of LAPACK's posv, without
        # scipy.linalg.solve's input checks: the system is finite and
        # positive definite by construction.
        upper, _ = scipy.linalg.cho_factor(system, check_finite=False)
        return upper

    def explain(self, item_indices, ratings, target_items, factor=None):
        """Return how much each rated item adds to the score of each target item.

        This is the decomposition of Hu, Koren and Volinsky (2008), section 5:
        for the user folded in from ``ratings``, the score of item i is
        sum_j s_ij c_j, with W = (Y^T C Y + lambda I)^-1 and s_ij = y_i^T W y_j.
        Entry [j, t] of the result is s_ij c_j for rated item j and target
        item i = ``target_items[t]``, so each column sums to the score that
        ``score(fold_in(item_indices, ratings))`` gives that target.

        ``factor``, from ``explanation_factor`` of the same ratings, skips
        building and factorizing the system.
        """
        _require_fitted(self, "item_factors_")
        n_items = self.item_factors_.shape[0]
        items, values = check_fold_in_input(item_indices, ratings, n_items)
        targets = np.asarray(target_items, dtype=np.int64).ravel()
        if targets.size and (targets.min() < 0 or targets.max() >= n_items):
            raise ValueError(f"target_items must lie in [0, {n_items}), got values from {targets.min()} to {targets.max()}")

        if factor is None:
            factor = self._system_factor(items, values)
        rated = np.asarray(self.item_factors_[items], dtype=np.float64)
        confidence = self.confidence(values).astype(np.float64)
        target_factors = np.asarray(self.item_factors_[targets], dtype=np.float64).T
        weighted_targets = scipy.linalg.cho_solve((factor, False), target_factors, check_finite=False)
        return (rated @ weighted_targets) * confidence[:, None]
