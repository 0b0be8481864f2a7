"""The hybrid model through its Python API: training, every query, and save/load."""

import json

import numpy as np
import pytest

from hybrid.bundle import BundleError, current_version, list_versions
from hybrid.config import HybridConfig
from hybrid.data import load_movielens_csv
from hybrid.model import Filters, HybridRecommender, NotFittedError, UnknownMovieError, latest_ratings
from tests.conftest import TINY_PERSONAL_CONFIG

TINY_CONFIG = {
    "als": {"factors": 4, "iterations": 10, "regularization": 0.1},
    "mf": {"factors": 4, "epochs": 50, "learning_rate": 0.02},
}


@pytest.fixture()
def tiny_model(tiny_files):
    return HybridRecommender(HybridConfig.from_dict(TINY_CONFIG)).fit(load_movielens_csv(*tiny_files))


@pytest.fixture()
def content_led_model(tiny_files):
    # The default cold weights lean on popularity and RP3beta, which count a
    # rating of 1 as much as a 5 and so cross the taste groups of the tiny
    # data. These weights lean on content and ALS instead.
    config = HybridConfig.from_dict({**TINY_CONFIG, "blend": TINY_PERSONAL_CONFIG["blend"]})
    return HybridRecommender(config).fit(load_movielens_csv(*tiny_files))


def ids(items):
    return [item["movie_id"] for item in items]


def test_user_one_of_the_bundled_data_gets_ten_distinct_unseen_real_movies(bundled_model, bundled_data):
    result = bundled_model.recommend(1, n=10)

    movie_ids = ids(result.items)
    rated = set(bundled_data.ratings.loc[bundled_data.ratings["user_id"] == 1, "movie_id"])
    catalogue = set(bundled_data.movies["movie_id"])
    assert len(movie_ids) == 10
    assert len(set(movie_ids)) == 10
    assert not rated & set(movie_ids)
    assert set(movie_ids) <= catalogue
    assert result.fallback is None


def test_known_user_gets_the_unrated_movies_of_their_group(content_led_model):
    # User 4 rated movies 1 and 2; movie 3 is the remaining animated film.
    result = content_led_model.recommend(4, n=1)

    assert ids(result.items) == [3]
    assert result.n_ratings == 2


def test_rated_movies_are_never_recommended(tiny_model):
    result = tiny_model.recommend(1, n=10)

    assert set(ids(result.items)) == {3, 5, 6, 7}


def test_unknown_user_gets_the_most_rated_movies(tiny_model):
    result = tiny_model.recommend(12345, n=3)

    assert result.fallback == "popularity"
    # Movies 1, 2, 4 and 5 have four ratings each; 2 and 5 have the higher
    # mean (4.0 against 3.875), and equal scores keep catalogue order.
    assert ids(result.items) == [2, 5, 1]


def test_one_rating_leans_on_content_and_finds_the_same_genre(content_led_model):
    result = content_led_model.recommend_for_ratings([(6, 5.0)], n=2)

    assert set(ids(result.items)) == {4, 5}
    assert result.weights == content_led_model.config.blend.for_count(1)
    assert max(result.weights, key=result.weights.get) == "content"


def test_cold_start_reports_unknown_movies(tiny_model):
    result = tiny_model.recommend_for_ratings([(1, 5.0), (99, 4.0)], n=3)

    assert result.unknown_movie_ids == [99]
    assert result.n_ratings == 1


def test_cold_start_with_nothing_known_falls_back(tiny_model):
    result = tiny_model.recommend_for_ratings([], n=2)

    assert result.fallback == "popularity"
    assert ids(result.items) == [2, 5]


def test_cold_start_rejects_off_scale_ratings(tiny_model):
    with pytest.raises(ValueError, match=r"rating 5.5 for movie_id 1 is not on the rating scale 0.5 to 5.0 in steps of 0.5"):
        tiny_model.recommend_for_ratings([(1, 5.5)])


def test_latest_rating_of_a_movie_wins():
    assert latest_ratings([(1, 2.0, 10), (1, 4.0, 5), (2, 1.0), (2, 3.0)]) == {1: 2.0, 2: 3.0}


def test_filters_restrict_genres_and_years(tiny_model):
    crime_only = tiny_model.recommend(1, n=10, filters=Filters(genres=("Crime",)))
    not_crime = tiny_model.recommend(1, n=10, filters=Filters(exclude_genres=("Crime",)))
    recent = tiny_model.recommend(1, n=10, filters=Filters(min_year=1998))

    assert set(ids(crime_only.items)) == {5, 6}
    assert set(ids(not_crime.items)) == {3, 7}
    assert set(ids(recent.items)) == {3, 7}


def test_predictions_follow_the_groups_and_stay_on_the_scale(tiny_model):
    ratings, known = tiny_model.predict(4, [3, 6])

    assert known is True
    assert ratings[0] > ratings[1]
    assert all(0.5 <= rating <= 5.0 for rating in ratings)


def test_predictions_for_unknown_user_are_movie_baselines(tiny_model):
    ratings, known = tiny_model.predict(12345, [4])

    assert known is False
    expected = tiny_model.mf.global_mean_ + tiny_model.mf.item_bias_[tiny_model.movie_index(4)]
    assert ratings[0] == pytest.approx(expected, abs=1e-4)


