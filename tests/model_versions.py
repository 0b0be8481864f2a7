"""Model directories with two versions of the tiny data set that answer differently, for the reload tests."""

import shutil

from hybrid.bundle import current_version
from hybrid.config import HybridConfig
from hybrid.data import load_movielens_csv
from hybrid.model import HybridRecommender
from tests.conftest import TINY_MOVIES, TINY_RATINGS

FIRST_CONFIG = {
    "als": {"factors": 4, "iterations": 10, "regularization": 0.1},
    "mf": {"factors": 4, "epochs": 20, "learning_rate": 0.02},
}
# Popularity alone ranks every user's movies the same way, unlike the default blend.
SECOND_CONFIG = {
    **FIRST_CONFIG,
    "blend": {"cold": {"popularity": 1.0}, "warm": {"popularity": 1.0}},
}


def write_two_versions(tiny_files, model_dir):
    """Save two versions into ``model_dir``; publish the first and return both names."""
    dataset = load_movielens_csv(*tiny_files)
    first = HybridRecommender(HybridConfig.from_dict(FIRST_CONFIG)).fit(dataset).save(model_dir)
    second = HybridRecommender(HybridConfig.from_dict(SECOND_CONFIG)).fit(dataset).save(model_dir, publish=False)
    assert current_version(model_dir) == first
    return first, second


def two_version_template(directory):
    """Write the tiny data set and a two-version model directory under ``directory``; return (model_dir, first, second)."""
    ratings = directory / "ratings.csv"
    movies = directory / "movies.csv"
    ratings.write_text(TINY_RATINGS, encoding="utf-8")
    movies.write_text(TINY_MOVIES, encoding="utf-8")
    model_dir = directory / "model"
    first, second = write_two_versions((ratings, movies), model_dir)
    return model_dir, first, second


def copy_model_dir(template, destination):
    """Copy a model directory, so that a test can publish and break versions without training again."""
    shutil.copytree(template, destination)
    return destination
