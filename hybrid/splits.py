"""Evaluation splits of a ratings table: what a model trains on and what it is tested on.

Every split returns a `Split` of pandas DataFrames with the columns of
``Dataset.ratings``. A (user, movie) pair is in at most one of ``train``,
``test`` and ``revealed``. Every split assigns each row of the ratings
table to exactly one of them, and a `Dataset` has one row per pair.

- `random_holdout`: each user's ratings are shuffled and a fraction of them
  is held out (per-user random holdout).
- `temporal_split`: one global cutoff time; every training rating is at or
  before it and every test rating after it.
- `new_user_split`: whole users are held out of training. The first ``k``
  ratings of each, in a random or time order, are the cold-start input
  (``revealed``); the test set is their ratings after the largest ``k``.
- `ml100k_folds`: the canonical u1..u5 folds shipped with ml-100k.

All randomness comes from ``random_state``, so a split is reproducible.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from hybrid.data import load_ml100k

REVEAL_ORDERS = ("random", "earliest")


@dataclass
class Split:
    """Training and test ratings of one evaluation split.

    Attributes
    ----------
    name : str
        What the split is, for example ``"random 75/25"`` or ``"u1"``.
    train : pandas.DataFrame
        Ratings the model is fitted on.
    test : pandas.DataFrame
        Held-out ratings the model is measured on.
    revealed : pandas.DataFrame or None
        For a new-user split, the held-out users' ratings that are given to
        the model as cold-start input. Its column ``position`` is 0 for each
        user's first revealed rating, so revealing ``k`` ratings means the
        rows with ``position < k``. None for the other splits.
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    revealed: pd.DataFrame | None = None

    def revealed_ratings(self, k):
        """Return the first ``k`` revealed ratings of each held-out user."""
        if self.revealed is None:
            raise ValueError(f"split {self.name!r} has no revealed ratings; only a new-user split has them")
        return self.revealed[self.revealed["position"] < k]

    def train_dataset(self, dataset):
        """Return ``dataset`` restricted to the training ratings, for fitting a model.

        Tags that a user gave a movie of the test set are dropped as well,
        because a tag shows that the user saw the movie.
        """
        tags = dataset.tags
        if tags is not None and not tags.empty:
            held_out = pd.MultiIndex.from_frame(self.test[["user_id", "movie_id"]])
            tagged = pd.MultiIndex.from_frame(tags[["user_id", "movie_id"]])
            tags = tags[~tagged.isin(held_out)].reset_index(drop=True)
        return dataclasses.replace(dataset, ratings=self.train.reset_index(drop=True), tags=tags, name=f"{dataset.name} ({self.name})")


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def _check_ratings(ratings):
    missing = {"user_id", "movie_id", "rating", "timestamp"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings must have the columns user_id, movie_id, rating and timestamp; missing {sorted(missing)}")
    if ratings.empty:
        raise ValueError("ratings must hold at least one row")
    if ratings.duplicated(["user_id", "movie_id"]).any():
        raise ValueError("ratings must hold one row per (user_id, movie_id) pair")
    return ratings.reset_index(drop=True)


def _positions_within_user(ratings, keys):
    """Return each row's 0-based position among its user's rows, ordered by ``keys``."""
    order = np.lexsort((keys, ratings["user_id"].to_numpy()))
    users = ratings["user_id"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, users.size])
    positions = np.empty(users.size, dtype=np.int64)
    positions[order] = np.arange(users.size) - np.repeat(starts, lengths)
    return positions


def random_holdout(ratings, test_fraction=0.25, *, random_state=0, name=None):
    """Hold out a random ``test_fraction`` of each user's ratings.

    A user with ``n`` ratings keeps ``n - round(test_fraction * n)`` of them
    in training, so every user with at least 2 ratings (at least 1 when the
    fraction is above one half) has ratings on both sides. Rounding is
    numpy's, half to even.
    """
    ratings = _check_ratings(ratings)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    rng = check_random_state(random_state)

    positions = _positions_within_user(ratings, rng.random_sample(len(ratings)))
    counts = ratings.groupby("user_id")["user_id"].transform("size").to_numpy()
    in_test = positions < np.round(test_fraction * counts)

    name = name or f"random {round(100 * (1 - test_fraction))}/{round(100 * test_fraction)}"
    return Split(name, ratings[~in_test].reset_index(drop=True), ratings[in_test].reset_index(drop=True))


