"""Popularity: how many users rated each item.

It is the fallback for a user with no ratings and one of the blended
signals for everyone else, because a movie many people rated is more likely
to be one the next person watches.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from collaborative._checks import check_user_items, require_fitted


class Popularity(BaseEstimator):
    """Ranking model that scores each item by the log of its number of ratings.

    Ties (the same count) are broken by the mean rating shrunk toward the
    global mean with ``damping`` pseudo-ratings, so that among equally
    popular items the better liked one comes first.

    Parameters
    ----------
    damping : float
        Number of pseudo-ratings at the global mean added to each item's mean.

    Attributes
    ----------
    counts_ : ndarray of shape (n_items,), int64
        Number of ratings of each item.
    damped_means_ : ndarray of shape (n_items,), float32
        Mean rating of each item shrunk toward the global mean.
    scores_ : ndarray of shape (n_items,), float32
        log(1 + count) plus a tie-breaker below 1e-3.
    """

    def __init__(self, damping=5.0):
        self.damping = damping

    def fit(self, user_items):
        """Count the ratings of each item in a users x items matrix."""
        if not self.damping >= 0:
            raise ValueError(f"damping must be >= 0, got {self.damping!r}")
        ratings = check_user_items(user_items).tocsc()

        counts = np.diff(ratings.indptr).astype(np.int64)
        sums = np.asarray(ratings.sum(axis=0)).ravel()
        global_mean = ratings.data.mean()
        damped = (sums + self.damping * global_mean) / (counts + self.damping)
        self._set_state(counts, damped.astype(np.float32))
        return self

    def _set_state(self, counts, damped_means):
        self.counts_ = counts
        self.damped_means_ = damped_means

        # The damped mean lies within the rating scale, so dividing by a
        # bound far above any scale keeps the tie-breaker below one count.
        tie_breaker = damped_means / (1000.0 * max(float(np.abs(damped_means).max()), 1.0))
        self.scores_ = (np.log1p(counts) + tie_breaker).astype(np.float32)

    def score(self, user_vector=None, item_indices=None):
        """Return the popularity scores of all items, or of ``item_indices``.

        ``user_vector`` is accepted for the common scoring contract and
        ignored: popularity is the same for everyone.
        """
        require_fitted(self, "scores_")
        return self.scores_ if item_indices is None else self.scores_[item_indices]

    def ranking(self):
        """Return all item indices, most popular first."""
        check_is_fitted(self, "scores_")
        return np.argsort(-self.scores_, kind="stable")
