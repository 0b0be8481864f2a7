"""Accuracy metrics for predicted ratings and for top-k recommendation lists.

Ranking metrics all come from one hit matrix: row ``u`` of a
``(n_users, k)`` array of recommended item indices is compared once with
user ``u``'s relevant items, and precision, recall, NDCG, MAP and hit rate
are views of that comparison. Relevance is binary. With ``R_u`` the
relevant items of user ``u``, ``hit_i`` 1 when the item at rank ``i``
(from 1) is in ``R_u``, and ``m = min(k, |R_u|)``:

- precision@k = sum(hit_i) / k
- recall@k = sum(hit_i) / |R_u|
- NDCG@k = DCG / IDCG with DCG = sum(hit_i / log2(i + 1)); IDCG is the
  DCG of a perfect list, which has ``m`` hits, so at most ``k`` items count
  (Jarvelin and Kekalainen, "Cumulated gain-based evaluation of IR
  techniques", ACM TOIS 2002)
- AP@k = sum(precision@i * hit_i) / m, and MAP@k its mean over users
- hit rate@k = 1 when any of the k items is relevant

Each metric is averaged over the users with at least one relevant item.
Catalogue coverage is the share of all items that appear in at least one
list.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


def _paired(predicted, actual):
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    actual = np.asarray(actual, dtype=np.float64).ravel()
    if predicted.shape != actual.shape:
        raise ValueError(f"predicted and actual must have the same length, got {predicted.size} and {actual.size}")
    if predicted.size == 0:
        raise ValueError("predicted and actual must hold at least one rating")
    return predicted, actual


def rmse(predicted, actual):
    """Return the root mean squared error of predicted ratings."""
    predicted, actual = _paired(predicted, actual)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mae(predicted, actual):
    """Return the mean absolute error of predicted ratings."""
    predicted, actual = _paired(predicted, actual)
    return float(np.mean(np.abs(predicted - actual)))


def hit_matrix(recommended, relevant):
    """Return which recommended items are relevant.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, k), int
        Item indices, best first; -1 marks an empty slot.
    relevant : scipy.sparse matrix of shape (n_users, n_items)
        A stored non-zero entry marks a relevant item.

    Returns
    -------
    ndarray of bool, shape (n_users, k)
    """
    recommended = np.asarray(recommended)
    if recommended.ndim != 2:
        raise ValueError(f"recommended must be a 2-D array (n_users, k), got shape {recommended.shape}")
    relevant = sp.csr_matrix(relevant)
    relevant.eliminate_zeros()
    if relevant.shape[0] != recommended.shape[0]:
        raise ValueError(
            f"recommended and relevant must have one row per user, got {recommended.shape[0]} and {relevant.shape[0]}"
        )
    if recommended.size and recommended.max() >= relevant.shape[1]:
        raise ValueError(f"recommended contains item {recommended.max()}, but relevant has only {relevant.shape[1]} items")

    # Encode (user, item) pairs as single integers and test membership in
    # one sorted search, instead of a Python loop over users.
    n_items = relevant.shape[1]
    users = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    relevant_keys = np.sort(users * n_items + relevant.indices)
    rows = np.arange(recommended.shape[0], dtype=np.int64)[:, None]
    keys = rows * n_items + recommended
    if relevant_keys.size == 0:
        return np.zeros(recommended.shape, dtype=bool)

    positions = np.minimum(np.searchsorted(relevant_keys, keys), relevant_keys.size - 1)
    return (relevant_keys[positions] == keys) & (recommended >= 0)


@dataclass
class RankingResult:
    """Ranking metrics at one cut-off ``k``, averaged over ``n_users`` users with a relevant item."""

    k: int
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    n_users: int

    def to_dict(self):
        return {name: getattr(self, name) for name in ("k", *RANKING_METRICS, "n_users")}


def ranking_metrics(recommended, relevant, k=None):
    """Return precision, recall, NDCG, MAP and hit rate at ``k`` from one hit matrix.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, n), int
        Item indices, best first; -1 marks an empty slot.
    relevant : scipy.sparse matrix of shape (n_users, n_items)
        Relevant items of each user (stored non-zero entries).
    k : int, optional
        Cut-off, at most ``n``; ``n`` when omitted.

    Returns
    -------
    RankingResult
    """
    recommended = np.asarray(recommended)
    k = recommended.shape[1] if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= recommended.shape[1]:
        raise ValueError(f"k must be an integer from 1 to {recommended.shape[1]}, the length of the lists, got {k!r}")

    hits = hit_matrix(recommended[:, :k], relevant).astype(np.float64)
    relevant = sp.csr_matrix(relevant)
    relevant.eliminate_zeros()
    n_relevant = np.diff(relevant.indptr).astype(np.float64)
    users = n_relevant > 0
    if not users.any():
        raise ValueError("no user has a relevant item; nothing to measure")
    hits, n_relevant = hits[users], n_relevant[users]

    ranks = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    n_hits = hits.sum(axis=1)
    ideal_hits = np.minimum(n_relevant, k)

    ideal_dcg = np.cumsum(discounts)[ideal_hits.astype(np.int64) - 1]
    ndcg = (hits @ discounts) / ideal_dcg
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    average_precision = (precision_at_rank * hits).sum(axis=1) / ideal_hits

    return RankingResult(
        k=int(k),
        precision=float(np.mean(n_hits / k)),
        recall=float(np.mean(n_hits / n_relevant)),
        ndcg=float(np.mean(ndcg)),
        map=float(np.mean(average_precision)),
        hit_rate=float(np.mean(n_hits > 0)),
        n_users=int(users.sum()),
    )


def catalogue_coverage(recommended, n_items):
    """Return the share of the ``n_items`` items that appear in at least one list."""
    recommended = np.asarray(recommended)
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be a positive integer, got {n_items!r}")
    recommended_items = np.unique(recommended[recommended >= 0])
    if recommended_items.size and recommended_items.max() >= n_items:
        raise ValueError(f"recommended contains item {recommended_items.max()}, but the catalogue has only {n_items} items")
    return recommended_items.size / n_items