def temporal_split(ratings, test_fraction=0.2, *, name=None):
    """Split at one global time: the latest ``test_fraction`` of ratings, or a little less, are the test set.

    The cutoff is the timestamp below which ``1 - test_fraction`` of the
    ratings fall. Ratings at the cutoff time stay in training, so no
    training rating is later than any test rating. Users whose ratings all
    fall after the cutoff are in the test set only.
    """
    ratings = _check_ratings(ratings)
    test_fraction = _check_fraction("test_fraction", test_fraction)

    times = ratings["timestamp"].to_numpy()
    cutoff = np.sort(times)[int(np.ceil((1 - test_fraction) * len(times))) - 1]
    in_test = times > cutoff
    if not in_test.any():
        raise ValueError(f"no rating is later than the cutoff time {cutoff}; a temporal split needs distinct timestamps")

    name = name or f"temporal, last {round(100 * test_fraction)}%"
    return Split(name, ratings[~in_test].reset_index(drop=True), ratings[in_test].reset_index(drop=True))


def new_user_split(
    ratings,
    test_user_fraction=0.2,
    *,
    max_revealed=10,
    min_test_ratings=5,
    reveal_order="random",
    random_state=0,
    name=None,
):
    """Hold out whole users and reveal up to ``max_revealed`` of each one's ratings.

    Parameters
    ----------
    ratings : pandas.DataFrame
    test_user_fraction : float
        Share of the eligible users that are held out, rounded to at least one.
    max_revealed : int
        The largest number of revealed ratings to be evaluated; revealing
        ``k <= max_revealed`` uses the first ``k`` of them. The test set is
        the same for every ``k``: each held-out user's ratings after the
        first ``max_revealed``.
    min_test_ratings : int
        Eligible users have at least ``max_revealed + min_test_ratings`` ratings.
    reveal_order : {"random", "earliest"}
        Reveal a random selection of each user's ratings, or the earliest
        ones by timestamp (ties in random order).
    random_state : int or None
    """
    ratings = _check_ratings(ratings)
    test_user_fraction = _check_fraction("test_user_fraction", test_user_fraction)
    for label, value in (("max_revealed", max_revealed), ("min_test_ratings", min_test_ratings)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if reveal_order not in REVEAL_ORDERS:
        raise ValueError(f"reveal_order must be one of {list(REVEAL_ORDERS)}, got {reveal_order!r}")
    rng = check_random_state(random_state)

    counts = ratings.groupby("user_id").size()
    eligible = counts.index[counts >= max_revealed + min_test_ratings].to_numpy()
    if eligible.size < 2:
        raise ValueError(
            f"a new-user split needs at least 2 users with {max_revealed + min_test_ratings} or more ratings, "
            f"found {eligible.size}"
        )
    n_held_out = min(max(1, int(round(test_user_fraction * eligible.size))), eligible.size - 1)
    held_out = np.sort(rng.choice(eligible, size=n_held_out, replace=False))

    random_keys = rng.random_sample(len(ratings))
    if reveal_order == "earliest":
        # Each row's rank by timestamp, with ties in random order.
        time_rank = np.lexsort((random_keys, ratings["timestamp"].to_numpy()))
        keys = np.empty(len(ratings))
        keys[time_rank] = np.arange(len(ratings))
    else:
        keys = random_keys
    positions = _positions_within_user(ratings, keys)

    is_held_out = ratings["user_id"].isin(held_out).to_numpy()
    is_revealed = is_held_out & (positions < max_revealed)
    is_test = is_held_out & ~is_revealed

    revealed = ratings[is_revealed].assign(position=positions[is_revealed])
    revealed = revealed.sort_values(["user_id", "position"]).reset_index(drop=True)
    name = name or f"new users ({n_held_out} held out)"
    return Split(
        name,
        ratings[~is_held_out].reset_index(drop=True),
        ratings[is_test].reset_index(drop=True),
        revealed,
    )


def ml100k_folds(directory, folds=(1, 2, 3, 4, 5)):
    """Yield ``(dataset, split)`` for the canonical ml-100k folds u1..u5.

    ``dataset`` holds the fold's training ratings (``u<k>.base``), so a
    model can be fitted on it directly; ``split.test`` holds ``u<k>.test``.
    """
    for fold in folds:
        train = load_ml100k(directory, ratings_file=f"u{fold}.base")
        test = load_ml100k(directory, ratings_file=f"u{fold}.test")
        yield train, Split(f"u{fold}", train.ratings, test.ratings)

