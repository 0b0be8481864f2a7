"""Rating and ranking metrics on hand-computed cases."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from hybrid.metrics import catalogue_coverage, hit_matrix, mae, ranking_metrics, rmse

# Items a, b, c, d, x are indices 0 to 4.
A, B, C, D, X = range(5)


def relevant(*rows, n_items=5):
    """Return a users x items matrix with the given relevant item sets."""
    matrix = np.zeros((len(rows), n_items))
    for row, items in enumerate(rows):
        matrix[row, list(items)] = 1
    return sp.csr_matrix(matrix)


def test_ndcg_is_one_for_a_full_list_of_hits():
    result = ranking_metrics(np.array([[A, B]]), relevant({A, B, C, D}), k=2)

    # The ideal DCG counts at most k = 2 items, so two hits out of four is perfect.
    assert result.ndcg == pytest.approx(1.0)


def test_ndcg_discounts_a_hit_at_rank_two():
    result = ranking_metrics(np.array([[X, A]]), relevant({A}), k=2)

    assert result.ndcg == pytest.approx(1 / math.log2(3))


def test_ndcg_of_a_miss_between_hits():
    result = ranking_metrics(np.array([[A, X, B]]), relevant({A, B}), k=3)

    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert result.ndcg == pytest.approx(expected)


def test_precision_and_recall_at_k():
    result = ranking_metrics(np.array([[A, X, B]]), relevant({A, B, C, D}), k=3)

    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 4)


def test_map_averages_precision_at_each_hit():
    result = ranking_metrics(np.array([[X, A, B]]), relevant({A, B, C}), k=3)

    # Hits at ranks 2 and 3: (1/2 + 2/3) / min(3, 3).
    assert result.map == pytest.approx((1 / 2 + 2 / 3) / 3)


def test_map_divides_by_relevant_count_when_below_k():
    result = ranking_metrics(np.array([[A, X, X]]), relevant({A}), k=3)

    assert result.map == pytest.approx(1.0)


def test_hit_rate_counts_users_with_any_hit():
    result = ranking_metrics(np.array([[X, A], [X, C]]), relevant({A}, {B}), k=2)

    assert result.hit_rate == pytest.approx(0.5)


def test_metrics_average_over_users():
    result = ranking_metrics(np.array([[A, B], [X, A]]), relevant({A, B, C, D}, {A}), k=2)

    assert result.ndcg == pytest.approx((1.0 + 1 / math.log2(3)) / 2)
    assert result.precision == pytest.approx((1.0 + 0.5) / 2)
    assert result.n_users == 2


def test_users_without_relevant_items_are_skipped():
    result = ranking_metrics(np.array([[A, B], [A, B]]), relevant({A}, set()), k=2)

    assert result.n_users == 1
    assert result.precision == pytest.approx(0.5)


def test_cutoff_shortens_the_list():
    result = ranking_metrics(np.array([[X, A]]), relevant({A}), k=1)

    assert result.ndcg == 0.0
    assert result.hit_rate == 0.0


def test_padding_slots_never_hit():
    # -1 pads a short list; in a flat key it would alias the previous user's last item.
    recommended = np.array([[D, -1], [-1, -1]])

    hits = hit_matrix(recommended, relevant({D}, {X}))

    assert hits.tolist() == [[True, False], [False, False]]


def test_ranking_metrics_reject_k_above_list_length():
    with pytest.raises(ValueError, match="k must be an integer from 1 to 2, the length of the lists, got 3"):
        ranking_metrics(np.array([[A, B]]), relevant({A}), k=3)


def test_ranking_metrics_reject_mismatched_users():
    with pytest.raises(ValueError, match="one row per user, got 1 and 2"):
        ranking_metrics(np.array([[A, B]]), relevant({A}, {B}), k=2)


def test_ranking_metrics_need_a_relevant_item():
    with pytest.raises(ValueError, match="no user has a relevant item"):
        ranking_metrics(np.array([[A, B]]), relevant(set()), k=2)


def test_rmse_and_mae_of_known_errors():
    predicted = [3.0, 4.0, 5.0, 1.0]
    actual = [4.0, 4.0, 3.0, 1.0]

    assert rmse(predicted, actual) == pytest.approx(math.sqrt((1 + 0 + 4 + 0) / 4))
    assert mae(predicted, actual) == pytest.approx((1 + 0 + 2 + 0) / 4)


def test_rmse_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="predicted and actual must have the same length, got 2 and 3"):
        rmse([1, 2], [1, 2, 3])


def test_coverage_counts_distinct_shown_items():
    recommended = np.array([[A, B, -1], [B, C, -1]])

    assert catalogue_coverage(recommended, 10) == pytest.approx(0.3)


def test_coverage_rejects_items_outside_catalogue():
    with pytest.raises(ValueError, match="recommended contains item 7, but the catalogue has only 5 items"):
        catalogue_coverage(np.array([[7]]), 5)
