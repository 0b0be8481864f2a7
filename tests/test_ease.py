"""EASE: the closed form of Steck (2019), the item cap and the scoring paths."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from collaborative.ease import EASE

# Two taste groups: users 0-2 rate items 0-2, users 3-5 rate items 3-5;
# item 5 is rated once more than item 4, item 0 most of all.
BLOCKS = sp.csr_matrix(
    np.array(
        [
            [5, 4, 0, 0, 0, 0],
            [4, 0, 5, 0, 0, 0],
            [3, 5, 4, 0, 0, 0],
            [0, 0, 0, 5, 4, 0],
            [0, 0, 0, 4, 0, 5],
            [0, 0, 0, 0, 0, 4],
        ],
        dtype=np.float32,
    )
)


def test_weights_solve_the_constrained_ridge_regression():
    model = EASE(regularization=2.0).fit(BLOCKS)

    # B = I - P diagMat(1 / diag(P)) with P = (X'X + lambda I)^-1 (Steck 2019, eq. 8).
    binary = (BLOCKS.toarray() > 0).astype(np.float64)
    inverse = np.linalg.inv(binary.T @ binary + 2.0 * np.eye(6))
    expected = np.eye(6) - inverse / np.diag(inverse)[None, :]
    np.testing.assert_allclose(model.item_weights_, expected, atol=1e-6)
    assert np.all(np.diag(model.item_weights_) == 0)


def test_rating_exponent_weighs_higher_ratings_more():
    model = EASE(regularization=2.0, rating_exponent=0.5).fit(BLOCKS)

    inputs = np.sqrt(BLOCKS.toarray().astype(np.float64))
    inverse = np.linalg.inv(inputs.T @ inputs + 2.0 * np.eye(6))
    expected = np.eye(6) - inverse / np.diag(inverse)[None, :]
    np.testing.assert_allclose(model.item_weights_, expected, atol=1e-6)


def test_fold_in_ranks_own_group_first():
    model = EASE(regularization=1.0).fit(BLOCKS)

    scores = model.score(model.fold_in([3], [5.0]))

    assert scores[4] > scores[0]
    assert scores[5] > scores[1]


def test_max_items_keeps_the_most_rated():
    model = EASE(regularization=1.0, max_items=3).fit(BLOCKS)

    # Counts per item: 3, 2, 2, 2, 1, 2; ties go to the lower index.
    assert model.covered_items_.tolist() == [0, 1, 2]
    assert model.item_weights_.shape == (3, 3)


def test_items_outside_the_cap_score_zero():
    model = EASE(regularization=1.0, max_items=3).fit(BLOCKS)

    scores = model.score(model.fold_in([0, 4], [5.0, 3.0]))

    assert scores[3:].tolist() == [0.0, 0.0, 0.0]
    assert scores[1] > 0


def test_score_many_matches_score():
    model = EASE(regularization=1.0, rating_exponent=0.5).fit(BLOCKS)

    batch = model.score_many(model.fold_in_many(BLOCKS))

    for user in range(BLOCKS.shape[0]):
        row = BLOCKS[user]
        single = model.score(model.fold_in(row.indices, row.data))
        np.testing.assert_allclose(batch[user], single, rtol=1e-5, atol=1e-6)


def test_score_of_selected_items():
    model = EASE(regularization=1.0).fit(BLOCKS)
    vector = model.fold_in([0], [4.0])

    assert model.score(vector, [2, 4]).tolist() == model.score(vector)[[2, 4]].tolist()


def test_fit_rejects_non_positive_ratings():
    ratings = sp.csr_matrix(np.array([[1.0, -1.0]], dtype=np.float32))

    with pytest.raises(ValueError, match="user_items must hold positive ratings"):
        EASE().fit(ratings)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"regularization": 0}, "regularization must be > 0, got 0"),
        ({"max_items": 0}, "max_items must be a positive integer, got 0"),
        ({"rating_exponent": 3}, "rating_exponent must be a number in \\[0, 2\\], got 3"),
    ],
)
def test_fit_rejects_bad_hyperparameters(params, message):
    with pytest.raises(ValueError, match=message):
        EASE(**params).fit(BLOCKS)


def test_score_rejects_wrong_vector_length():
    model = EASE(max_items=3).fit(BLOCKS)

    with pytest.raises(ValueError, match="user_vector must have shape \\(3,\\), the covered items, got \\(6,\\)"):
        model.score(np.ones(6))


def test_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        EASE().fold_in([0], [4.0])


def test_explain_terms_sum_to_scores():
    model = EASE(regularization=1.0, rating_exponent=0.5, max_items=5).fit(BLOCKS)
    items, ratings, targets = np.array([0, 3, 4]), np.array([5.0, 4.0, 2.0]), np.array([1, 2, 5])

    terms = model.explain(items, ratings, targets)

    scores = model.score(model.fold_in(items, ratings))
    np.testing.assert_allclose(terms.sum(axis=0), scores[targets], rtol=1e-5, atol=1e-6)
    # Item 4 is the least rated and not covered, so it adds nothing.
    assert not terms[2].any()
    assert terms[0, 0] == pytest.approx(np.sqrt(5.0) * model.item_weights_[0, 1], rel=1e-6)
