"""Movies added after training, and the live view that merges the ratings store into a model."""

import numpy as np
import pytest

from hybrid.blend import standardize
from hybrid.config import HybridConfig
from hybrid.data import load_movielens_csv
from hybrid.live import LiveRecommender, MovieNotRatedError, OffScaleRatingError, model_revision
from hybrid.model import HybridRecommender, UnknownMovieError
from hybrid.store import DuplicateMovieError, SQLiteStore
from tests.test_model import TINY_CONFIG

TOY_STORY_4 = (8, "Toy Story 4 (2019)", ("Animation", "Children", "Comedy"), 2019)


@pytest.fixture()
def tiny_model(tiny_files):
    return HybridRecommender(HybridConfig.from_dict(TINY_CONFIG)).fit(load_movielens_csv(*tiny_files))


@pytest.fixture()
def extended(tiny_model):
    movie_id, title, genres, year = TOY_STORY_4
    return tiny_model.with_movies([movie_id], [title], [genres], [year])


@pytest.fixture()
def live(tiny_model, tmp_path):
    store = SQLiteStore(tmp_path / "ratings.sqlite3")
    yield LiveRecommender(tiny_model, store).refresh()
    store.close()


# Movies added after training ------------------------------------------------------


def test_with_movies_leaves_the_model_unchanged(tiny_model, extended):
    assert len(tiny_model.catalogue) == 7
    assert len(extended.catalogue) == 8
    assert extended.n_trained_movies == 7
    assert extended.catalogue.describe(7) == {"movie_id": 8, "title": "Toy Story 4 (2019)", "genres": ["Animation", "Children", "Comedy"], "year": 2019}
    with pytest.raises(ValueError, match="movie_id 3 is already in the catalogue"):
        tiny_model.with_movies([3], ["Again"], [()], [None])


def test_new_movie_is_ranked_by_its_content_score(extended):
    items, ratings = np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32)

    result = extended.recommend_history(items, ratings, n=6)

    item = next(item for item in result.items if item["movie_id"] == 8)
    content = extended.content.score(extended.content.fold_in(items, ratings))
    candidates = np.ones(8, dtype=bool)
    candidates[[0, 1, 7]] = False
    expected = standardize(content, candidates)[7]
    assert set(item["components"]) == {"content"}
    assert item["score"] == pytest.approx(float(expected), abs=1e-4)
    assert result.items[0]["movie_id"] == 8


def test_new_movie_leaves_trained_scores(tiny_model, extended):
    items, ratings = np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32)

    before = tiny_model.recommend_history(items, ratings, n=5).items
    after = [item for item in extended.recommend_history(items, ratings, n=6).items if item["movie_id"] != 8]

    assert [(item["movie_id"], item["components"]) for item in after] == [(item["movie_id"], item["components"]) for item in before]


def test_new_movie_prediction_is_the_user_baseline(extended):
    vector = extended.mf.user_vector(0)

    predicted, known = extended.predict(1, [8])

    expected = np.clip(extended.mf.global_mean_ + vector[0], 0.5, 5.0)
    assert known is True
    assert predicted == [round(float(expected), 4)]


def test_new_movie_similarity_is_content_alone(extended):
    similar = extended.similar_movies(1, n=7)
    own = extended.similar_movies(8, n=3)

    score = next(item["score"] for item in similar if item["movie_id"] == 8)
    assert score == pytest.approx(float(extended.content.similarities(0)[7]), abs=1e-4)
    assert [item["movie_id"] for item in own] == [1, 2, 3]


# The live view ------------------------------------------------------------------------


def test_live_view_without_stored_rows_is_the_model(tiny_model, live):
    assert live.history(1) is None
    assert live.recommend(1, n=3).items == tiny_model.recommend(1, n=3).items
    assert live.user_ratings(1) == tiny_model.user_ratings(1)


def test_stored_rating_is_merged_and_folded_in(tiny_model, live):
    live.add_ratings(1, [(3, 5.0, 300)])

    items, ratings, times = live.history(1)

    assert sorted(zip(items.tolist(), ratings.tolist(), times.tolist())) == [(0, 5.0, 100), (1, 4.5, 101), (2, 5.0, 300), (3, 1.0, 102)]
    assert 3 not in [item["movie_id"] for item in live.recommend(1, n=4).items]


def test_stored_ratings_are_checked_first(live):
    with pytest.raises(OffScaleRatingError, match=r"ratings\[1\]\.rating 6\.0 for movie_id 2 is not on the rating scale 0\.5 to 5\.0 in steps of 0\.5"):
        live.add_ratings(9, [(1, 4.0, None), (2, 6.0, None)])
    with pytest.raises(UnknownMovieError, match="unknown movie_id 99, 98"):
        live.add_ratings(9, [(99, 4.0, None), (1, 4.0, None), (98, 4.0, None), (99, 3.0, None)])
    assert live.store.count_events() == 0


def test_deletion_needs_a_current_rating(live):
    with pytest.raises(MovieNotRatedError, match="user 1 has no rating of movie_id 3"):
        live.delete_rating(1, 3)

    deleted = live.delete_rating(1, 1)

    assert (deleted["movie_id"], deleted["rating"], deleted["timestamp"]) == (1, 5.0, 100)
    assert [entry["movie_id"] for entry in live.user_ratings(1)] == [4, 2]


def test_added_movie_reaches_another_process_view(tiny_model, live, tmp_path):
    other = LiveRecommender(tiny_model, SQLiteStore(tmp_path / "ratings.sqlite3")).refresh()

    live.add_movie(*TOY_STORY_4)

    assert other.movie_index(8) is None
    assert other.refresh().movie_index(8) == 7
    with pytest.raises(DuplicateMovieError, match="movie_id 8 is already in the catalogue"):
        other.add_movie(*TOY_STORY_4)


def test_revision_counts_only_in_its_own_store(tiny_model, live, tmp_path):
    tiny_model.info["store"] = {"store_id": live.store.store_id, "rating_revision": 5}
    other = SQLiteStore(tmp_path / "other.sqlite3")

    assert model_revision(tiny_model, live.store) == 5
    assert model_revision(tiny_model, other) == 0