def test_predictions_name_unknown_movies(tiny_model):
    with pytest.raises(UnknownMovieError, match=r"unknown movie_id 98, 99"):
        tiny_model.predict(1, [1, 98, 99])


def test_similar_movies_share_the_genre(tiny_model):
    similar = tiny_model.similar_movies(1, n=2)

    assert set(ids(similar)) == {2, 3}


def test_similar_movies_of_unknown_movie_raise(tiny_model):
    with pytest.raises(UnknownMovieError, match=r"unknown movie_id 99"):
        tiny_model.similar_movies(99)


def test_search_matches_part_of_a_title(tiny_model):
    # Both titles start with "toy"; the more popular movie 2 comes first.
    assert ids(tiny_model.search_movies("toy", limit=5)) == [2, 1]
    assert ids(tiny_model.search_movies("LIFE", limit=5)) == [3]


def test_user_ratings_are_newest_first(tiny_model):
    history = tiny_model.user_ratings(1)

    assert [(item["movie_id"], item["rating"], item["timestamp"]) for item in history] == [
        (4, 1.0, 102),
        (2, 4.5, 101),
        (1, 5.0, 100),
    ]
    assert tiny_model.user_ratings(12345) == []


def test_movie_without_genres_has_an_empty_genre_list(tiny_model):
    assert tiny_model.catalogue.describe(tiny_model.movie_index(7))["genres"] == []


def test_n_must_be_positive(tiny_model):
    with pytest.raises(ValueError, match=r"n must be a positive integer, got 0"):
        tiny_model.recommend(1, n=0)


def test_unfitted_model_says_how_to_fit():
    with pytest.raises(NotFittedError, match=r"call fit\(dataset\) or HybridRecommender.load\(path\)"):
        HybridRecommender().recommend(1)


def test_saved_model_loads_with_identical_answers(tiny_model, tmp_path):
    version = tiny_model.save(tmp_path / "model")
    loaded = HybridRecommender.load(tmp_path / "model")

    assert current_version(tmp_path / "model") == version
    assert loaded.info["version"] == version
    assert loaded.recommend(1, n=4).items == tiny_model.recommend(1, n=4).items
    assert loaded.recommend_for_ratings([(6, 5.0)], n=3).items == tiny_model.recommend_for_ratings([(6, 5.0)], n=3).items
    assert loaded.predict(1, [3, 5]) == tiny_model.predict(1, [3, 5])
    assert loaded.similar_movies(1, 3) == tiny_model.similar_movies(1, 3)
    assert loaded.user_ratings(2) == tiny_model.user_ratings(2)


def test_bundle_is_arrays_and_json_only(tiny_model, tmp_path):
    version = tiny_model.save(tmp_path)
    version_dir = tmp_path / "versions" / version

    suffixes = {path.suffix for path in version_dir.iterdir()}
    assert suffixes == {".npy", ".json"}
    for path in version_dir.glob("*.npy"):
        np.load(path, allow_pickle=False)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["format"] == "true-recommend-bundle"
    assert manifest["data"]["ratings"] == 22
    assert manifest["config"]["als"]["factors"] == 4


def test_loaded_arrays_are_memory_mapped(tiny_model, tmp_path):
    tiny_model.save(tmp_path)

    loaded = HybridRecommender.load(tmp_path)

    assert isinstance(loaded.als.item_factors_, np.memmap)
    assert isinstance(loaded.mf.user_factors_, np.memmap)


def test_each_save_adds_a_version_and_publishes_the_newest(tiny_model, tmp_path):
    first = tiny_model.save(tmp_path)
    second = tiny_model.save(tmp_path)

    assert list_versions(tmp_path) == sorted([first, second])
    assert current_version(tmp_path) == second


def test_loading_an_empty_directory_says_how_to_train(tmp_path):
    with pytest.raises(BundleError, match=r"no published model in .*: CURRENT is missing; run `true-recommend train --model-dir"):
        HybridRecommender.load(tmp_path)


def test_loading_a_tampered_array_is_rejected(tiny_model, tmp_path):
    version = tiny_model.save(tmp_path)
    np.save(tmp_path / "versions" / version / "movie_ids.npy", np.zeros(3, dtype=np.int64))

    with pytest.raises(BundleError, match=r"array movie_ids of .* has dtype <i8 and shape \[3\], but the manifest lists <i8 and \[7\]"):
        HybridRecommender.load(tmp_path)


def test_config_rejects_unknown_hyperparameters():
    with pytest.raises(ValueError, match=r"unknown als hyperparameters \['factor'\]; ImplicitALS accepts"):
        HybridConfig.from_dict({"als": {"factor": 3}})


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown configuration keys \['weights'\]"):
        HybridConfig.from_dict({"weights": {}})


def test_config_round_trips_through_json(tmp_path):
    config = HybridConfig.from_dict({**TINY_CONFIG, "blend": {"cold": {"content": 1.0}, "warm": {"collaborative": 1.0}}})

    config.save(tmp_path / "config.json")

    assert HybridConfig.load(tmp_path / "config.json").to_dict() == config.to_dict()
