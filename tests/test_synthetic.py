"""The synthetic MovieLens-like generator and its command."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from api.cli import cli
from hybrid import synthetic
from hybrid.data import load_movielens_csv
from hybrid.synthetic import MIN_RATINGS_PER_USER, SyntheticSpec, generate_movielens


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A 30,000-rating data set written in two blocks, and its loaded form."""
    out_dir = tmp_path_factory.mktemp("synthetic")
    spec = SyntheticSpec.for_ratings(30_000, seed=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synthetic, "BLOCK_RATINGS", 16_000)
        paths = generate_movielens(spec, out_dir)
    return spec, paths, load_movielens_csv(*paths)


def test_spec_defaults_follow_the_size():
    spec = SyntheticSpec.for_ratings(20_000_000)

    assert spec.n_users == 133_333
    assert spec.n_movies == 27_000
    assert spec.n_tags == 500_000
    assert SyntheticSpec.for_ratings(100_000).n_movies == 1_909
    assert SyntheticSpec.for_ratings(10_000).n_movies == 1_500


def test_files_hold_exactly_the_counts(generated):
    spec, _, data = generated

    assert len(data.ratings) == spec.n_ratings
    assert data.ratings["user_id"].nunique() == spec.n_users
    assert len(data.movies) == spec.n_movies
    assert len(data.tags) == spec.n_tags


def test_files_load_without_rejections(generated):
    _, _, data = generated

    for report in data.reports:
        assert report.rejected == {}
        assert report.duplicates_replaced == 0


def test_ratings_follow_the_movielens_rules(generated):
    _, _, data = generated
    ratings = data.ratings

    assert set(np.unique(ratings["rating"])) <= set(np.arange(1, 11) / 2)
    assert ratings.groupby("user_id").size().min() >= MIN_RATINGS_PER_USER
    assert ratings["user_id"].min() == 1
    assert ratings["user_id"].max() == ratings["user_id"].nunique()
    assert ratings["rating"].mean() == pytest.approx(3.6, abs=0.2)


def test_ratings_file_is_sorted_by_user_then_movie(generated):
    _, paths, _ = generated
    frame = pd.read_csv(paths[0])

    order = np.lexsort((frame["movieId"].to_numpy(), frame["userId"].to_numpy()))
    assert (order == np.arange(len(frame))).all()


def test_activity_and_popularity_are_skewed(generated):
    _, _, data = generated
    per_user = data.ratings.groupby("user_id").size()
    per_movie = data.ratings.groupby("movie_id").size().sort_values(ascending=False)

    assert per_user.max() > 5 * per_user.median()
    top_percent = per_movie.iloc[: max(1, len(data.movies) // 100)].sum()
    assert top_percent > 0.05 * len(data.ratings)


def test_timestamps_follow_release_years(generated):
    _, _, data = generated
    ratings = data.ratings.merge(data.movies[["movie_id", "year"]], on="movie_id")
    rating_years = pd.to_datetime(ratings["timestamp"], unit="s").dt.year

    assert (rating_years >= ratings["year"].astype(int)).all()
    assert rating_years.min() >= 1996
    assert rating_years.max() <= 2018


def test_titles_end_with_their_year(generated):
    _, _, data = generated

    assert data.movies["year"].notna().all()
    assert data.movies["title"].str.match(r"^[A-Z][a-z]+ [A-Z][a-z]+(, The)?( \d)? \(\d{4}\)$").all()


def test_same_seed_writes_the_same_bytes(tmp_path):
    spec = SyntheticSpec.for_ratings(5_000, seed=7)
    first = generate_movielens(spec, tmp_path / "first")
    second = generate_movielens(spec, tmp_path / "second")

    for path_a, path_b in zip(first, second):
        assert path_a.read_bytes() == path_b.read_bytes()


def test_other_seed_writes_other_ratings(tmp_path):
    first = generate_movielens(SyntheticSpec.for_ratings(5_000, seed=7), tmp_path / "first")
    second = generate_movielens(SyntheticSpec.for_ratings(5_000, seed=8), tmp_path / "second")

    assert first[0].read_bytes() != second[0].read_bytes()


def test_spec_is_recorded_beside_the_files(tmp_path):
    spec = SyntheticSpec.for_ratings(5_000, seed=7)
    generate_movielens(spec, tmp_path)

    assert json.loads((tmp_path / "synthetic.json").read_text()) == {
        "n_ratings": 5_000,
        "n_users": 33,
        "n_movies": 1_500,
        "n_tags": 125,
        "seed": 7,
        "generator_version": synthetic.GENERATOR_VERSION,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_ratings": 0}, "n_ratings must be a positive integer, got 0"),
        ({"n_ratings": 1_000, "n_users": 100}, "1000 ratings are too few for 100 users: each user gets at least 20, so use at most 50 users"),
        (
            {"n_ratings": 100_000, "n_users": 10, "n_movies": 1_000},
            "100000 ratings are too many for 10 users and 1000 movies: a user rates at most 400 movies "
            "(40% of the catalogue), so use more users or movies",
        ),
        (
            {"n_ratings": 1_000, "n_users": 1, "n_movies": 49},
            "49 movies are too few: each user rates at least 20 movies and at most 40% of the catalogue, "
            "so use at least 50 movies",
        ),
        ({"n_ratings": 1_000, "seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"n_ratings": 1_000, "tags_per_rating": 2.0}, "tags_per_rating must be a number from 0 to 1, got 2.0"),
    ],
)
def test_spec_rejects_impossible_sizes(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SyntheticSpec.for_ratings(**arguments)


def test_generate_command_writes_the_files(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--ratings", "3000", "--seed", "1", "--out", str(tmp_path), "--no-progress"])

    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 3000 ratings by 20 users of 1500 movies and 75 tags to {tmp_path}\n"
    assert len(pd.read_csv(tmp_path / "ratings.csv")) == 3000


def test_generate_command_reports_impossible_size(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--ratings", "1000", "--users", "100", "--out", str(tmp_path)])

    assert result.exit_code == 1
    assert result.output == (
        "Error: 1000 ratings are too few for 100 users: each user gets at least 20, so use at most 50 users\n"
    )
