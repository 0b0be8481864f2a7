"""The compiled request path returns what the plain NumPy and SciPy formulas return.

The reference below recomputes a recommendation the direct way: the content
profile as a sparse product, z-scores from boolean-mask means and standard
deviations, and a full sort of every candidate. The served path computes the
same quantities with compiled loops and a bounded heap. Both must give the
same movies in the same order with the same rounded scores.
"""

import copy
import dataclasses

import numpy as np
import pytest

from hybrid.blend import COMPONENTS, BlendWeights
from hybrid.model import Filters


def reference_recommend(model, items, ratings, n, user_index=None):
    """Return [(movie_id, score, components)] computed without any of the request-path kernels."""
    weights = model.config.blend.for_count(items.size)
    active = [name for name in COMPONENTS if weights[name] > 0]

    scores = {}
    if "collaborative" in active:
        vector = model.als.user_vector(user_index) if user_index is not None else model.als.fold_in(items, ratings)
        scores["collaborative"] = model.als.item_factors_ @ vector
    if "content" in active:
        content = model.content
        values = np.asarray(ratings, dtype=np.float32)
        user_mean = (values.sum() + content.profile_damping * content.mean_rating_) / (values.size + content.profile_damping)
        profile = np.asarray(content.item_matrix_[items].T @ (values - user_mean), dtype=np.float32).ravel()
        scores["content"] = np.asarray(content.item_matrix_ @ profile, dtype=np.float32).ravel()
    if "ease" in active:
        ease = model.ease
        rows = np.searchsorted(ease.covered_items_, items)
        covered = (rows < ease.covered_items_.size) & (ease.covered_items_[np.minimum(rows, ease.covered_items_.size - 1)] == items)
        inputs = np.asarray(ratings, dtype=np.float64)[covered] ** ease.rating_exponent
        scores["ease"] = np.zeros(len(model.catalogue), dtype=np.float32)
        scores["ease"][ease.covered_items_] = inputs @ ease.item_weights_[rows[covered]]
    if "rp3beta" in active:
        # The RP3beta score of a movie is the sum of its column over the rated rows of W.
        scores["rp3beta"] = np.asarray(model.rp3beta.item_weights_[items].sum(axis=0), dtype=np.float32).ravel()
    if "rating" in active:
        mf = model.mf
        vector = mf.user_vector(user_index) if user_index is not None else mf.fold_in(items, ratings)
        predicted = mf.global_mean_ + vector[0] + mf.item_bias_ + mf.item_factors_ @ vector[1:]
        scores["rating"] = np.clip(predicted, *mf.rating_range).astype(np.float32)
    if "popularity" in active:
        scores["popularity"] = model.popularity.scores_

    candidates = np.ones(len(model.catalogue), dtype=bool)
    candidates[items] = False
    weight_sum = sum(weights[name] for name in active)
    total = np.zeros(candidates.size, dtype=np.float32)
    parts = {}
    for name in active:
        values = scores[name][candidates]
        mean = values.mean(dtype=np.float64)
        spread = values.std(dtype=np.float64)
        if not spread > 1e-12:
            # No spread (EASE when no rated movie is among its modelled ones): no part.
            parts[name] = np.zeros(candidates.size, dtype=np.float32)
            continue
        parts[name] = ((scores[name] - mean) / spread).astype(np.float32)
        total += (weights[name] / weight_sum) * parts[name]

    indices = np.flatnonzero(candidates)
    best = indices[np.lexsort((indices, -total[indices]))][:n]
    return [
        (
            model.catalogue.movie_ids.id_of(index),
            round(float(total[index]), 4),
            {name: round(float(parts[name][index]), 4) for name in active},
        )
        for index in best
    ]


def served(result):
    return [(item["movie_id"], item["score"], item["components"]) for item in result.items]


def assert_same_recommendations(actual, expected):
    assert [movie_id for movie_id, _, _ in actual] == [movie_id for movie_id, _, _ in expected]
    for (_, score, components), (_, expected_score, expected_components) in zip(actual, expected):
        # The compiled sums run in another order than NumPy's pairwise sums,
        # so a rounded value may move by one unit in its last place.
        assert score == pytest.approx(expected_score, abs=1.01e-4)
        assert components.keys() == expected_components.keys()
        for name, value in components.items():
            assert value == pytest.approx(expected_components[name], abs=1.01e-4)


def test_known_users_match_the_reference(bundled_model):
    model = bundled_model

    for user_index in range(0, len(model.users), 7):
        items, ratings = model._user_history(user_index)
        user_id = model.users.id_of(user_index)

        expected = reference_recommend(model, items, ratings, 20, user_index=user_index)

        assert_same_recommendations(served(model.recommend(user_id, 20)), expected)


