"""Evaluation splits: no (user, movie) pair on both sides, time order, the right users held out."""

import numpy as np
import pandas as pd
import pytest

from hybrid.splits import ml100k_folds, new_user_split, random_holdout, temporal_split
from tests.synthetic import taste_groups
from tests.test_data import ML100K_DIR, needs_ml100k


@pytest.fixture(scope="module")
def ratings():
    return taste_groups().ratings


def pairs(frame):
    return set(zip(frame["user_id"], frame["movie_id"]))


def test_random_holdout_has_no_pair_on_both_sides(ratings):
    split = random_holdout(ratings, 0.25, random_state=3)

    assert not pairs(split.train) & pairs(split.test)
    assert pairs(split.train) | pairs(split.test) == pairs(ratings)
    assert len(split.train) + len(split.test) == len(ratings)


def test_random_holdout_takes_the_fraction_of_each_user(ratings):
    split = random_holdout(ratings, 0.25, random_state=3)

    per_user = split.test.groupby("user_id").size()
    # Every synthetic user has 24 ratings, so 6 go to the test set.
    assert (per_user == 6).all()
    assert per_user.size == ratings["user_id"].nunique()


def test_random_holdout_rounds_per_user():
    frame = pd.DataFrame(
        {
            "user_id": [1] * 3 + [2] * 10,
            "movie_id": list(range(3)) + list(range(10)),
            "rating": 4.0,
            "timestamp": range(13),
        }
    )

    split = random_holdout(frame, 0.25, random_state=0)

    # round(0.75) = 1 and round(2.5) = 2 (numpy rounds half to even).
    assert split.test.groupby("user_id").size().to_dict() == {1: 1, 2: 2}


def test_random_holdout_is_reproducible(ratings):
    first = random_holdout(ratings, 0.3, random_state=7)
    second = random_holdout(ratings, 0.3, random_state=7)
    other = random_holdout(ratings, 0.3, random_state=8)

    assert pairs(first.test) == pairs(second.test)
    assert pairs(first.test) != pairs(other.test)


def test_temporal_split_keeps_train_before_test(ratings):
    split = temporal_split(ratings, 0.2)

    assert split.train["timestamp"].max() < split.test["timestamp"].min()
    assert len(split.test) == 432  # 20% of 2,160 distinct timestamps
    assert not pairs(split.train) & pairs(split.test)


def test_temporal_split_keeps_ties_at_the_cutoff_in_train():
    frame = pd.DataFrame(
        {"user_id": [1, 1, 2, 2, 3], "movie_id": [1, 2, 1, 2, 1], "rating": 3.0, "timestamp": [10, 20, 20, 20, 30]}
    )

    split = temporal_split(frame, 0.5)

    assert sorted(split.train["timestamp"]) == [10, 20, 20, 20]
    assert split.test["timestamp"].tolist() == [30]


def test_temporal_split_rejects_equal_timestamps():
    frame = pd.DataFrame({"user_id": [1, 2], "movie_id": [1, 1], "rating": 3.0, "timestamp": [5, 5]})

    with pytest.raises(ValueError, match="no rating is later than the cutoff time 5"):
        temporal_split(frame, 0.5)


def test_new_user_split_holds_out_whole_users(ratings):
    split = new_user_split(ratings, 0.2, max_revealed=10, random_state=1)

    held_out = set(split.test["user_id"])
    assert len(held_out) == 18  # 20% of 90 eligible users
    assert held_out.isdisjoint(set(split.train["user_id"]))
    assert set(split.revealed["user_id"]) == held_out


def test_new_user_split_reveals_the_first_k(ratings):
    split = new_user_split(ratings, 0.2, max_revealed=10, random_state=1)

    revealed = split.revealed.groupby("user_id")["position"].agg(list)
    assert all(positions == list(range(10)) for positions in revealed)
    assert split.revealed_ratings(3).groupby("user_id").size().eq(3).all()
    assert pairs(split.revealed_ratings(1)) <= pairs(split.revealed_ratings(3))
    # The test set is the same whatever k: each user's 24 ratings minus 10.
    assert split.test.groupby("user_id").size().eq(14).all()


def test_new_user_split_has_no_pair_twice(ratings):
    split = new_user_split(ratings, 0.2, max_revealed=5, random_state=2)

    sides = [pairs(split.train), pairs(split.test), pairs(split.revealed)]
    assert not sides[0] & sides[1]
    assert not sides[0] & sides[2]
    assert not sides[1] & sides[2]
    assert len(split.train) + len(split.test) + len(split.revealed) == len(ratings)


def test_new_user_split_earliest_reveals_oldest_ratings(ratings):
    split = new_user_split(ratings, 0.2, max_revealed=4, reveal_order="earliest", random_state=2)

    latest_revealed = split.revealed.groupby("user_id")["timestamp"].max()
    earliest_test = split.test.groupby("user_id")["timestamp"].min()
    assert (latest_revealed < earliest_test).all()


def test_new_user_split_only_holds_out_eligible_users():
    frame = pd.DataFrame(
        {
            "user_id": np.repeat([1, 2, 3, 4], [3, 8, 8, 8]),
            "movie_id": np.concatenate([np.arange(3), np.arange(8), np.arange(8), np.arange(8)]),
            "rating": 4.0,
            "timestamp": np.arange(27),
        }
    )

    split = new_user_split(frame, 0.5, max_revealed=3, min_test_ratings=5, random_state=0)

    assert 1 not in set(split.test["user_id"])
    assert split.test["user_id"].nunique() == 2  # half of the 3 eligible users, rounded


def test_new_user_split_needs_two_eligible_users():
    frame = pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [1, 2, 1], "rating": 4.0, "timestamp": [1, 2, 3]})

    with pytest.raises(ValueError, match="needs at least 2 users with 15 or more ratings, found 0"):
        new_user_split(frame, 0.5)


def test_split_rejects_fraction_outside_zero_one(ratings):
    with pytest.raises(ValueError, match="test_fraction must be a number between 0 and 1 \\(exclusive\\), got 1.5"):
        random_holdout(ratings, 1.5)


def test_split_rejects_duplicate_pairs():
    frame = pd.DataFrame({"user_id": [1, 1], "movie_id": [1, 1], "rating": 4.0, "timestamp": [1, 2]})

    with pytest.raises(ValueError, match="one row per \\(user_id, movie_id\\) pair"):
        random_holdout(frame, 0.5)


def test_train_dataset_drops_tags_of_test_pairs(ratings):
    dataset = taste_groups()
    split = random_holdout(dataset.ratings, 0.25, random_state=0)
    held = split.test.iloc[0]
    kept = split.train.iloc[0]
    dataset.tags = pd.DataFrame(
        {
            "user_id": [held["user_id"], kept["user_id"]],
            "movie_id": [held["movie_id"], kept["movie_id"]],
            "tag": ["seen it", "also seen"],
            "timestamp": [1, 2],
        }
    )

    train = split.train_dataset(dataset)

    assert train.tags["tag"].tolist() == ["also seen"]
    assert len(train.ratings) == len(split.train)


@needs_ml100k
def test_ml100k_folds_are_the_canonical_files():
    folds = list(ml100k_folds(ML100K_DIR, folds=(1,)))

    train, split = folds[0]
    assert split.name == "u1"
    assert len(split.train) == 80_000
    assert len(split.test) == 20_000
    assert not pairs(split.train) & pairs(split.test)
    assert len(train.movies) == 1682
