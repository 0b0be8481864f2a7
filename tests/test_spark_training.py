"""Training on Apache Spark in local mode: validation, the bundle it writes, and its quality.

These tests need PySpark (the ``[spark]`` extra) and a Java runtime; they are
skipped with the reason when either is missing.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from api import create_app
from api.cli import cli
from api.openapi import build_document
from hybrid.bundle import current_version
from hybrid.config import HybridConfig
from hybrid.data import DataError, RatingScale, bundled_data_dir, load_movielens_catalogue, load_movielens_csv
from hybrid.evaluation import evaluate_model
from hybrid.model import HybridRecommender
from hybrid.spark_training import (
    SparkOptions,
    _load_ratings,
    java_executable,
    start_spark,
    train_with_spark,
)
from tests.conftest import write_tiny_config

pytest.importorskip("pyspark", reason="PySpark is not installed; install the extra with pip install '.[spark]'")
if java_executable() is None:
    pytest.skip(
        "no Java runtime in JAVA_HOME or on PATH; Spark needs Java 17 or newer (apt-get install openjdk-17-jre-headless)",
        allow_module_level=True,
    )

# Share of each user's ratings held out for the quality comparison.
HELD_OUT_SHARE = 0.2


@pytest.fixture(scope="module")
def spark():
    session = start_spark(
        SparkOptions(
            master="local[2]",
            conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"},
        ),
        app_name="true-recommend tests",
        show_progress=False,
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The bundled ratings with a random fifth held out, the rest written as train.csv."""
    ratings = pd.read_csv(bundled_data_dir() / "ratings.csv", dtype=str)
    held_out = np.random.default_rng(0).random(len(ratings)) < HELD_OUT_SHARE
    path = tmp_path_factory.mktemp("split") / "ratings.csv"
    ratings[~held_out].to_csv(path, index=False)
    test = ratings[held_out].astype({"userId": np.int64, "movieId": np.int64, "rating": np.float64})
    return path, test


@pytest.fixture(scope="module")
def spark_model_dir(spark, split, tmp_path_factory):
    directory = bundled_data_dir()
    model = train_with_spark(
        str(split[0]), directory / "movies.csv", directory / "tags.csv", spark=spark, show_progress=False
    )
    model_dir = tmp_path_factory.mktemp("spark-model")
    model.save(model_dir)
    return model_dir


@pytest.fixture(scope="module")
def spark_model(spark_model_dir):
    return HybridRecommender.load(spark_model_dir)


@pytest.fixture(scope="module")
def local_model(split):
    directory = bundled_data_dir()
    return HybridRecommender().fit(load_movielens_csv(split[0], directory / "movies.csv", directory / "tags.csv"))


def evaluate_on(model, test):
    """Return the evaluation of ``model`` on the held-out ratings, ranked as the server ranks its users."""
    frame = test.rename(columns={"userId": "user_id", "movieId": "movie_id"})
    return evaluate_model(model, frame, k=10)


# Quality -----------------------------------------------------------------------


def test_spark_ndcg_within_ten_percent_of_single_machine(spark_model, local_model, split):
    spark_ndcg = evaluate_on(spark_model, split[1]).ndcg
    local_ndcg = evaluate_on(local_model, split[1]).ndcg

    assert local_ndcg > 0.2
    assert spark_ndcg >= 0.9 * local_ndcg, (spark_ndcg, local_ndcg)


def test_spark_rating_rmse_within_ten_percent_of_sgd(spark_model, local_model, split):
    spark_rmse = evaluate_on(spark_model, split[1]).rmse
    local_rmse = evaluate_on(local_model, split[1]).rmse

    assert local_rmse < 0.9
    assert spark_rmse <= 1.1 * local_rmse, (spark_rmse, local_rmse)


# The bundle ------------------------------------------------------------------------

