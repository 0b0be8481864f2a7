"""The weighted blender: per-request normalization and weights that follow a user's history.

Components score on unrelated scales (ALS dot products, TF-IDF profile
products, predicted stars, log counts), so each component's scores are
standardized over the candidate movies of the request before the weighted
sum. Weights move from a cold-start set to a warm set as the number of
ratings the user has grows: content needs a single rating to work, while
collaborative factors only become reliable with more history.
"""

from dataclasses import dataclass, field

import numpy as np

# "collaborative" is implicit ALS, "ease" the EASE item-item model, "rating"
# the explicit MF's predicted rating.
COMPONENTS = ("collaborative", "ease", "content", "popularity", "rating")


# Tuned by ``true-recommend tune`` on ml-latest-small (see hybrid.config). With
# a few ratings, popularity and the predicted rating (which favours well-liked
# movies) lead; with many, ALS and EASE share the blend.
def _default_cold():
    return {"collaborative": 0.11, "content": 0.06, "popularity": 0.54, "rating": 0.29}


def _default_warm():
    return {"collaborative": 0.42, "ease": 0.55, "content": 0.02}


@dataclass
class BlendWeights:
    """Component weights as a function of how many ratings a user has.

    A user with at most ``cold_max_ratings`` ratings gets ``cold``; one with
    at least ``warm_min_ratings`` gets ``warm``; in between the two sets are
    interpolated linearly. Each set maps a component name from
    ``COMPONENTS`` to a non-negative weight.
    """

    cold: dict = field(default_factory=_default_cold)
    warm: dict = field(default_factory=_default_warm)
    cold_max_ratings: int = 5
    warm_min_ratings: int = 22

    def __post_init__(self):
        for name, weights in (("cold", self.cold), ("warm", self.warm)):
            unknown = sorted(set(weights) - set(COMPONENTS))
            if unknown:
                raise ValueError(f"blend.{name} has unknown components {unknown}; expected names from {list(COMPONENTS)}")
            for component, weight in weights.items():
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
                    raise ValueError(f"blend.{name}.{component} must be a number >= 0, got {weight!r}")
            if not any(weights.values()):
                raise ValueError(f"blend.{name} must give at least one component a weight above 0")
        if not 0 <= self.cold_max_ratings < self.warm_min_ratings:
            raise ValueError(
                "blend.cold_max_ratings must be >= 0 and below blend.warm_min_ratings, "
                f"got {self.cold_max_ratings} and {self.warm_min_ratings}"
            )

    def for_count(self, n_ratings):
        """Return the weight of each component for a user with ``n_ratings`` ratings."""
        if n_ratings <= self.cold_max_ratings:
            share = 0.0
        elif n_ratings >= self.warm_min_ratings:
            share = 1.0
        else:
            share = (n_ratings - self.cold_max_ratings) / (self.warm_min_ratings - self.cold_max_ratings)

        return {
            component: (1.0 - share) * self.cold.get(component, 0.0) + share * self.warm.get(component, 0.0)
            for component in COMPONENTS
        }

    def for_counts(self, n_ratings):
        """Return the weight of each component for each of many users, as arrays aligned with ``n_ratings``."""
        counts = np.asarray(n_ratings, dtype=np.float64)
        span = self.warm_min_ratings - self.cold_max_ratings
        share = np.clip((counts - self.cold_max_ratings) / span, 0.0, 1.0)
        return {
            component: (1.0 - share) * self.cold.get(component, 0.0) + share * self.warm.get(component, 0.0)
            for component in COMPONENTS
        }

    def to_dict(self):
        return {
            "cold": dict(self.cold),
            "warm": dict(self.warm),
            "cold_max_ratings": self.cold_max_ratings,
            "warm_min_ratings": self.warm_min_ratings,
        }


def standardize(scores, candidates):
    """Return z-scores of ``scores`` taken over the ``candidates`` mask, 0 where the spread is 0.

    Mean and standard deviation come from the candidates only, so movies the
    user already rated, which will not be shown, do not shift the scale.
    """
    values = scores[candidates]
    if values.size == 0:
        return np.zeros_like(scores, dtype=np.float32)

    mean = values.mean(dtype=np.float64)
    spread = values.std(dtype=np.float64)
    if not spread > 1e-12:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores - mean) / spread).astype(np.float32)


