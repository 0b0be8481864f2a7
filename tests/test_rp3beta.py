"""RP3beta: the random-walk weights worked out by hand, pruning, and the scoring paths."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from collaborative.rp3beta import RP3Beta

# User 0 rated items 0 and 1, user 1 items 1 and 2, user 2 all three. The
# rating values differ on purpose: the walk only uses which items were rated.
# Degrees: users 2, 2, 3; items 2, 3, 2.
TRIANGLE = sp.csr_matrix(np.array([[5, 1, 0], [0, 4, 2], [3, 3, 3]], dtype=np.float32))

# W_ij = sum over users v who rated i and j of (1 / deg(i)) (1 / deg(v)),
# e.g. W_01 = (1/2)(1/2) + (1/2)(1/3) over users 0 and 2.
WALK = np.array(
    [
        [0, 5 / 12, 1 / 6],
        [5 / 18, 0, 5 / 18],
        [1 / 6, 5 / 12, 0],
    ]
)


def test_weights_are_walk_probabilities():
    model = RP3Beta(alpha=1.0, beta=0.0).fit(TRIANGLE)

    np.testing.assert_allclose(model.item_weights_.toarray(), WALK, rtol=1e-6)
    assert model.n_items == 3


def test_beta_divides_by_item_degree():
    model = RP3Beta(alpha=1.0, beta=1.0).fit(TRIANGLE)

    np.testing.assert_allclose(model.item_weights_.toarray(), WALK / np.array([2, 3, 2])[None, :], rtol=1e-6)


def test_alpha_powers_transition_probabilities():
    model = RP3Beta(alpha=2.0, beta=0.0).fit(TRIANGLE)

    # W_01 = (1/2)^2 (1/2)^2 + (1/2)^2 (1/3)^2 over users 0 and 2.
    assert model.item_weights_[0, 1] == pytest.approx(1 / 16 + 1 / 36, rel=1e-6)
    # W_02 = (1/2)^2 (1/3)^2 over user 2 alone.
    assert model.item_weights_[0, 2] == pytest.approx(1 / 36, rel=1e-6)


def test_neighbours_keeps_largest_weights():
    model = RP3Beta(beta=0.0, neighbours=1).fit(TRIANGLE)

    weights = model.item_weights_
    assert np.diff(weights.indptr).tolist() == [1, 1, 1]
    assert weights[0].toarray().ravel().tolist() == pytest.approx([0, 5 / 12, 0])
    assert weights[2].toarray().ravel().tolist() == pytest.approx([0, 5 / 12, 0])


def test_single_rating_scores_its_row():
    model = RP3Beta(beta=0.0).fit(TRIANGLE)

    low = model.score(model.fold_in([0], [0.5]))
    high = model.score(model.fold_in([0], [5.0]))

    np.testing.assert_allclose(low, WALK[0], rtol=1e-6)
    np.testing.assert_array_equal(low, high)
    np.testing.assert_allclose(model.score(model.fold_in([0, 2], [4.0, 1.0]), [1]), [5 / 12 + 5 / 12], rtol=1e-6)


def test_batched_scores_match_single_user_scores():
    model = RP3Beta(beta=0.3).fit(TRIANGLE)
    users = sp.csr_matrix(np.array([[4, 0, 0], [0, 2, 5], [0, 0, 0]], dtype=np.float32))

    batched = model.score_many(model.fold_in_many(users))

    for row in range(users.shape[0]):
        items = users[row].indices
        np.testing.assert_allclose(batched[row], model.score(model.fold_in(items, users[row].data)), rtol=1e-6)


def test_fold_in_many_keeps_input_values():
    # Regression: fold_in_many once set the values of its argument to 1 in
    # place, and the explicit MF scored from those values next.
    model = RP3Beta().fit(TRIANGLE)
    ratings = sp.csr_matrix(np.array([[4.5, 0, 2.0]], dtype=np.float32))

    model.fold_in_many(ratings)

    assert ratings.data.tolist() == [4.5, 2.0]


def test_explain_terms_sum_to_the_score():
    model = RP3Beta(beta=0.5).fit(TRIANGLE)

    terms = model.explain([0, 2], [5.0, 3.0], [1])

    assert terms.shape == (2, 1)
    assert terms.sum() == pytest.approx(model.score(model.fold_in([0, 2], [5.0, 3.0]), [1])[0], rel=1e-6)


def test_blocks_match_one_block(monkeypatch):
    rng = np.random.default_rng(0)
    ratings = sp.random(40, 30, density=0.3, random_state=rng, format="csr", dtype=np.float32)
    ratings.data[:] = 4.0
    whole = RP3Beta(beta=0.4, neighbours=5).fit(ratings)

    import collaborative.rp3beta as module

    monkeypatch.setattr(module, "_BLOCK_BYTES", 16 * 5 * 7)  # blocks of 7 rows
    blocked = RP3Beta(beta=0.4, neighbours=5).fit(ratings)

    np.testing.assert_allclose(blocked.item_weights_.toarray(), whole.item_weights_.toarray(), rtol=1e-6)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": 0}, "alpha must be a number in \\(0, 3\\], got 0"),
        ({"beta": -0.1}, "beta must be a number in \\[0, 2\\], got -0.1"),
        ({"beta": True}, "beta must be a number in \\[0, 2\\], got True"),
        ({"neighbours": 0}, "neighbours must be a positive integer, got 0"),
        ({"neighbours": 2.5}, "neighbours must be a positive integer, got 2.5"),
        ({"max_user_ratings": 0}, "max_user_ratings must be a positive integer or None, got 0"),
    ],
)
def test_invalid_parameters_are_rejected(params, message):
    with pytest.raises(ValueError, match=message):
        RP3Beta(**params).fit(TRIANGLE)


def test_scoring_before_fit_fails():
    with pytest.raises(NotFittedError):
        RP3Beta().fold_in([0], [4.0])


def test_score_rejects_a_vector_of_the_wrong_length():
    model = RP3Beta().fit(TRIANGLE)

    with pytest.raises(ValueError, match="user_vector must have shape \\(3,\\), got \\(2,\\)"):
        model.score(np.ones(2, dtype=np.float32))


def test_user_cap_keeps_random_subset():
    rng = np.random.default_rng(1)
    ratings = sp.random(20, 50, density=0.5, random_state=rng, format="csr", dtype=np.float32)
    ratings.data[:] = 3.0
    model = RP3Beta(max_user_ratings=4, random_state=0)

    limited = model._limit_user_ratings(ratings)

    counts = np.diff(ratings.indptr)
    assert np.diff(limited.indptr).tolist() == np.minimum(counts, 4).tolist()
    for row in range(ratings.shape[0]):
        assert set(limited[row].indices) <= set(ratings[row].indices)
    assert (limited != model._limit_user_ratings(ratings)).nnz == 0


def test_user_cap_above_degrees_changes_nothing():
    capped = RP3Beta(beta=0.0, max_user_ratings=3).fit(TRIANGLE)

    np.testing.assert_allclose(capped.item_weights_.toarray(), WALK, rtol=1e-6)


def test_user_cap_walks_the_subset():
    # User 2 rated all three items; with at most 2 ratings per user, the walk
    # is the one over the subset that the seed keeps.
    model = RP3Beta(beta=0.0, max_user_ratings=2, random_state=0).fit(TRIANGLE)

    subset = model._limit_user_ratings(TRIANGLE)
    expected = RP3Beta(beta=0.0, max_user_ratings=None).fit(subset)
    assert np.diff(subset.indptr).tolist() == [2, 2, 2]
    np.testing.assert_allclose(model.item_weights_.toarray(), expected.item_weights_.toarray(), rtol=1e-6)