# Requests for each documented route, with ids of the bundled data: the last
# request of each entry must get the status. Write routes need the token and
# the ratings store.
TOKEN = "spark-test-token"
NEW_USER = 900001
ROUTE_REQUESTS = {
    ("/", "get"): [("GET", "/", None, 200)],
    ("/health", "get"): [("GET", "/health", None, 200)],
    ("/model", "get"): [("GET", "/model", None, 200)],
    ("/genres", "get"): [("GET", "/genres", None, 200)],
    ("/users/{user_id}/recommendations", "get"): [("GET", "/users/1/recommendations?n=5", None, 200)],
    ("/recommendations", "post"): [
        ("POST", "/recommendations", {"ratings": [{"movie_id": 1, "rating": 5.0}], "n": 5}, 200),
    ],
    ("/recommendations", "get"): [("GET", "/recommendations?user_id=1&returnMetadata=true", None, 200)],
    ("/movies", "get"): [("GET", "/movies?q=toy&limit=5", None, 200)],
    ("/movies", "post"): [
        ("POST", "/movies", {"movie_id": 990001, "title": "Shadows over the Harbor (2024)", "genres": ["Film-Noir"]}, 201),
    ],
    ("/movies/{movie_id}/similar", "get"): [("GET", "/movies/1/similar?n=5", None, 200)],
    ("/users/{user_id}/predictions", "get"): [("GET", "/users/1/predictions?movie_ids=1,2,3", None, 200)],
    ("/users/{user_id}/ratings", "get"): [("GET", "/users/1/ratings", None, 200)],
    ("/users/{user_id}/ratings", "post"): [
        ("POST", f"/users/{NEW_USER}/ratings", {"ratings": [{"movie_id": 2571, "rating": 4.5}]}, 201),
    ],
    ("/users/{user_id}/ratings/{movie_id}", "delete"): [
        ("POST", f"/users/{NEW_USER}/ratings", {"ratings": [{"movie_id": 2571, "rating": 4.5}]}, 201),
        ("DELETE", f"/users/{NEW_USER}/ratings/2571", None, 200),
    ],
    ("/openapi.json", "get"): [("GET", "/openapi.json", None, 200)],
    ("/metrics", "get"): [("GET", "/metrics", None, 200)],
    ("/admin/reload", "post"): [("POST", "/admin/reload", None, 200)],
}


def test_route_table_covers_every_documented_route():
    document = build_document(max_n=100, max_ratings=500, max_movie_ids=100)
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}

    assert set(ROUTE_REQUESTS) == documented, "add example requests for each new route to ROUTE_REQUESTS"