def test_cold_start_matches_the_reference(bundled_model):
    model = bundled_model
    generator = np.random.default_rng(7)

    for _ in range(40):
        size = int(generator.integers(1, 12))
        movie_ids = generator.choice(model.catalogue.movie_ids.ids, size=size, replace=False)
        ratings = generator.integers(1, 11, size=size) / 2
        items = model.catalogue.movie_ids.indices_of(movie_ids)

        expected = reference_recommend(model, items, ratings.astype(np.float32), 10)
        result = model.recommend_for_ratings(list(zip(movie_ids.tolist(), ratings.tolist())), 10)

        assert_same_recommendations(served(result), expected)


def test_content_profile_equals_the_sparse_product(bundled_model):
    content = bundled_model.content
    items = np.array([0, 17, 2570, 9000, 5], dtype=np.int64)
    ratings = np.array([5.0, 1.5, 4.0, 3.0, 0.5], dtype=np.float32)
    user_mean = (ratings.sum() + content.profile_damping * content.mean_rating_) / (ratings.size + content.profile_damping)

    expected = np.asarray(content.item_matrix_[items].T @ (ratings - user_mean), dtype=np.float32).ravel()

    np.testing.assert_array_equal(content.fold_in(items, ratings), expected)


def test_similarities_equal_the_sparse_product(bundled_model):
    matrix = bundled_model.content.item_matrix_

    expected = np.asarray((matrix @ matrix[42].T).toarray(), dtype=np.float32).ravel()

    np.testing.assert_array_equal(bundled_model.content.similarities(42), expected)


def test_precomputed_explanation_factors_give_the_same_reasons(bundled_model):
    # The default warm weights let EASE lead; ALS leads here so that ALS explains many movies.
    model = copy.copy(bundled_model)
    model.config = dataclasses.replace(model.config, blend=BlendWeights(cold={"collaborative": 1.0}, warm={"collaborative": 0.8, "content": 0.2}))
    model.warm_up()
    assert model._explanation_factors is not None
    user_ids = [model.users.id_of(user_index) for user_index in range(0, len(model.users), 37)]

    with_factors = [model.recommend(user_id, 10).items for user_id in user_ids]
    model._explanation_factors = None
    try:
        without_factors = [model.recommend(user_id, 10).items for user_id in user_ids]
    finally:
        model.warm_up()

    assert with_factors == without_factors
    assert any(item["reason"] is not None and item["reason"]["kind"] == "collaborative" for items in with_factors for item in items)


def test_precomputed_ease_scores_give_the_same_answers(bundled_model):
    model = copy.copy(bundled_model)
    model.warm_up()
    assert model._ease_user_scores is not None
    assert model._ease_user_scores.shape == (len(model.users), model.ease.covered_items_.size)
    user_indices = list(range(0, len(model.users), 23))

    with_scores = [model.recommend(model.users.id_of(user_index), 10).items for user_index in user_indices]
    precomputed = [model.component_scores(*model._user_history(user_index), user_index=user_index)["ease"] for user_index in user_indices]
    model._ease_user_scores = None
    without_scores = [model.recommend(model.users.id_of(user_index), 10).items for user_index in user_indices]
    computed = [model.component_scores(*model._user_history(user_index), user_index=user_index)["ease"] for user_index in user_indices]

    assert with_scores == without_scores
    for expected, actual in zip(computed, precomputed):
        np.testing.assert_array_equal(actual, expected)


def test_precomputed_statistics_give_the_same_answers(bundled_model):
    model = copy.copy(bundled_model)
    model.warm_up()
    assert {"collaborative", "ease", "content"} <= set(model._user_statistics)
    user_ids = [model.users.id_of(user_index) for user_index in range(0, len(model.users), 11)]
    drama = Filters(genres=("Drama",))

    with_statistics = [model.recommend(user_id, 10).items for user_id in user_ids]
    filtered_with = [model.recommend(user_id, 10, filters=drama).items for user_id in user_ids]
    model._user_statistics = None
    without_statistics = [model.recommend(user_id, 10).items for user_id in user_ids]
    filtered_without = [model.recommend(user_id, 10, filters=drama).items for user_id in user_ids]

    assert with_statistics == without_statistics
    assert filtered_with == filtered_without
    assert all("Drama" in item["genres"] for items in filtered_with for item in items)


def test_statistics_are_skipped_with_filters_or_new_movies(bundled_model):
    model = copy.copy(bundled_model)
    model.warm_up()

    assert model._precomputed_statistics(0, None)["collaborative"] == tuple(model._user_statistics["collaborative"][0])
    assert model._precomputed_statistics(0, Filters(min_year=2000)) is None
    assert model._precomputed_statistics(None, None) is None
    extended = model.with_movies([10**9], ["A New Movie (2030)"], [("Drama",)], [2030]).warm_up()
    assert extended._user_statistics is None


def test_refit_drops_the_precomputed_ease_scores(bundled_model):
    model = copy.deepcopy(bundled_model)
    model.warm_up()
    assert model._ease_user_scores is not None

    model.fit_component("ease", {"regularization": 100.0})

    assert model._ease_user_scores is None
    assert model._explanation_factors is None
    assert model._user_statistics is None
