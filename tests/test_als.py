import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from collaborative.als import ImplicitALS
from collaborative._checks import ModelFitError

# Two taste groups: users 0-2 rate items 0-2, users 3-5 rate items 3-5.
BLOCKS = sp.csr_matrix(
    np.array(
        [
            [5, 4, 0, 0, 0, 0],
            [4, 0, 5, 0, 0, 0],
            [0, 5, 4, 0, 0, 0],
            [0, 0, 0, 5, 4, 0],
            [0, 0, 0, 4, 0, 5],
            [0, 0, 0, 0, 5, 4],
        ],
        dtype=np.float32,
    )
)


def fitted():
    return ImplicitALS(factors=2, regularization=0.01, iterations=20, random_state=0, num_threads=1).fit(BLOCKS)


def test_training_user_prefers_unrated_item_of_own_group():
    model = fitted()

    scores = model.score(model.user_vector(0))

    assert scores[2] > scores[3]
    assert scores[2] > scores[5]


def test_fold_in_ranks_the_raters_group_first():
    model = fitted()

    scores = model.score(model.fold_in([4], [5.0]))

    assert scores[3] > scores[0]
    assert scores[5] > scores[1]


def test_fold_in_solves_the_weighted_least_squares_of_hu_et_al():
    model = fitted()
    items = np.array([0, 2])
    ratings = np.array([5.0, 3.0])

    folded = model.fold_in(items, ratings)

    # x = (Y'Y + Y'(C - I)Y + lambda I)^-1 Y'C p  (Hu, Koren and Volinsky 2008, eq. 4)
    item_factors = model.item_factors_.astype(np.float64)
    confidence = 1.0 + model.alpha * ratings
    rated = item_factors[items]
    left = item_factors.T @ item_factors + rated.T @ np.diag(confidence - 1.0) @ rated
    left += model.regularization * np.eye(2)
    expected = np.linalg.solve(left, rated.T @ confidence)
    np.testing.assert_allclose(folded, expected, rtol=1e-3, atol=1e-4)


def test_fold_in_of_nothing_is_zero():
    model = fitted()

    assert model.fold_in([], []).tolist() == [0.0, 0.0]


def test_same_seed_gives_same_factors():
    np.testing.assert_array_equal(fitted().item_factors_, fitted().item_factors_)


def test_confidence_is_one_plus_alpha_times_rating():
    assert ImplicitALS(alpha=2.0).confidence([0.5, 4.0]).tolist() == [2.0, 9.0]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"factors": 0}, r"factors must be a positive integer, got 0"),
        ({"iterations": 2.5}, r"iterations must be a positive integer, got 2.5"),
        ({"regularization": -1.0}, r"regularization must be >= 0, got -1.0"),
        ({"alpha": 0}, r"alpha must be > 0, got 0"),
    ],
)
def test_invalid_hyperparameters_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        ImplicitALS(**arguments).fit(BLOCKS)


def test_dense_input_is_rejected():
    with pytest.raises(TypeError, match=r"user_items must be a scipy.sparse matrix \(users x items\), got ndarray"):
        ImplicitALS().fit(BLOCKS.toarray())


def test_non_positive_ratings_are_rejected():
    matrix = sp.csr_matrix(np.array([[1.0, -1.0]]))

    with pytest.raises(ValueError, match=r"user_items must hold positive ratings"):
        ImplicitALS().fit(matrix)


def test_nan_ratings_are_rejected():
    matrix = sp.csr_matrix(np.array([[1.0, np.nan]]))

    with pytest.raises(ValueError, match=r"user_items contains 1 NaN or infinite values"):
        ImplicitALS().fit(matrix)


def test_fold_in_rejects_out_of_range_items():
    with pytest.raises(ValueError, match=r"item_indices must lie in \[0, 6\), got values from 2 to 9"):
        fitted().fold_in([2, 9], [4.0, 3.0])


def test_unfitted_model_raises_not_fitted():
    with pytest.raises(NotFittedError):
        ImplicitALS().score(np.zeros(2))


def test_non_finite_factors_raise_model_fit_error(monkeypatch):
    monkeypatch.setattr("implicit.cpu.als.AlternatingLeastSquares.fit", lambda self, *a, **k: _poison(self))

    with pytest.raises(ModelFitError, match=r"ImplicitALS produced non-finite values in user_factors_"):
        ImplicitALS(factors=2).fit(BLOCKS)


def _poison(solver):
    solver.user_factors = np.full((6, 2), np.nan, dtype=np.float32)
    solver.item_factors = np.zeros((6, 2), dtype=np.float32)


def test_explain_splits_the_fold_in_score_by_rated_item():
    model = fitted()
    items = np.array([0, 2, 4])
    ratings = np.array([5.0, 3.0, 1.0])
    targets = np.array([1, 3, 5])

    terms = model.explain(items, ratings, targets)

    assert terms.shape == (3, 3)
    scores = model.score(model.fold_in(items, ratings), targets)
    np.testing.assert_allclose(terms.sum(axis=0), scores, rtol=1e-4, atol=1e-5)


def test_explain_matches_hu_et_al_section_5():
    model = fitted()
    items = np.array([0, 2])
    ratings = np.array([5.0, 3.0])

    terms = model.explain(items, ratings, [1])

    # s_ij c_j with W = (Y'Y + Y'(C - I)Y + lambda I)^-1 and s_ij = y_i' W y_j.
    item_factors = model.item_factors_.astype(np.float64)
    confidence = 1.0 + model.alpha * ratings
    rated = item_factors[items]
    system = item_factors.T @ item_factors + rated.T @ np.diag(confidence - 1.0) @ rated + model.regularization * np.eye(2)
    expected = (rated @ np.linalg.solve(system, item_factors[1])) * confidence
    np.testing.assert_allclose(terms[:, 0], expected, rtol=1e-6)


def test_explain_gives_the_own_group_the_larger_term():
    model = fitted()

    terms = model.explain([0, 3], [5.0, 5.0], [1, 4])

    assert terms[0, 0] > terms[1, 0]  # item 1 is pulled up by item 0, its group
    assert terms[1, 1] > terms[0, 1]  # item 4 by item 3


def test_explain_rejects_out_of_range_targets():
    with pytest.raises(ValueError, match=r"target_items must lie in \[0, 6\), got values from 2 to 6"):
        fitted().explain([0], [5.0], [2, 6])