@pytest.mark.parametrize("route", sorted(ROUTE_REQUESTS), ids=lambda route: f"{route[1].upper()} {route[0]}")
def test_spark_bundle_serves_route(spark_model_dir, tmp_path, route):
    app = create_app(
        {
            "MODEL_DIR": str(spark_model_dir),
            "DATABASE": f"sqlite:///{tmp_path / 'ratings.sqlite3'}",
            "API_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    client = app.test_client()

    for method, path, body, status in ROUTE_REQUESTS[route]:
        response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == status, (method, path, response.get_data(as_text=True))

    if response.is_json and "model_version" in response.get_json():
        assert response.get_json()["model_version"] == current_version(spark_model_dir)


def test_spark_bundle_records_the_engine(spark_model_dir, split):
    version = current_version(spark_model_dir)
    manifest = json.loads((spark_model_dir / "versions" / version / "manifest.json").read_text())

    assert manifest["engine"]["name"] == "spark"
    assert manifest["engine"]["master"] == "local[2]"
    assert manifest["engine"]["options"]["rating_factors"] == 64
    assert "conf" not in manifest["engine"]["options"]
    assert manifest["components"]["als"]["factors"] == 64
    assert manifest["components"]["mf"]["factors"] == 64
    assert manifest["data"]["ratings"] == len(pd.read_csv(split[0]))


def test_spark_model_keeps_every_training_rating(spark_model, split):
    train = pd.read_csv(split[0])

    assert spark_model.user_items.nnz == len(train)
    user_index = spark_model.user_index(1)
    history = train[train["userId"] == 1]
    assert spark_model.user_items[user_index].nnz == len(history)


def test_spark_predictions_stay_on_the_scale(spark_model):
    predictions, known = spark_model.predict(1, spark_model.catalogue.movie_ids.ids[:200].tolist())

    assert known is True
    assert min(predictions) >= 0.5
    assert max(predictions) <= 5.0


# Validation ------------------------------------------------------------------------

BAD_RATINGS = """userId,movieId,rating,timestamp
1,1,5.0,100
1,2,4.5,101
1,2,2.0,101
1,3,3.0,90,extra
,,,
2,,4.0,100
2,1.0,4.0,100
02,1,4.0,100
2,99,4.0,100
2,1,,100
2,1,abc,100
2,1,5.5,100
2,1,4.2,100
2,1,4.0,
2,1,4.0,-5
99999999999999999999,1,4.0,100
9223372036854775807,2,1.5,7
2,3,nan,100
3,1,1.0,200
3,1,2.0,150
"""

TINY_MOVIES = """movieId,title,genres
1,Toy Story (1995),Animation|Children|Comedy
2,Heat (1995),Action|Crime|Thriller
3,Casino (1995),Crime|Drama
"""


@pytest.fixture()
def bad_files(tmp_path):
    ratings = tmp_path / "ratings.csv"
    movies = tmp_path / "movies.csv"
    ratings.write_text(BAD_RATINGS, encoding="utf-8")
    movies.write_text(TINY_MOVIES, encoding="utf-8")
    return ratings, movies


def test_spark_rejects_the_rows_the_local_loader_rejects(spark, bad_files):
    ratings, movies = bad_files
    local = load_movielens_csv(ratings, movies).reports[1]

    _, _, report = _load_ratings(spark, str(ratings), "auto", load_movielens_catalogue(movies), local_scale())

    assert report.rows_read == local.rows_read
    assert report.rows_accepted == local.rows_accepted
    assert report.rejected == dict(sorted(local.rejected.items()))
    assert report.duplicates_replaced == local.duplicates_replaced == 2


def test_spark_keeps_the_ratings_the_local_loader_keeps(spark, bad_files):
    ratings, movies = bad_files
    local = HybridRecommender()
    local._index(load_movielens_csv(ratings, movies))

    indexed, user_ids, _ = _load_ratings(spark, str(ratings), "auto", load_movielens_catalogue(movies), local_scale())
    collected = indexed.orderBy("user_index", "movie_index").toArrow().to_pydict()

    assert user_ids.tolist() == local.users.ids.tolist() == [1, 3, 9223372036854775807]
    expected = local.user_items.tocoo()
    assert collected["user_index"] == expected.row.tolist()
    assert collected["movie_index"] == expected.col.tolist()
    assert collected["rating"] == expected.data.tolist()
    assert collected["timestamp"] == local.rating_times.tolist()


def test_spark_reads_parquet_like_csv(spark, bad_files, tmp_path):
    ratings, movies = bad_files
    good = pd.DataFrame(
        {"userId": [1, 1, 3], "movieId": [1, 2, 1], "rating": [5.0, 4.5, 2.0], "timestamp": [100, 101, 150]}
    )
    good.to_parquet(tmp_path / "ratings.parquet")

    indexed, user_ids, report = _load_ratings(
        spark, str(tmp_path / "ratings.parquet"), "auto", load_movielens_catalogue(movies), local_scale()
    )

    assert report.rows_accepted == 3
    assert user_ids.tolist() == [1, 3]
    assert indexed.orderBy("user_index", "movie_index").toArrow().column("rating").to_pylist() == [5.0, 4.5, 2.0]


def test_spark_rejects_a_wrong_header(spark, tmp_path, bad_files):
    _, movies = bad_files
    path = tmp_path / "wrong.csv"
    path.write_text("user,movieId,rating,timestamp\n1,1,5.0,100\n", encoding="utf-8")

    message = (
        f"invalid header in {path}: found columns ['user', 'movieId', 'rating', 'timestamp'], "
        "expected exactly ['userId', 'movieId', 'rating', 'timestamp'] (in any order)"
    )
    with pytest.raises(DataError, match=re.escape(message)):
        _load_ratings(spark, str(path), "csv", load_movielens_catalogue(movies), local_scale())


def test_spark_rejects_a_file_without_valid_rows(spark, tmp_path, bad_files):
    _, movies = bad_files
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n1,99,5.0,100\n", encoding="utf-8")

    with pytest.raises(DataError, match=re.escape(f"no valid rows in {path}: ratings.csv: 1 row read, 0 accepted; rejected: 1 unknown movie_id")):
        _load_ratings(spark, str(path), "csv", load_movielens_catalogue(movies), local_scale())


def test_spark_reports_a_missing_path(spark, tmp_path, bad_files):
    _, movies = bad_files

    with pytest.raises(DataError, match=re.escape(f"failed to read {tmp_path / 'absent.csv'} as csv: ")):
        _load_ratings(spark, str(tmp_path / "absent.csv"), "csv", load_movielens_catalogue(movies), local_scale())


def local_scale():
    return RatingScale()


# Command line ----------------------------------------------------------------------


def test_train_command_with_spark_engine(spark, tiny_files, tmp_path):
    ratings, movies = tiny_files
    # A content-led blend, so that user 4 gets the other animated film.
    write_tiny_config(tmp_path)

    result = CliRunner().invoke(
        cli,
        ["train", "--engine", "spark", "--spark-master", "local[2]", "--ratings", str(ratings), "--movies", str(movies),
         "--model-dir", str(tmp_path), "--no-progress"],
    )

    assert result.exit_code == 0, result.output
    model = HybridRecommender.load(tmp_path)
    assert model.info["engine"]["name"] == "spark"
    assert [item["movie_id"] for item in model.recommend(4, n=1).items] == [3]


def test_spark_trains_als_with_many_iterations(spark, tiny_files):
    # Regression: 22 ALS iterations overflowed the JVM stack until training
    # set a checkpoint directory, which lets Spark cut the lineage.
    ratings, movies = tiny_files
    config = HybridConfig(als={"factors": 4, "iterations": 40})

    model = train_with_spark(ratings, movies, config=config, spark=spark, show_progress=False)

    assert model.als.iterations == 40
    assert np.isfinite(model.als.item_factors_).all()
    assert spark.sparkContext.getCheckpointDir() is not None
