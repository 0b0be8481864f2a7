import numpy as np
import pytest

from hybrid.blend import BlendWeights, blend, blend_many, blend_scores, candidate_statistics, standardize, standardize_many, top_n, top_n_many


def test_weights_are_cold_up_to_cold_max_and_warm_from_warm_min():
    weights = BlendWeights(
        cold={"content": 1.0},
        warm={"collaborative": 1.0},
        cold_max_ratings=3,
        warm_min_ratings=13,
    )

    assert weights.for_count(1)["content"] == 1.0
    assert weights.for_count(3)["collaborative"] == 0.0
    assert weights.for_count(8) == {"collaborative": 0.5, "ease": 0.0, "rp3beta": 0.0, "content": 0.5, "popularity": 0.0, "rating": 0.0}
    assert weights.for_count(13)["collaborative"] == 1.0
    assert weights.for_count(500)["content"] == 0.0


def test_default_weights_lean_on_popularity_then_collaborative():
    weights = BlendWeights()

    one = weights.for_count(1)
    many = weights.for_count(100)
    assert one["popularity"] == max(one.values())
    assert many["popularity"] == 0.0
    assert many["collaborative"] + many["ease"] > 0.9 * sum(many.values())


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


def test_candidate_statistics_of_a_small_mask():
    scores = np.array([1.0, 3.0, 100.0, 5.0], dtype=np.float32)

    mean, spread = candidate_statistics(scores, np.array([True, True, False, True]))

    assert mean == 3.0
    assert spread == pytest.approx(np.sqrt(8 / 3))
    assert candidate_statistics(scores, np.zeros(4, dtype=bool)) == (0.0, 0.0)


def test_blend_with_given_statistics_equals_computed():
    generator = np.random.default_rng(5)
    candidates = generator.random(500) > 0.2
    scores = {"collaborative": generator.normal(size=500).astype(np.float32), "content": generator.normal(2.0, 3.0, size=500).astype(np.float32)}
    weights = {"collaborative": 0.7, "content": 0.3}

    computed = blend_scores(scores, weights, candidates)
    given = blend_scores(scores, weights, candidates, {"content": candidate_statistics(scores["content"], candidates)})

    np.testing.assert_array_equal(given.total, computed.total)
    assert given.statistics == computed.statistics


def test_for_counts_matches_for_count():
    weights = BlendWeights(cold={"content": 1.0}, warm={"collaborative": 1.0, "ease": 0.5}, cold_max_ratings=3, warm_min_ratings=13)
    counts = [0, 3, 4, 8, 12, 13, 500]

    many = weights.for_counts(counts)

    for position, count in enumerate(counts):
        for name, weight in weights.for_count(count).items():
            assert many[name][position] == pytest.approx(weight)


def test_standardize_many_matches_standardize_per_row():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 9)).astype(np.float32)
    scores[2] = 1.5  # no spread: all zeros
    candidates = rng.random((4, 9)) > 0.3
    candidates[3] = False  # no candidates: all zeros

    many = standardize_many(scores, candidates)

    for row in range(4):
        np.testing.assert_allclose(many[row], standardize(scores[row], candidates[row]), rtol=1e-5, atol=1e-6)
    assert not many[2].any()
    assert not many[3].any()


def test_blend_many_matches_blend_per_row():
    rng = np.random.default_rng(1)
    scores = {"collaborative": rng.normal(size=(3, 6)), "content": rng.normal(size=(3, 6))}
    candidates = np.ones((3, 6), dtype=bool)
    candidates[:, 0] = False
    weights = [{"collaborative": 0.8, "content": 0.2}, {"collaborative": 0.0, "content": 1.0}, {"collaborative": 2.0, "content": 2.0}]
    parts = {name: standardize_many(values, candidates) for name, values in scores.items()}

    many = blend_many(parts, {name: np.array([row[name] for row in weights]) for name in scores})

    for row in range(3):
        total, _ = blend({name: values[row] for name, values in scores.items()}, weights[row], candidates[row])
        np.testing.assert_allclose(many[row], total, rtol=1e-5, atol=1e-6)


def test_blend_many_ignores_components_without_scores():
    parts = {"content": np.array([[1.0, -1.0]], dtype=np.float32)}

    total = blend_many(parts, {"content": np.array([1.0]), "collaborative": np.array([3.0])})

    assert total.tolist() == [[1.0, -1.0]]


def test_top_n_many_matches_top_n_and_pads():
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, 2.0, 1.0, 0.0]], dtype=np.float32)
    candidates = np.array([[True, True, True, True], [False, True, False, False]])

    ranked = top_n_many(scores, candidates, 3)

    assert ranked[0].tolist() == top_n(scores[0], candidates[0], 3).tolist() == [1, 3, 2]
    assert ranked[1].tolist() == [1, -1, -1]


def test_top_n_many_breaks_ties_at_the_cut_by_index():
    scores = np.array([[0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.1]] * 2, dtype=np.float32)
    candidates = np.ones((2, 7), dtype=bool)
    candidates[1, 2] = False

    ranked = top_n_many(scores, candidates, 3)

    assert ranked.tolist() == [[1, 2, 3], [1, 3, 4]]


def test_top_n_many_matches_a_full_sort():
    generator = np.random.default_rng(3)
    scores = np.round(generator.standard_normal((4, 500)), 1).astype(np.float32)
    candidates = generator.random((4, 500)) > 0.1

    for n in (1, 10, 100):
        ranked = top_n_many(scores, candidates, n)
        for row in range(4):
            assert ranked[row].tolist() == top_n(scores[row], candidates[row], n).tolist()
