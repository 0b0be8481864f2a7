"""Reasons for recommendations: the liked movie that added most to each recommended movie's score.

A reason names one movie the user rated above their own mean, so the page
can show "because you rated Toy Story highly". Each recommended movie is
explained by the explained component that added most to its blended score.
Each of them splits its score exactly into one term per rated movie:

- ``content``: the profile score is the sum over rated movies of (rating
  minus the user's mean) times the cosine similarity of TF-IDF rows
  (``ContentModel.explain``).
- ``collaborative``: the ALS score is the sum over rated movies of
  s_ij c_j, Hu, Koren and Volinsky (2008), section 5
  (``ImplicitALS.explain``).
- ``ease``: the EASE score is the sum over rated movies of x_j B_ji
  (``EASE.explain``).
- ``rp3beta``: the RP3beta score is the sum over rated movies of W_ji
  (``RP3Beta.explain``).

The reason is the liked movie with the largest term, and ``share`` is that
term over the sum of the positive terms. For a user who was in training,
the ALS terms split the score of their ratings folded in, which approximates
the score of their trained factors. Only the ``n`` returned movies are
explained, each by its dominant component's terms alone, so the cost is at
most one (rated x n) product per component and one k x k solve, not a pass
over the catalogue.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

EXPLAINED_COMPONENTS = ("collaborative", "ease", "rp3beta", "content")


@dataclass(frozen=True)
class Reason:
    """The liked movie that best explains one recommendation."""

    rated_index: int
    rating: float
    kind: str
    share: float


def _dominant_component(index, parts, weights):
    # The component whose weighted standardized score adds most to this
    # movie's blended score; None when neither explained component took part.
    best_name, best_value = None, -np.inf
    for name in EXPLAINED_COMPONENTS:
        if name not in parts or weights.get(name, 0.0) <= 0:
            continue
        value = weights[name] * float(parts[name][index])
        if value > best_value:
            best_name, best_value = name, value
    return best_name


def _collaborative_terms(als, rated_items, ratings, recommended, factor=None):
    # Movies added to the catalogue after ALS was trained have no factors,
    # so their terms are NaN. The precomputed factor covers all the ratings,
    # so it only applies when every rated movie has factors.
    n_items = als.n_items
    rated_known = rated_items < n_items
    recommended_known = recommended < n_items
    if rated_known.all() and recommended_known.all():
        return als.explain(rated_items, ratings, recommended, factor=factor)

    terms = np.full((rated_items.size, recommended.size), np.nan)
    if rated_known.any() and recommended_known.any():
        terms[np.ix_(rated_known, recommended_known)] = als.explain(
            rated_items[rated_known],
            ratings[rated_known],
            recommended[recommended_known],
            factor=factor if rated_known.all() else None,
        )
    return terms


def _item_item_terms(model, rated_items, ratings, recommended):
    # EASE and RP3beta: as for ALS, movies added after training have no
    # item-item weights, so their terms are NaN.
    n_items = model.n_items
    rated_known = rated_items < n_items
    recommended_known = recommended < n_items
    if rated_known.all() and recommended_known.all():
        return model.explain(rated_items, ratings, recommended)

    terms = np.full((rated_items.size, recommended.size), np.nan)
    if rated_known.any() and recommended_known.any():
        terms[np.ix_(rated_known, recommended_known)] = model.explain(
            rated_items[rated_known], ratings[rated_known], recommended[recommended_known]
        )
    return terms


@dataclass(frozen=True)
class _TermSummary:
    """For each recommended movie (column): the liked movie with the largest term, and the sums a reason needs."""

    best: np.ndarray
    best_term: np.ndarray
    positive_sum: np.ndarray
    liked_all_nan: np.ndarray


def _summarize(terms, liked):
    return _TermSummary(*_summarize_terms(np.ascontiguousarray(terms, dtype=np.float64), np.asarray(liked, dtype=np.bool_)))


@njit(cache=True, nogil=True)
def _summarize_terms(terms, liked):
    # One compiled pass over the (rated x recommended) terms in place of
    # several NumPy calls per recommended movie. The first liked movie with
    # the largest finite term wins, as np.argmax would pick it.
    n_rated, n_recommended = terms.shape
    best = np.zeros(n_recommended, dtype=np.int64)
    best_term = np.full(n_recommended, -np.inf)
    positive_sum = np.zeros(n_recommended)
    liked_all_nan = np.ones(n_recommended, dtype=np.bool_)
    for rated in range(n_rated):
        for column in range(n_recommended):
            term = terms[rated, column]
            if term > 0:
                positive_sum[column] += term
            if liked[rated] and not np.isnan(term):
                liked_all_nan[column] = False
                if term > best_term[column]:
                    best_term[column] = term
                    best[column] = rated
    return best, best_term, positive_sum, liked_all_nan


def explain(recommended, rated_items, ratings, parts, weights, *, content, als=None, als_factor=None, ease=None, rp3beta=None):
    """Return one ``Reason`` or None per recommended movie index.

    Parameters
    ----------
    recommended : ndarray of int
        Movie indices that are returned to the user.
    rated_items, ratings : ndarray
        The user's rated movie indices and their ratings.
    parts, weights : dict
        Standardized component scores and blend weights, as ``hybrid.blend.blend`` uses them.
    content : content.tfidf.ContentModel
    als : collaborative.als.ImplicitALS, optional
    als_factor : ndarray, optional
        ``als.explanation_factor(rated_items, ratings)``, computed earlier.
    ease : collaborative.ease.EASE, optional
    rp3beta : collaborative.rp3beta.RP3Beta, optional
        Without ``als``, ``ease`` or ``rp3beta``, the recommendations that
        component dominates are explained by content.

    A recommendation gets None when the user liked no movie, when no
    explained component took part, or when no liked movie adds a positive
    term to its score.
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    rated_items = np.asarray(rated_items, dtype=np.int64)
    ratings = np.asarray(ratings, dtype=np.float32)
    liked = content.profile_weights(ratings) > 0
    if recommended.size == 0 or not liked.any():
        return [None] * recommended.size

    term_functions = {"content": lambda targets: content.explain(rated_items, ratings, targets)}
    if als is not None and "collaborative" in parts:
        term_functions["collaborative"] = lambda targets: _collaborative_terms(als, rated_items, ratings, targets, als_factor)
    if ease is not None and "ease" in parts:
        term_functions["ease"] = lambda targets: _item_item_terms(ease, rated_items, ratings, targets)
    if rp3beta is not None and "rp3beta" in parts:
        term_functions["rp3beta"] = lambda targets: _item_item_terms(rp3beta, rated_items, ratings, targets)

    # Only its dominant component explains a movie, so each component's terms
    # are computed for the movies it dominates. Every column of the terms
    # depends on its target alone, so this gives the terms of a call over all
    # the movies. Content comes last in EXPLAINED_COMPONENTS: it also takes
    # the movies the others cannot explain (a movie added after training,
    # whose terms are NaN).
    kinds = [_dominant_component(index, parts, weights) for index in recommended.tolist()]
    kinds = [kind if kind is None or kind in term_functions else "content" for kind in kinds]
    best = np.zeros(recommended.size, dtype=np.int64)
    best_term = np.full(recommended.size, -np.inf)
    positive_sum = np.zeros(recommended.size)
    for name in EXPLAINED_COMPONENTS:
        positions = [position for position, kind in enumerate(kinds) if kind == name]
        if not positions:
            continue
        summary = _summarize(term_functions[name](recommended[positions]), liked)
        for column, position in enumerate(positions):
            if name != "content" and summary.liked_all_nan[column]:
                kinds[position] = "content"
                continue
            best[position] = summary.best[column]
            best_term[position] = summary.best_term[column]
            positive_sum[position] = summary.positive_sum[column]

    reasons = []
    for position, kind in enumerate(kinds):
        if kind is None or not best_term[position] > 0:
            reasons.append(None)
            continue
        rated = int(best[position])
        share = float(best_term[position] / positive_sum[position])
        reasons.append(Reason(int(rated_items[rated]), float(ratings[rated]), kind, share))
    return reasons
