"""A small synthetic MovieLens-like data set with three taste groups, for evaluation and tuning tests."""

import numpy as np
import pandas as pd

from hybrid.data import Dataset, RatingScale

GENRES = ("Animation", "Crime", "Romance")


def taste_groups(n_users=90, n_movies=60, ratings_per_user=24, seed=0):
    """Return a Dataset where each user mostly rates, and likes, movies of one of three genres.

    User ``u`` belongs to group ``u % 3`` and movie ``m`` to genre
    ``m % 3``. Four in five of a user's ratings are of their group's
    movies, rated 4 to 5 stars; the rest are of other movies, rated 1 to
    2.5. Timestamps grow with the row number, so every rating has its own.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group = user % 3
        own = np.flatnonzero(np.arange(n_movies) % 3 == group)
        other = np.flatnonzero(np.arange(n_movies) % 3 != group)
        n_own = ratings_per_user * 4 // 5
        # Within a group, lower movie ids are more popular.
        weights = 1.0 / (1.0 + np.arange(own.size))
        liked = rng.choice(own, size=n_own, replace=False, p=weights / weights.sum())
        disliked = rng.choice(other, size=ratings_per_user - n_own, replace=False)
        for movie in liked:
            rows.append((user + 1, movie + 1, float(rng.choice([4.0, 4.5, 5.0]))))
        for movie in disliked:
            rows.append((user + 1, movie + 1, float(rng.choice([1.0, 1.5, 2.0, 2.5]))))

    ratings = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])
    ratings["timestamp"] = 1_000_000 + np.arange(len(ratings), dtype=np.int64) * 60
    ratings = ratings.astype({"user_id": np.int64, "movie_id": np.int64, "rating": np.float64})

    movies = pd.DataFrame(
        {
            "movie_id": np.arange(1, n_movies + 1, dtype=np.int64),
            "title": [f"{GENRES[m % 3]} Story {m} ({1980 + m % 20})" for m in range(n_movies)],
            "genres": [(GENRES[m % 3],) for m in range(n_movies)],
            "year": pd.array([1980 + m % 20 for m in range(n_movies)], dtype="Int64"),
        }
    )
    return Dataset(ratings=ratings, movies=movies, tags=None, rating_scale=RatingScale(), reports=[], name="synthetic")


def write_csv(dataset, directory):
    """Write ``dataset`` as MovieLens ratings.csv and movies.csv files in ``directory``."""
    ratings = dataset.ratings.rename(columns={"user_id": "userId", "movie_id": "movieId"})
    ratings.to_csv(directory / "ratings.csv", index=False)
    movies = pd.DataFrame(
        {
            "movieId": dataset.movies["movie_id"],
            "title": dataset.movies["title"],
            "genres": ["|".join(genres) for genres in dataset.movies["genres"]],
        }
    )
    movies.to_csv(directory / "movies.csv", index=False)
    return directory
