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
from numba import njit

# "collaborative" is implicit ALS, "ease" the EASE item-item model,
# "rp3beta" the random-walk item-item model, "rating" the explicit MF's
# predicted rating.
COMPONENTS = ("collaborative", "ease", "rp3beta", "content", "popularity", "rating")


# Tuned by ``true-recommend tune`` on ml-latest-small (see hybrid.config). With
# a few ratings, popularity, RP3beta and the predicted rating (which favours
# well-liked movies) lead; with many, ALS and EASE share the blend.
def _default_cold():
    return {"rp3beta": 0.36, "popularity": 0.41, "rating": 0.19, "content": 0.03, "ease": 0.01}


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
    cold_max_ratings: int = 3
    warm_min_ratings: int = 26

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
    scores = np.asarray(scores)
    mean, spread = _candidate_statistics(scores, candidates)
    if not spread > _MIN_SPREAD:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores.astype(np.float64) - mean) / spread).astype(np.float32)


@dataclass
class Blend:
    """The blended scores of one request.

    ``total`` holds the blended score of every movie. ``statistics`` maps each
    component that took part to the mean and standard deviation of its raw
    ``scores`` over the candidates, from which ``parts`` standardizes the
    scores of the returned movies only.
    """

    total: np.ndarray
    scores: dict
    statistics: dict

    def parts(self, indices):
        """Return each component's standardized scores of the movies ``indices``, as float32 arrays."""
        indices = np.asarray(indices, dtype=np.int64)
        parts = {}
        for name, (mean, spread) in self.statistics.items():
            if spread > _MIN_SPREAD:
                parts[name] = ((self.scores[name][indices].astype(np.float64) - mean) / spread).astype(np.float32)
            else:
                parts[name] = np.zeros(indices.size, dtype=np.float32)
        return parts


def blend_scores(component_scores, weights, candidates, statistics=None):
    """Return the weighted sum of standardized component scores as a ``Blend``.

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
    statistics : dict of str to (float, float), optional
        The mean and standard deviation of a component's scores over
        ``candidates``, computed earlier by ``candidate_statistics``; the
        components it lists skip the two passes that compute them.

    Notes
    -----
    Each component costs two passes for its mean and spread and one pass
    that adds its standardized scores into the total, in a compiled loop;
    the standardized arrays themselves are never stored.
    """
    active = {name: weights.get(name, 0.0) for name in component_scores if weights.get(name, 0.0) > 0}
    weight_sum = sum(active.values())
    candidates = np.asarray(candidates, dtype=np.bool_)
    total = np.zeros(candidates.shape[0], dtype=np.float32)
    used_statistics = {}
    if weight_sum == 0:
        return Blend(total, {}, used_statistics)

    scores = {}
    for name, weight in active.items():
        scores[name] = np.ascontiguousarray(component_scores[name])
        # The share is rounded to float32 before the product, as NumPy
        # rounds a Python float that multiplies a float32 array.
        share = np.float32(weight / weight_sum)
        if statistics is not None and name in statistics:
            mean, spread = statistics[name]
            used_statistics[name] = _add_standardized_with(total, scores[name], share, mean, spread)
        else:
            used_statistics[name] = _add_standardized(total, scores[name], share, candidates)
    return Blend(total, scores, used_statistics)


def blend(component_scores, weights, candidates):
    """Return the weighted sum of standardized component scores and the standardized parts.

    The same sum as ``blend_scores``, with each component's standardized
    scores of every movie as a full array; for analysis and tests, while the
    request path uses ``blend_scores`` and standardizes only the movies it
    returns.

    Returns
    -------
    total : ndarray of shape (n_items,), float32
    parts : dict of str to ndarray
        Standardized score of each component that took part.
    """
    result = blend_scores(component_scores, weights, candidates)
    return result.total, result.parts(np.arange(result.total.size))


def candidate_statistics(scores, candidates):
    """Return the mean and standard deviation of ``scores`` over the ``candidates`` mask, as ``blend_scores`` computes them."""
    return _candidate_statistics(np.ascontiguousarray(scores), np.asarray(candidates, dtype=np.bool_))


