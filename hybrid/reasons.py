"""Reasons for recommendations: the liked movie that added most to each recommended movie's score.

A reason names one movie the user rated above their own mean, so the page
can show "because you rated Toy Story highly". Each recommended movie is
explained by the component that added more to its blended score, and both
components split their score exactly into one term per rated movie:

- ``content``: the profile score is the sum over rated movies of (rating
  minus the user's mean) times the cosine similarity of TF-IDF rows
  (``ContentModel.explain``).
- ``collaborative``: the ALS score is the sum over rated movies of
  s_ij c_j, Hu, Koren and Volinsky (2008), section 5
  (``ImplicitALS.explain``).

The reason is the liked movie with the largest term, and ``share`` is that
term over the sum of the positive terms. For a user who was in training,
the ALS terms split the score of their ratings folded in, which approximates
the score of their trained factors. Only the ``n`` returned movies are
explained, so the cost is one (rated x n) product per component and one
k x k solve, not a pass over the catalogue.
"""

from dataclasses import dataclass

import numpy as np

EXPLAINED_COMPONENTS = ("collaborative", "content")


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


def _collaborative_terms(als, rated_items, ratings, recommended):
    # Movies added to the catalogue after ALS was trained have no factors,
    # so their terms are NaN.
    terms = np.full((rated_items.size, recommended.size), np.nan)
    rated_known = rated_items < als.n_items
    recommended_known = recommended < als.n_items
    if rated_known.any() and recommended_known.any():
        terms[np.ix_(rated_known, recommended_known)] = als.explain(
            rated_items[rated_known], ratings[rated_known], recommended[recommended_known]
        )
    return terms


def explain(recommended, rated_items, ratings, parts, weights, *, content, als=None):
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
        Without it, every recommendation is explained by content.

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

    terms = {"content": content.explain(rated_items, ratings, recommended)}
    if als is not None and "collaborative" in parts:
        terms["collaborative"] = _collaborative_terms(als, rated_items, ratings, recommended)

    reasons = []
    for position, index in enumerate(recommended):
        kind = _dominant_component(index, parts, weights)
        if kind is None:
            reasons.append(None)
            continue
        if kind not in terms or np.isnan(terms[kind][liked, position]).all():
            kind = "content"

        column = terms[kind][:, position]
        candidates = np.where(liked & ~np.isnan(column), column, -np.inf)
        best = int(np.argmax(candidates))
        if not candidates[best] > 0:
            reasons.append(None)
            continue
        positive_sum = column[column > 0].sum()
        reasons.append(Reason(int(rated_items[best]), float(ratings[best]), kind, float(column[best] / positive_sum)))
    return reasons
