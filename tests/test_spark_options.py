"""Spark engine options and errors that need neither PySpark nor Java."""

import re

import pytest
from click.testing import CliRunner

from api.cli import cli
from hybrid.spark_training import SparkOptions, SparkUnavailableError, java_executable, start_spark


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ratings_format": "orc"}, "ratings_format must be one of ['auto', 'csv', 'parquet'], got 'orc'"),
        ({"ranking_regularization": -1.0}, "ranking_regularization must be a non-negative number, got -1.0"),
        ({"rating_factors": 0}, "rating_factors must be a positive integer, got 0"),
        ({"rating_iterations": 2.5}, "rating_iterations must be a positive integer, got 2.5"),
        ({"blocks": 0}, "blocks must be a positive integer or None, got 0"),
        ({"conf": {"spark.driver.memory": 8}}, "conf must map Spark property names to text values, got 'spark.driver.memory': 8"),
    ],
)
def test_options_reject_invalid_values(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SparkOptions(**arguments)


def test_options_description_leaves_out_conf():
    options = SparkOptions(master="local[2]", conf={"spark.hadoop.fs.s3a.secret.key": "hidden"})

    described = options.describe()

    assert "conf" not in described
    assert described["master"] == "local[2]"
    assert described["ranking_regularization"] == 0.3


def test_java_is_looked_up_in_java_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    assert java_executable() is None


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("pyspark", reason="PySpark is not installed; the check for Java comes after it")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    with pytest.raises(SparkUnavailableError, match=re.escape("the Spark engine needs Java 17 or newer, and none was found")):
        start_spark(SparkOptions())


def test_spark_options_need_spark_engine(tiny_files, tmp_path):
    ratings, movies = tiny_files

    result = CliRunner().invoke(
        cli, ["train", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path), "--spark-master", "local[2]"]
    )

    assert result.exit_code == 2
    assert "Error: --spark-master, --spark-conf and --ratings-format need --engine spark" in result.output


def test_spark_conf_must_be_key_value(tiny_files, tmp_path):
    ratings, movies = tiny_files

    result = CliRunner().invoke(
        cli,
        ["train", "--engine", "spark", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path),
         "--spark-conf", "spark.driver.memory"],
    )

    assert result.exit_code == 2
    assert "Invalid value for '--spark-conf': expected KEY=VALUE, got 'spark.driver.memory'" in result.output


def test_spark_engine_without_java_ends_with_one_line(monkeypatch, tiny_files, tmp_path):
    pytest.importorskip("pyspark", reason="PySpark is not installed; the check for Java comes after it")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    monkeypatch.setattr("hybrid.spark_training._active_session", lambda: None)
    ratings, movies = tiny_files

    result = CliRunner().invoke(
        cli, ["train", "--engine", "spark", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path / "m")]
    )

    assert result.exit_code == 1
    assert result.output.startswith("Error: the Spark engine needs Java 17 or newer, and none was found in JAVA_HOME or on PATH")


def test_invalid_master_is_a_clear_error():
    pytest.importorskip("pyspark", reason="PySpark is not installed")
    if java_executable() is None:
        pytest.skip("no Java runtime in JAVA_HOME or on PATH")
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        pytest.skip("a Spark session is already running in this process, and Spark would reuse it")

    with pytest.raises(SparkUnavailableError, match=re.escape("failed to start Spark with master not-a-master: ")):
        start_spark(SparkOptions(master="not-a-master"), show_progress=False)