def top_n(scores, candidates, n):
    """Return up to ``n`` candidate indices with the highest scores, best first.

    A bounded heap keeps the best ``n`` seen so far in one pass over the
    scores (a partial sort, O(n_items log n)); equal scores are ordered by
    index, the lower first.
    """
    candidates = np.asarray(candidates, dtype=np.bool_)
    if n <= 0 or candidates.size == 0:
        return np.zeros(0, dtype=np.int64)
    return _heap_select(np.ascontiguousarray(scores), candidates, min(int(n), candidates.size))


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

    Equal scores are ordered by index, the lower first, also where they
    straddle the n-th place. Rows with fewer than ``n`` candidates are
    padded with -1.

    Returns
    -------
    ndarray of shape (n_users, n), int64
    """
    n_users, n_items = scores.shape
    masked = np.where(candidates, scores, -np.inf).astype(np.float32)
    width = min(n, n_items)

    # The n-th best score of each row is the cut. Every score above it is
    # kept, and the ties at the cut are filled in index order.
    cut = -np.partition(-masked, width - 1, axis=1)[:, width - 1 : width]
    above = masked > cut
    at_cut = masked == cut
    needed = width - above.sum(axis=1, keepdims=True)
    kept = above | (at_cut & (np.cumsum(at_cut, axis=1) <= needed))

    # A stable sort of the mask lists each row's kept columns first, in index order.
    best = np.argsort(~kept, axis=1, kind="stable")[:, :width]
    best_scores = np.take_along_axis(masked, best, axis=1)
    order = np.lexsort((best, -best_scores), axis=1)
    ranked = np.take_along_axis(best, order, axis=1).astype(np.int64)
    ranked[~np.take_along_axis(candidates, ranked, axis=1)] = -1

    if width < n:
        padding = np.full((n_users, n - width), -1, dtype=np.int64)
        ranked = np.hstack([ranked, padding])
    return ranked

# Compiled kernels --------------------------------------------------------------

_MIN_SPREAD = 1e-12


@njit(cache=True, nogil=True)
def _candidate_statistics(scores, candidates):
    """Return the mean and standard deviation of ``scores`` over the candidates.

    Both are accumulated in float64 in two passes (the mean, then the squared
    deviations from it), which keeps the variance accurate where a one-pass
    sum of squares would cancel. No candidate gives (0, 0).
    """
    total = 0.0
    count = 0
    for index in range(scores.shape[0]):
        if candidates[index]:
            total += np.float64(scores[index])
            count += 1
    if count == 0:
        return 0.0, 0.0
    mean = total / count

    squares = 0.0
    for index in range(scores.shape[0]):
        if candidates[index]:
            deviation = np.float64(scores[index]) - mean
            squares += deviation * deviation
    return mean, np.sqrt(squares / count)


@njit(cache=True, nogil=True)
def _add_standardized(total, scores, share, candidates):
    """Add ``share`` times the z-scores of ``scores`` into ``total``; return (mean, spread)."""
    mean, spread = _candidate_statistics(scores, candidates)
    return _add_standardized_with(total, scores, share, mean, spread)


@njit(cache=True, nogil=True)
def _add_standardized_with(total, scores, share, mean, spread):
    """Add ``share`` times ``(scores - mean) / spread`` into ``total``, nothing when the spread is 0; return (mean, spread)."""
    if not spread > _MIN_SPREAD:
        return mean, spread
    for index in range(scores.shape[0]):
        standardized = np.float32((np.float64(scores[index]) - mean) / spread)
        total[index] += share * standardized
    return mean, spread


@njit(cache=True, nogil=True)
def _is_worse(score, index, other_score, other_index):
    return score < other_score or (score == other_score and index > other_index)


@njit(cache=True, nogil=True)
def _sift_down(heap_scores, heap_indices, position, size):
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        if child + 1 < size and _is_worse(heap_scores[child + 1], heap_indices[child + 1], heap_scores[child], heap_indices[child]):
            child += 1
        if not _is_worse(heap_scores[child], heap_indices[child], heap_scores[position], heap_indices[position]):
            return
        heap_scores[position], heap_scores[child] = heap_scores[child], heap_scores[position]
        heap_indices[position], heap_indices[child] = heap_indices[child], heap_indices[position]
        position = child


@njit(cache=True, nogil=True)
def _heap_select(scores, candidates, n):
    """Return the indices of the ``n`` best candidates, best first.

    The heap's root is the worst of the kept candidates, so each further
    candidate costs one comparison, and O(log n) swaps only when it beats
    the root. Candidates arrive in index order, so one that ties the root
    has the higher index and stays out.
    """
    heap_scores = np.empty(n, dtype=scores.dtype)
    heap_indices = np.empty(n, dtype=np.int64)
    size = 0
    for index in range(scores.shape[0]):
        if not candidates[index]:
            continue
        score = scores[index]
        if size < n:
            # Sift the new entry up from the end of the heap.
            position = size
            size += 1
            while position > 0:
                parent = (position - 1) // 2
                if not _is_worse(score, index, heap_scores[parent], heap_indices[parent]):
                    break
                heap_scores[position] = heap_scores[parent]
                heap_indices[position] = heap_indices[parent]
                position = parent
            heap_scores[position] = score
            heap_indices[position] = index
        elif score > heap_scores[0]:
            heap_scores[0] = score
            heap_indices[0] = index
            _sift_down(heap_scores, heap_indices, 0, size)

    # Heap sort: moving the worst entry to the end each time leaves the
    # kept entries ordered best first.
    for end in range(size - 1, 0, -1):
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_indices[0], heap_indices[end] = heap_indices[end], heap_indices[0]
        _sift_down(heap_scores, heap_indices, 0, end)
    return heap_indices[:size].copy()
