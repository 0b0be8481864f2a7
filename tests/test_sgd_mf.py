import logging

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from collaborative._checks import ModelFitError
from collaborative.sgd_mf import ExplicitMF, _sgd_epoch


def rank_one_ratings():
    """Return a fully observed 6 x 5 matrix equal to an outer product, values in [1, 5]."""
    user_scale = np.array([1.0, 1.2, 1.5, 1.8, 2.0, 2.2])
    item_scale = np.array([0.6, 1.0, 1.4, 1.8, 2.2])
    return np.outer(user_scale, item_scale)


def random_ratings(n_users=30, n_items=20, density=0.5, seed=0):
    """Return a sparse users x items matrix of whole-star ratings in [1, 5]."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_items))
    stars = np.clip(np.rint(3.0 + taste), 1, 5)
    return sp.csr_matrix(np.where(mask, stars, 0.0))


def hand_made_model(fold_in_regularization=1.0):
    """Return a one-factor model with biases and factors set by hand, bypassing fit."""
    model = ExplicitMF(factors=1, fold_in_regularization=fold_in_regularization)
    model.global_mean_ = 3.0
    model.user_bias_ = np.array([0.25], dtype=np.float32)
    model.item_bias_ = np.array([0.5, -0.5, 0.0], dtype=np.float32)
    model.user_factors_ = np.array([[2.0]], dtype=np.float32)
    model.item_factors_ = np.array([[1.0], [2.0], [-1.0]], dtype=np.float32)
    return model


def test_global_mean_is_mean_rating():
    user_items = sp.csr_matrix(np.array([[5.0, 0.0, 3.0], [0.0, 4.0, 1.0]]))

    model = ExplicitMF(factors=2, epochs=1, random_state=0).fit(user_items)

    assert model.global_mean_ == pytest.approx(13.0 / 4.0, abs=1e-12)


def test_stored_zero_counts_as_rating():
    # A stored entry is a rating even when its value is 0, as with a 0-star scale.
    user_items = sp.csr_matrix(
        (np.array([0.0, 2.0, 1.0]), (np.array([0, 0, 1]), np.array([0, 1, 1]))), shape=(2, 2)
    )

    model = ExplicitMF(factors=2, epochs=1, random_state=0).fit(user_items)

    assert model.global_mean_ == pytest.approx(1.0)


def test_fit_sets_shapes_and_dtypes():
    model = ExplicitMF(factors=4, epochs=2, random_state=0).fit(random_ratings(n_users=7, n_items=5))

    assert isinstance(model.global_mean_, float)
    assert model.user_bias_.shape == (7,)
    assert model.item_bias_.shape == (5,)
    assert model.user_factors_.shape == (7, 4)
    assert model.item_factors_.shape == (5, 4)
    for array in (model.user_bias_, model.item_bias_, model.user_factors_, model.item_factors_):
        assert array.dtype == np.float32
    assert model.n_users == 7
    assert model.n_items == 5


def test_fit_reproduces_rank_one_matrix():
    ratings = rank_one_ratings()

    model = ExplicitMF(
        factors=1, epochs=3000, learning_rate=0.02, regularization=0.0, init_std=0.1, random_state=0
    ).fit(sp.csr_matrix(ratings))

    users, items = np.indices(ratings.shape).reshape(2, -1)
    predictions = model.predict(users, items)
    np.testing.assert_allclose(predictions, ratings.ravel(), atol=0.02)


def test_classic_settings_fit_training_ratings():
    user_items = random_ratings()

    model = ExplicitMF(epochs=100, learning_rate=0.01, random_state=0).fit(user_items)

    coo = user_items.tocoo()
    errors = model.predict(coo.row, coo.col) - coo.data
    baseline_rmse = np.sqrt(np.mean((coo.data - coo.data.mean()) ** 2))
    assert np.sqrt(np.mean(errors**2)) < 0.5 * baseline_rmse


def test_sgd_epoch_matches_reference_steps():
    user_items = random_ratings(n_users=6, n_items=5, density=0.6, seed=3)
    rng = np.random.default_rng(1)
    user_factors = rng.normal(0.0, 0.3, size=(6, 3)).astype(np.float32)
    item_factors = rng.normal(0.0, 0.3, size=(5, 3)).astype(np.float32)
    user_bias = rng.normal(0.0, 0.3, size=6).astype(np.float32)
    item_bias = rng.normal(0.0, 0.3, size=5).astype(np.float32)
    user_order = np.array([4, 0, 5, 2, 1, 3])
    global_mean, rate, penalty, bias_rate, bias_penalty = 3.0, 0.05, 0.1, 0.03, 0.2

    # The update rules of the biased model, one rating at a time in float64.
    p, q = user_factors.astype(np.float64), item_factors.astype(np.float64)
    b_u, b_i = user_bias.astype(np.float64), item_bias.astype(np.float64)
    expected_squared_error = 0.0
    for u in user_order:
        for entry in range(user_items.indptr[u], user_items.indptr[u + 1]):
            i = user_items.indices[entry]
            error = user_items.data[entry] - (global_mean + b_u[u] + b_i[i] + q[i] @ p[u])
            expected_squared_error += error**2
            b_u[u] += bias_rate * (error - bias_penalty * b_u[u])
            b_i[i] += bias_rate * (error - bias_penalty * b_i[i])
            p[u], q[i] = p[u] + rate * (error * q[i] - penalty * p[u]), q[i] + rate * (error * p[u] - penalty * q[i])

    squared_error = _sgd_epoch(
        user_items.indptr.astype(np.int64), user_items.indices.astype(np.int64),
        user_items.data.astype(np.float32), user_order, np.float32(global_mean),
        user_bias, item_bias, user_factors, item_factors,
        np.float32(rate), np.float32(penalty), np.float32(bias_rate), np.float32(bias_penalty),
    )

    assert squared_error == pytest.approx(expected_squared_error, rel=1e-5)
    np.testing.assert_allclose(user_factors, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(item_factors, q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(user_bias, b_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(item_bias, b_i, rtol=1e-5, atol=1e-6)


def test_user_vector_is_bias_then_factors():
    model = ExplicitMF(factors=3, epochs=2, random_state=0).fit(random_ratings())

    vector = model.user_vector(4)

    assert vector.dtype == np.float32
    assert vector.shape == (4,)
    assert vector[0] == model.user_bias_[4]
    np.testing.assert_array_equal(vector[1:], model.user_factors_[4])


def test_score_and_predict_agree():
    model = ExplicitMF(factors=3, epochs=5, random_state=0).fit(random_ratings())
    items = np.arange(model.n_items)

    scores = model.score(model.user_vector(2))
    predictions = model.predict(np.full(items.size, 2), items)

    expected = (
        model.global_mean_ + model.user_bias_[2] + model.item_bias_ + model.item_factors_ @ model.user_factors_[2]
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    np.testing.assert_allclose(predictions, expected, rtol=1e-5)
    np.testing.assert_allclose(model.score(model.user_vector(2), [3, 1]), expected[[3, 1]], rtol=1e-5)


def test_fold_in_matches_closed_form_ridge():
    model = hand_made_model(fold_in_regularization=1.0)

    # Residuals r - mu - b_i are [0.5, -0.5]; the design rows [1, q_i] are
    # [1, 1] and [1, 2]. (A^T A + I) = [[3, 3], [3, 6]] and A^T y = [0, -0.5],
    # so [b_u, p_u] = [1/6, -1/6].
    vector = model.fold_in([0, 1], [4.0, 2.0])

    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector, [1.0 / 6.0, -1.0 / 6.0], rtol=1e-6)


def test_fold_in_with_fewer_ratings_than_unknowns_matches_ridge():
    model = hand_made_model(fold_in_regularization=1.0)

    # One rating, two unknowns [b_u, p_u]: residual 4 - 3 - 0.5 = 0.5, design row [1, 1].
    # (A^T A + I) = [[2, 1], [1, 2]] and A^T y = [0.5, 0.5], so [b_u, p_u] = [1/6, 1/6].
    vector = model.fold_in([0], [4.0])

    np.testing.assert_allclose(vector, [1.0 / 6.0, 1.0 / 6.0], rtol=1e-6)


def test_fold_in_many_and_score_many_match_one_user_at_a_time():
    model = hand_made_model()
    ratings = sp.csr_matrix(np.array([[4.0, 2.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, 0.0]], dtype=np.float32))

    vectors = model.fold_in_many(ratings)
    scores = model.score_many(vectors)

    for row in range(3):
        single = model.fold_in(ratings[row].indices, ratings[row].data)
        np.testing.assert_allclose(vectors[row], single, rtol=1e-6)
        np.testing.assert_allclose(scores[row], model.score(single), rtol=1e-6)


def test_fold_in_ignores_input_order():
    model = hand_made_model()

    forward = model.fold_in([0, 1, 2], [4.0, 2.0, 5.0])
    backward = model.fold_in([2, 1, 0], [5.0, 2.0, 4.0])

    np.testing.assert_allclose(forward, backward, rtol=1e-6)


def test_fold_in_without_ratings_gives_baseline():
    model = hand_made_model()

    vector = model.fold_in([], [])

    np.testing.assert_array_equal(vector, np.zeros(2, dtype=np.float32))
    np.testing.assert_allclose(model.score(vector), 3.0 + model.item_bias_)


def test_fold_in_of_training_user_matches_fit():
    ratings = rank_one_ratings()
    regularization = 0.01
    model = ExplicitMF(
        factors=1, epochs=3000, learning_rate=0.02, regularization=regularization, random_state=0
    ).fit(sp.csr_matrix(ratings))

    # SGD applies the penalty once per rating, so the matching ridge penalty
    # for a user with n ratings is regularization * n.
    model.set_params(fold_in_regularization=regularization * ratings.shape[1])
    items = np.arange(ratings.shape[1])
    folded = model.fold_in(items, ratings[3])

    np.testing.assert_allclose(model.score(folded), model.score(model.user_vector(3)), atol=0.02)


def test_rating_range_clips_predictions():
    model = hand_made_model()
    model.set_params(rating_range=(3.0, 3.75))
    vector = np.array([0.0, 0.5], dtype=np.float32)

    # Unclipped, score gives 3 + b_i + 0.5 * q_i = [4.0, 3.5, 2.5] and predict
    # for user 0 gives 3 + 0.25 + b_i + 2 * q_i = [5.75, 6.75, 1.25].
    np.testing.assert_allclose(model.score(vector), [3.75, 3.5, 3.0])
    np.testing.assert_allclose(model.predict([0, 0, 0], [0, 1, 2]), [3.75, 3.75, 3.0])

    model.set_params(rating_range=None)
    np.testing.assert_allclose(model.score(vector), [4.0, 3.5, 2.5])
    np.testing.assert_allclose(model.predict([0, 0, 0], [0, 1, 2]), [5.75, 6.75, 1.25])


def test_same_random_state_gives_identical_factors():
    user_items = random_ratings()

    first = ExplicitMF(factors=5, epochs=5, random_state=7).fit(user_items)
    second = ExplicitMF(factors=5, epochs=5, random_state=7).fit(user_items)
    other = ExplicitMF(factors=5, epochs=5, random_state=8).fit(user_items)

    np.testing.assert_array_equal(first.user_factors_, second.user_factors_)
    np.testing.assert_array_equal(first.item_factors_, second.item_factors_)
    np.testing.assert_array_equal(first.user_bias_, second.user_bias_)
    np.testing.assert_array_equal(first.item_bias_, second.item_bias_)
    assert not np.array_equal(first.user_factors_, other.user_factors_)


def test_default_bias_settings_follow_factor_settings():
    user_items = random_ratings()

    implied = ExplicitMF(factors=3, epochs=3, random_state=1).fit(user_items)
    explicit = ExplicitMF(
        factors=3, epochs=3, random_state=1, bias_learning_rate=0.005, bias_regularization=0.02
    ).fit(user_items)

    np.testing.assert_array_equal(implied.user_bias_, explicit.user_bias_)
    np.testing.assert_array_equal(implied.item_factors_, explicit.item_factors_)


def test_learning_rate_decay_changes_fit():
    user_items = random_ratings()

    constant = ExplicitMF(factors=3, epochs=3, random_state=1).fit(user_items)
    decayed = ExplicitMF(factors=3, epochs=3, random_state=1, learning_rate_decay=0.5).fit(user_items)

    # The first epoch runs at the full rate in both, so only later epochs differ.
    assert not np.array_equal(constant.user_factors_, decayed.user_factors_)


def test_rows_without_ratings_stay_zero():
    dense = random_ratings(n_users=6, n_items=5, density=1.0).toarray()
    dense[2, :] = 0.0
    dense[:, 4] = 0.0

    model = ExplicitMF(factors=3, epochs=5, random_state=0).fit(sp.csr_matrix(dense))

    np.testing.assert_array_equal(model.user_vector(2), np.zeros(4, dtype=np.float32))
    np.testing.assert_array_equal(model.item_factors_[4], np.zeros(3, dtype=np.float32))
    assert model.item_bias_[4] == 0.0


def test_hogwild_threads_fit_like_serial():
    user_items = random_ratings(n_users=200, n_items=50)
    coo = user_items.tocoo()

    def training_rmse(num_threads):
        model = ExplicitMF(factors=5, epochs=30, learning_rate=0.01, random_state=0, num_threads=num_threads)
        model.fit(user_items)
        return np.sqrt(np.mean((model.predict(coo.row, coo.col) - coo.data) ** 2))

    assert training_rmse(2) == pytest.approx(training_rmse(1), abs=0.05)


def test_show_progress_writes_bar(capsys):
    ExplicitMF(factors=2, epochs=3, random_state=0, show_progress=True).fit(random_ratings())

    assert "3/3" in capsys.readouterr().err


def test_fit_logs_timing_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="collaborative.sgd_mf"):
        ExplicitMF(factors=2, epochs=3, random_state=0).fit(random_ratings())

    assert "Fitted ExplicitMF on 30 users x 20 items" in caplog.text


def test_clone_keeps_parameters():
    model = ExplicitMF(factors=8, rating_range=(1, 5), learning_rate_decay=0.9)

    params = clone(model).get_params()

    assert params["factors"] == 8
    assert params["rating_range"] == (1, 5)
    assert params["learning_rate_decay"] == 0.9


def test_huge_learning_rate_raises_model_fit_error():
    model = ExplicitMF(factors=5, epochs=50, learning_rate=1e3, random_state=0)

    with pytest.raises(ModelFitError, match="ExplicitMF produced non-finite values"):
        model.fit(random_ratings())

    # A failed fit must not leave a half-trained model behind.
    with pytest.raises(NotFittedError):
        model.user_vector(0)


@pytest.mark.parametrize(
    "method, arguments",
    [
        ("user_vector", (0,)),
        ("fold_in", ([0], [4.0])),
        ("score", (np.zeros(3),)),
        ("predict", ([0], [0])),
    ],
)
def test_unfitted_model_raises_not_fitted(method, arguments):
    with pytest.raises(NotFittedError):
        getattr(ExplicitMF(), method)(*arguments)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"factors": 0}, r"factors must be a positive integer, got 0"),
        ({"factors": 2.5}, r"factors must be a positive integer, got 2.5"),
        ({"factors": True}, r"factors must be a positive integer, got True"),
        ({"epochs": -1}, r"epochs must be a positive integer, got -1"),
        ({"learning_rate": 0.0}, r"learning_rate must be a positive number, got 0.0"),
        ({"learning_rate": float("nan")}, r"learning_rate must be a positive number, got nan"),
        ({"regularization": -0.1}, r"regularization must be a non-negative number, got -0.1"),
        ({"init_std": "0.1"}, r"init_std must be a non-negative number, got '0.1'"),
        ({"bias_learning_rate": -1.0}, r"bias_learning_rate must be a positive number, got -1.0"),
        ({"bias_regularization": -1.0}, r"bias_regularization must be a non-negative number, got -1.0"),
        ({"learning_rate_decay": 1.5}, r"learning_rate_decay must be a number in \(0, 1.0\], got 1.5"),
        ({"learning_rate_decay": 0}, r"learning_rate_decay must be a number in \(0, 1.0\], got 0"),
        ({"fold_in_regularization": 0.0}, r"fold_in_regularization must be a positive number, got 0.0"),
        ({"num_threads": -2}, r"num_threads must be a non-negative integer, got -2"),
        ({"rating_range": (5, 1)}, r"rating_range must be None or a pair \(low, high\) .* got \(5, 1\)"),
        ({"rating_range": 5}, r"rating_range must be None or a pair \(low, high\) .* got 5"),
        ({"rating_range": (1, float("inf"))}, r"rating_range must be None or a pair \(low, high\) .* got \(1, inf\)"),
    ],
)
def test_fit_rejects_invalid_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        ExplicitMF(**params).fit(random_ratings())


def test_fit_rejects_dense_matrix():
    with pytest.raises(TypeError, match="user_items must be a scipy.sparse matrix"):
        ExplicitMF().fit(np.ones((3, 3)))


def test_fit_rejects_empty_matrix():
    with pytest.raises(ValueError, match="user_items must hold at least one rating"):
        ExplicitMF().fit(sp.csr_matrix((3, 3)))


def test_user_vector_rejects_invalid_index():
    model = hand_made_model()

    with pytest.raises(ValueError, match=r"user_index must be an integer in \[0, 1\), got 1"):
        model.user_vector(1)
    with pytest.raises(ValueError, match=r"user_index must be an integer in \[0, 1\), got 0.0"):
        model.user_vector(0.0)


def test_score_rejects_invalid_vector():
    model = hand_made_model()

    with pytest.raises(ValueError, match=r"user_vector must have shape \(2,\) for \[b_u, p_u...\], got shape \(3,\)"):
        model.score(np.zeros(3))
    with pytest.raises(ValueError, match="user_vector must contain only finite numbers"):
        model.score(np.array([np.nan, 0.0]))


def test_score_rejects_invalid_item_indices():
    model = hand_made_model()
    vector = np.zeros(2)

    with pytest.raises(ValueError, match=r"item_indices must lie in \[0, 3\), got values from 0 to 3"):
        model.score(vector, [0, 3])
    with pytest.raises(ValueError, match="item_indices must contain integers, got dtype float64"):
        model.score(vector, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"item_indices must be a 1-D array of indices, got an array of shape \(\)"):
        model.score(vector, 1)


def test_predict_rejects_invalid_pairs():
    model = hand_made_model()

    with pytest.raises(ValueError, match="user_indices and item_indices must have the same length, got 2 and 1"):
        model.predict([0, 0], [1])
    with pytest.raises(ValueError, match=r"user_indices must lie in \[0, 1\), got values from -1 to 0"):
        model.predict([-1, 0], [1, 2])


def test_fold_in_rejects_invalid_ratings():
    model = hand_made_model()

    with pytest.raises(ValueError, match="item_indices and ratings must have the same length, got 2 and 1"):
        model.fold_in([0, 1], [4.0])
    with pytest.raises(ValueError, match=r"item_indices must lie in \[0, 3\), got values from 0 to 5"):
        model.fold_in([0, 5], [4.0, 3.0])
    with pytest.raises(ValueError, match="fold_in_regularization must be a positive number, got -1"):
        model.set_params(fold_in_regularization=-1).fold_in([0], [4.0])
