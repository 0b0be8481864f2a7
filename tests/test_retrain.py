"""The retrain pipeline on the tiny data set: merge, evaluate, publish atomically, keep, roll back, repeat."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from api import create_app
from api.cli import cli
from hybrid.bundle import current_version, list_versions, rollback
from hybrid.live import LiveRecommender
from hybrid.model import HybridRecommender
from hybrid.pipeline import RetrainLockedError, RetrainOptions, _DirectoryLock, ranking_metrics, retrain
from hybrid.store import DATABASE_FILE_NAME, SQLiteStore
from hybrid.training import data_source, load_source, train_and_save
from tests.conftest import TINY_PERSONAL_CONFIG, write_tiny_config

# Every user of the tiny data can hold out a rating, so the comparison runs.
TINY_OPTIONS = RetrainOptions(min_holdout_users=1)
# Too few users for a comparison: one training per retrain, for the tests of
# what happens around the evaluation.
UNEVALUATED = RetrainOptions()


@pytest.fixture()
def model_dir(tiny_files, tmp_path):
    ratings, movies = tiny_files
    source = data_source(ratings, movies)
    model_dir = write_tiny_config(tmp_path / "model")
    train_and_save(load_source(source), model_dir, show_progress=False, source=source)
    return model_dir


@pytest.fixture()
def store(model_dir):
    store = SQLiteStore(model_dir / DATABASE_FILE_NAME)
    yield store
    store.close()


def test_retrain_learns_the_stored_ratings_and_movies(model_dir, store):
    store.add_movie(8, "Toy Story 3 (2010)", ("Animation", "Children", "Comedy"), 2010)
    store.add_ratings(50, [1, 8], [5.0, 4.5], [200, 201])
    store.add_ratings(1, [8], [5.0], [202])
    store.delete_rating(1, 4)

    result = retrain(model_dir, store, options=UNEVALUATED)

    assert result.published
    assert current_version(model_dir) == result.version
    model = HybridRecommender.load(model_dir)
    assert model.movie_index(8) == 7
    assert model.n_trained_movies == 8
    assert [entry["movie_id"] for entry in model.user_ratings(50)] == [8, 1]
    assert sorted(entry["movie_id"] for entry in model.user_ratings(1)) == [1, 2, 8]
    assert model.info["data"]["ratings"] == 22 + 2 + 1 - 1
    assert model.info["store"]["rating_revision"] == 4
    assert model.info["store"]["store_id"] == store.store_id
    # Nothing in the store is newer than the new version.
    assert LiveRecommender(model, store).history(50) is None


def test_retrain_records_its_evaluation_for_get_model(model_dir, store):
    result = retrain(model_dir, store, options=TINY_OPTIONS)

    body = create_app({"MODEL_DIR": str(model_dir)}).test_client().get("/model").get_json()

    evaluation = body["evaluation"]
    assert body["model_version"] == result.version
    assert evaluation["holdout"] == "latest"
    assert evaluation["users"] == 8
    assert set(evaluation["candidate"]) == {"hit_rate@10", "ndcg@10", "ndcg@10_standard_error"}
    assert evaluation["current"]["scored_as"] == "same configuration as the candidate"
    assert evaluation["published"] is True
    assert body["store"]["rating_revision"] == 0
    assert body["since_training"] == {"rating_events": 0, "movies_added": 0}


def test_holdout_prefers_new_ratings(model_dir, store):
    for user in range(1, 9):
        store.add_ratings(user, [7], [3.0], [500])

    result = retrain(model_dir, store, options=TINY_OPTIONS)

    assert result.evaluation["holdout"] == "unseen"
    assert result.evaluation["users"] == 8
    assert result.evaluation["current"]["scored_as"] == "served version"


def test_worse_candidate_is_not_published(model_dir, store):
    before = current_version(model_dir)

    result = retrain(model_dir, store, options=RetrainOptions(min_holdout_users=1, max_drop=-2.0))

    assert not result.published
    assert result.evaluation["published"] is False
    assert current_version(model_dir) == before
    assert list_versions(model_dir) == [before]


def test_too_small_holdout_publishes_unevaluated(model_dir, store):
    result = retrain(model_dir, store, options=RetrainOptions(min_holdout_users=20))

    assert result.published
    assert result.evaluation["candidate"] is None
    assert result.evaluation["note"] == "not evaluated: only 8 users can hold out a rating, 20 needed"


def test_retrain_reads_the_files_recorded_in_the_manifest(model_dir, store, tiny_files):
    manifest = json.loads((model_dir / "versions" / current_version(model_dir) / "manifest.json").read_text())

    retrain(model_dir, store, options=UNEVALUATED)

    assert manifest["data"]["source"] == {"kind": "movielens-csv", "ratings": str(tiny_files[0]), "movies": str(tiny_files[1]), "tags": None}
    assert HybridRecommender.load(model_dir).info["data"]["ratings"] == 22


def test_only_the_newest_versions_are_kept(model_dir, store):
    first = current_version(model_dir)
    results = [retrain(model_dir, store, options=RetrainOptions(keep=2)) for _ in range(3)]

    assert list_versions(model_dir) == [results[1].version, results[2].version]
    assert results[1].removed == [first]
    assert current_version(model_dir) == results[2].version


def test_published_version_is_never_deleted(model_dir, store):
    first = current_version(model_dir)
    second = retrain(model_dir, store, options=UNEVALUATED).version
    rollback(model_dir, first)

    third = retrain(model_dir, store, options=RetrainOptions(min_holdout_users=1, keep=1, max_drop=-2.0))

    assert not third.published
    assert list_versions(model_dir) == [first, second]


def test_second_retrain_is_refused_while_one_runs(model_dir, store):
    with _DirectoryLock(model_dir):
        with pytest.raises(RetrainLockedError, match=f"another retrain of {model_dir} is running \\(process {os.getpid()}\\)"):
            retrain(model_dir, store, options=TINY_OPTIONS)


# Rollback ------------------------------------------------------------------------------------


def test_rollback_publishes_the_version_before(model_dir, store):
    first = current_version(model_dir)
    second = retrain(model_dir, store, options=UNEVALUATED).version

    result = CliRunner().invoke(cli, ["rollback", "--model-dir", str(model_dir)])

    assert result.exit_code == 0
    assert result.output == f"published version {first} (was {second})\n"
    assert current_version(model_dir) == first
    assert list_versions(model_dir) == [first, second]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "Error: no version to roll back to in {versions}: {current} is published and no older version is kept"),
        (["--to", "20000101T000000Z-0000"], "Error: no version 20000101T000000Z-0000 in {versions}; the versions there are: {current}"),
    ],
)
def test_rollback_without_a_target_fails_in_one_line(model_dir, arguments, message):
    result = CliRunner().invoke(cli, ["rollback", "--model-dir", str(model_dir), *arguments])

    assert result.exit_code == 1
    assert result.output == message.format(versions=model_dir / "versions", current=current_version(model_dir)) + "\n"


# The command ----------------------------------------------------------------------------------


def test_retrain_command_reports_what_it_published(model_dir):
    previous = current_version(model_dir)

    result = CliRunner().invoke(cli, ["retrain", "--model-dir", str(model_dir), "--min-holdout-users", "1"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"published version {current_version(model_dir)} (was {previous}) in ")
    assert " against " in result.output
    assert result.output.rstrip().endswith("on 8 held-out users")


def test_retrain_command_rejects_a_bad_interval(model_dir):
    result = CliRunner().invoke(cli, ["retrain", "--model-dir", str(model_dir), "--every", "1 hour"])

    assert result.exit_code == 2
    assert "invalid interval '1 hour': expected a positive whole number and a unit s, m, h or d, e.g. 1h" in result.output


def _run_cli(arguments, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_schedule_survives_failure_and_sigterm(model_dir, tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{not json")
    log = tmp_path / "retrain.log"
    arguments = ["retrain", "--model-dir", str(model_dir), "--config", str(config), "--min-holdout-users", "1", "--every", "1s"]
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", *arguments], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        assert _wait_for(lambda: "retrain failed; the next run is in 1 s" in log.read_text()), log.read_text()
        config.write_text(json.dumps(TINY_PERSONAL_CONFIG))
        assert _wait_for(lambda: "retrain: published version" in log.read_text()), log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    text = log.read_text()
    assert process.returncode == 0
    assert f"configuration file {config} is not valid JSON" in text
    assert "received SIGTERM: stopping after the current run" in text
    assert text.rstrip().endswith("retrain schedule stopped")
    assert len(list_versions(model_dir)) >= 2


# A crash in the middle ---------------------------------------------------------------------


def test_killed_retrain_leaves_the_old_version_serving(model_dir, tmp_path):
    old_version = current_version(model_dir)
    old_answer = HybridRecommender.load(model_dir).recommend(4, n=3).items
    marker = tmp_path / "writing"
    # The subprocess runs the real command; its array writer stops after the
    # first array, in the middle of writing the version, until it is killed.
    script = textwrap.dedent(
        f"""
        import pathlib, sys, time
        import hybrid.bundle as bundle
        save = bundle.np.save

        def save_then_hang(*args, **kwargs):
            save(*args, **kwargs)
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(600)

        bundle.np.save = save_then_hang
        from api.cli import main
        sys.argv = ["true-recommend", "retrain", "--model-dir", {str(model_dir)!r}]
        main()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(marker.exists, timeout=120), "the retrain never started writing its version"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    assert current_version(model_dir) == old_version
    assert list_versions(model_dir) == [old_version]
    assert [entry.name.startswith(".staging-") for entry in (model_dir / "versions").iterdir()].count(True) == 1
    reloaded = HybridRecommender.load(model_dir)
    assert reloaded.info["version"] == old_version
    assert reloaded.recommend(4, n=3).items == old_answer
    # The lock died with the process, so the next retrain runs.
    store = SQLiteStore(model_dir / DATABASE_FILE_NAME)
    assert retrain(model_dir, store, options=UNEVALUATED).published


