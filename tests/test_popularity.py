import numpy as np
import pytest
import scipy.sparse as sp

from collaborative.popularity import Popularity

RATINGS = sp.csr_matrix(
    np.array(
        [
            [5.0, 0.0, 1.0, 0.0],
            [4.0, 2.0, 0.0, 0.0],
            [3.0, 5.0, 0.0, 0.0],
        ]
    )
)


def test_items_are_ranked_by_number_of_ratings():
    model = Popularity().fit(RATINGS)

    assert model.counts_.tolist() == [3, 2, 1, 0]
    assert model.ranking().tolist() == [0, 1, 2, 3]


def test_equal_counts_rank_the_better_rated_first():
    ratings = sp.csr_matrix(np.array([[1.0, 5.0], [1.0, 5.0]]))

    assert Popularity(damping=1.0).fit(ratings).ranking().tolist() == [1, 0]


def test_damped_mean_shrinks_toward_global_mean():
    model = Popularity(damping=2.0).fit(RATINGS)

    global_mean = 20.0 / 6.0
    assert model.damped_means_[0] == pytest.approx((12.0 + 2 * global_mean) / 5.0)
    assert model.damped_means_[3] == pytest.approx(global_mean)


def test_negative_damping_is_rejected():
    with pytest.raises(ValueError, match=r"damping must be >= 0, got -1"):
        Popularity(damping=-1).fit(RATINGS)
