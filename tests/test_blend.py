import numpy as np
import pytest

from hybrid.blend import BlendWeights, blend, blend_scores, standardize, top_n


def test_weights_are_cold_up_to_cold_max_and_warm_from_warm_min():
    weights = BlendWeights(
        cold={"content": 1.0},
        warm={"collaborative": 1.0},
        cold_max_ratings=3,
        warm_min_ratings=13,
    )

    assert weights.for_count(1)["content"] == 1.0
    assert weights.for_count(3)["collaborative"] == 0.0
    assert weights.for_count(8) == {"collaborative": 0.5, "content": 0.5, "popularity": 0.0, "rating": 0.0}
    assert weights.for_count(13)["collaborative"] == 1.0
    assert weights.for_count(500)["content"] == 0.0


def test_one_rating_leans_on_content_and_many_on_collaborative():
    weights = BlendWeights()

    assert weights.for_count(1)["content"] > weights.for_count(1)["collaborative"]
    assert weights.for_count(100)["collaborative"] > weights.for_count(100)["content"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cold": {"colaborative": 1.0}}, r"blend.cold has unknown components \['colaborative'\]"),
        ({"warm": {"content": -1}}, r"blend.warm.content must be a number >= 0, got -1"),
        ({"warm": {"content": 0.0}}, r"blend.warm must give at least one component a weight above 0"),
        ({"cold_max_ratings": 5, "warm_min_ratings": 5}, r"blend.cold_max_ratings must be >= 0 and below blend.warm_min_ratings, got 5 and 5"),
    ],
)
def test_invalid_weights_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        BlendWeights(**arguments)


def test_standardize_uses_only_candidates():
    scores = np.array([100.0, 1.0, 2.0, 3.0])
    candidates = np.array([False, True, True, True])

    z = standardize(scores, candidates)

    np.testing.assert_allclose(z[1:], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)


def test_standardize_of_a_constant_is_zero():
    assert standardize(np.full(3, 7.0), np.ones(3, dtype=bool)).tolist() == [0.0, 0.0, 0.0]


def test_blend_sums_standardized_scores_with_normalized_weights():
    candidates = np.ones(3, dtype=bool)
    scores = {"collaborative": np.array([0.0, 1.0, 2.0]), "content": np.array([30.0, 20.0, 10.0])}

    total, parts = blend(scores, {"collaborative": 3.0, "content": 1.0}, candidates)

    expected = 0.75 * np.array([-1.2247449, 0.0, 1.2247449]) + 0.25 * np.array([1.2247449, 0.0, -1.2247449])
    np.testing.assert_allclose(total, expected, rtol=1e-6)
    assert sorted(parts) == ["collaborative", "content"]


def test_blend_shares_the_weight_of_a_missing_component():
    candidates = np.ones(2, dtype=bool)

    total, parts = blend({"content": np.array([1.0, 3.0])}, {"content": 0.2, "collaborative": 0.8}, candidates)

    np.testing.assert_allclose(total, [-1.0, 1.0])
    assert list(parts) == ["content"]


def test_top_n_returns_best_candidates_in_order():
    scores = np.array([0.5, 0.9, 0.1, 0.9, 0.7])
    candidates = np.array([True, True, True, False, True])

    assert top_n(scores, candidates, 3).tolist() == [1, 4, 0]
    assert top_n(scores, candidates, 10).tolist() == [1, 4, 0, 2]
    assert top_n(scores, np.zeros(5, dtype=bool), 3).tolist() == []


def test_top_n_breaks_ties_by_index():
    # Regression: argpartition kept an arbitrary one of the tied movies at
    # the cut, so similar movies with equal scores changed between runs.
    scores = np.array([0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.1], dtype=np.float32)
    candidates = np.ones(7, dtype=bool)

    assert top_n(scores, candidates, 3).tolist() == [1, 2, 3]
    assert top_n(scores, candidates, 5).tolist() == [1, 2, 3, 4, 5]


def test_top_n_matches_a_full_sort():
    generator = np.random.default_rng(3)
    scores = np.round(generator.standard_normal(5000), 2).astype(np.float32)
    candidates = generator.random(5000) > 0.1
    indices = np.flatnonzero(candidates)
    full_sort = indices[np.lexsort((indices, -scores[indices]))]

    for n in (1, 10, 100, 4999):
        assert top_n(scores, candidates, n).tolist() == full_sort[:n].tolist()


def test_top_n_of_ascending_scores():
    scores = np.arange(1000, dtype=np.float32)

    assert top_n(scores, np.ones(1000, dtype=bool), 4).tolist() == [999, 998, 997, 996]


def test_blend_parts_match_full_parts():
    candidates = np.array([True, True, False, True])
    scores = {"collaborative": np.array([0.5, 2.0, 9.0, 1.0], dtype=np.float32), "popularity": np.full(4, 3.0, dtype=np.float32)}

    result = blend_scores(scores, {"collaborative": 1.0, "popularity": 1.0}, candidates)
    total, parts = blend(scores, {"collaborative": 1.0, "popularity": 1.0}, candidates)

    selected = result.parts([3, 0])
    np.testing.assert_array_equal(selected["collaborative"], parts["collaborative"][[3, 0]])
    assert selected["popularity"].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(result.total, total)
    np.testing.assert_allclose(total[[0, 1, 3]], 0.5 * standardize(scores["collaborative"], candidates)[[0, 1, 3]])