def test_ranking_metrics_on_a_known_holdout(model_dir):
    model = HybridRecommender.load(model_dir)
    train = pd.DataFrame({"user_id": [4, 4], "movie_id": [1, 2], "rating": [5.0, 5.0]})
    holdout = pd.DataFrame({"user_id": [4, 4], "movie_id": [3, 4]})

    figures = ranking_metrics(model, train, holdout, k=1)

    # The fold-in of a Toy Story fan ranks Bug's Life (3) first, Heat (4) not.
    assert figures == {"hit_rate@1": 0.5, "ndcg@1": 0.5, "ndcg@1_standard_error": 0.5}


def test_ranking_metrics_skip_unknown_movies(model_dir):
    model = HybridRecommender.load(model_dir)
    # Movie 99 is not in the model: the rating is left out of user 4's input,
    # and user 5's held-out rating of it is a miss.
    train = pd.DataFrame({"user_id": [4, 4, 4, 5], "movie_id": [1, 2, 99, 4], "rating": [5.0, 5.0, 4.0, 5.0]})
    holdout = pd.DataFrame({"user_id": [4, 5], "movie_id": [3, 99]})

    figures = ranking_metrics(model, train, holdout, k=1)

    assert figures == {"hit_rate@1": 0.5, "ndcg@1": 0.5, "ndcg@1_standard_error": 0.5}