def blend(component_scores, weights, candidates):
    """Return the weighted sum of standardized component scores and the standardized parts.

    Parameters
    ----------
    component_scores : dict of str to ndarray of shape (n_items,)
        Raw scores of each component that could score this user.
    weights : dict of str to float
        Weight of each component; a component missing from
        ``component_scores`` (no model for it, or nothing to score with) has
        its weight shared out among the others in proportion.
    candidates : ndarray of bool, shape (n_items,)
        Movies that may be recommended.

    Returns
    -------
    total : ndarray of shape (n_items,), float32
    parts : dict of str to ndarray
        Standardized score of each component that took part.
    """
    active = {name: weights.get(name, 0.0) for name in component_scores if weights.get(name, 0.0) > 0}
    weight_sum = sum(active.values())
    n_items = candidates.shape[0]
    total = np.zeros(n_items, dtype=np.float32)
    parts = {}
    if weight_sum == 0:
        return total, parts

    for name, weight in active.items():
        parts[name] = standardize(component_scores[name], candidates)
        total += (weight / weight_sum) * parts[name]
    return total, parts


def top_n(scores, candidates, n):
    """Return up to ``n`` candidate indices with the highest scores, best first.

    A partial sort (``argpartition``) finds the n best in linear time; only
    those n are then sorted, equal scores by index.
    """
    candidate_indices = np.flatnonzero(candidates)
    if candidate_indices.size == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)

    candidate_scores = scores[candidate_indices]
    if n < candidate_indices.size:
        best = np.argpartition(-candidate_scores, n - 1)[:n]
    else:
        best = np.arange(candidate_indices.size)
    order = np.lexsort((candidate_indices[best], -candidate_scores[best]))
    return candidate_indices[best[order]]


def standardize_many(scores, candidates):
    """Return ``standardize`` applied to each row: z-scores over that row's candidates.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
    candidates : ndarray of bool, shape (n_users, n_items)

    Returns
    -------
    ndarray of shape (n_users, n_items), float32
    """
    counts = candidates.sum(axis=1)
    safe_counts = np.maximum(counts, 1)[:, None]
    masked = np.where(candidates, scores, 0.0).astype(np.float64)
    mean = masked.sum(axis=1, keepdims=True) / safe_counts
    deviations = np.where(candidates, scores - mean, 0.0)
    spread = np.sqrt((deviations**2).sum(axis=1, keepdims=True) / safe_counts)

    usable = (spread > 1e-12) & (counts[:, None] > 0)
    standardized = (scores - mean) / np.where(usable, spread, 1.0)
    return np.where(usable, standardized, 0.0).astype(np.float32)


def blend_many(parts, weights):
    """Return the per-user weighted sum of standardized component scores.

    Parameters
    ----------
    parts : dict of str to ndarray of shape (n_users, n_items)
        Standardized scores of each component that could score these users.
    weights : dict of str to ndarray of shape (n_users,)
        Weight of each component for each user. As in ``blend``, the
        weights of a user are divided by their sum over the components in
        ``parts``; a user whose weights there are all 0 gets all-zero scores.

    Returns
    -------
    ndarray of shape (n_users, n_items), float32
    """
    n_users, n_items = next(iter(parts.values())).shape
    weight_sum = np.zeros(n_users, dtype=np.float64)
    for name in parts:
        weight_sum += np.asarray(weights.get(name, np.zeros(n_users)), dtype=np.float64)

    total = np.zeros((n_users, n_items), dtype=np.float32)
    share_of = np.divide(1.0, weight_sum, out=np.zeros(n_users), where=weight_sum > 0)
    for name, part in parts.items():
        share = np.asarray(weights.get(name, np.zeros(n_users)), dtype=np.float64) * share_of
        if (share > 0).any():
            total += share.astype(np.float32)[:, None] * part
    return total


def top_n_many(scores, candidates, n):
    """Return the ``n`` best candidates of each row, best first, as ``top_n`` does for one row.

    Rows with fewer than ``n`` candidates are padded with -1.

    Returns
    -------
    ndarray of shape (n_users, n), int64
    """
    n_users, n_items = scores.shape
    masked = np.where(candidates, scores, -np.inf).astype(np.float32)
    if n < n_items:
        best = np.argpartition(-masked, n - 1, axis=1)[:, :n]
    else:
        best = np.broadcast_to(np.arange(n_items), (n_users, n_items)).copy()

    best_scores = np.take_along_axis(masked, best, axis=1)
    order = np.lexsort((best, -best_scores), axis=1)
    ranked = np.take_along_axis(best, order, axis=1).astype(np.int64)
    ranked[~np.take_along_axis(candidates, ranked, axis=1)] = -1

    if ranked.shape[1] < n:
        padding = np.full((n_users, n - ranked.shape[1]), -1, dtype=np.int64)
        ranked = np.hstack([ranked, padding])
    return ranked
