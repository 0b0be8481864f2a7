"""Offline tuning: validation splits only, never worse than the start, and its report."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from hybrid.blend import BlendWeights
from hybrid.config import HybridConfig
from hybrid.model import HybridRecommender
from hybrid.splits import random_holdout
from hybrid.tuning import (
    TuningResult,
    format_tuning,
    plot_tuning,
    tune,
    tune_component,
    tune_weights,
    warm_evaluator,
)
from tests.synthetic import taste_groups, write_csv

SMALL = {
    "als": {"factors": 8, "iterations": 8, "regularization": 0.5},
    "mf": {"factors": 8, "epochs": 20},
    "ease": {"regularization": 20.0},
}


@pytest.fixture(scope="module")
def dataset():
    return taste_groups()


@pytest.fixture(scope="module")
def result(dataset):
    return tune(
        dataset,
        HybridConfig.from_dict(SMALL),
        components=("ease",),
        component_trials=3,
        weight_trials=8,
        k=5,
        validation_folds=1,
        validation_fraction=0.25,
        random_state=0,
    )


def test_tuning_is_never_worse_than_the_start(result):
    for stage in ("ease", "warm", "cold"):
        assert result.best[stage] >= result.start[stage], stage


def test_tuning_records_every_trial(result):
    assert [trial.stage for trial in result.trials].count("ease") == 4  # the start and 3 trials
    assert [trial.stage for trial in result.trials].count("warm") == 9
    assert result.trials[0].params == {"regularization": 20.0}


def test_tuned_config_keeps_untuned_sections(result):
    assert result.config.als == SMALL["als"]
    assert result.config.mf == SMALL["mf"]
    assert set(result.config.ease) == {"regularization", "rating_exponent"}


def test_tuned_weights_are_the_best_warm_trial(result, dataset):
    best_warm = max(result.stage_trials("warm"), key=lambda trial: trial.value)
    warm = result.config.blend.warm
    total = sum(warm.values())

    for name, share in best_warm.params.items():
        assert warm.get(name, 0.0) / total == pytest.approx(share, abs=1e-3)


def test_tuning_only_sees_the_data_it_is_given(dataset, monkeypatch):
    split = random_holdout(dataset.ratings, 0.25, random_state=5)
    train = split.train_dataset(dataset)
    seen = []

    # Every model fitted during tuning must train on a subset of the training ratings.
    original_fit = HybridRecommender.fit

    def recording_fit(self, data, **kwargs):
        seen.append(set(zip(data.ratings["user_id"], data.ratings["movie_id"])))
        return original_fit(self, data, **kwargs)

    monkeypatch.setattr(HybridRecommender, "fit", recording_fit)
    tune(train, HybridConfig.from_dict(SMALL), components=(), weight_trials=2, k=5, validation_folds=1)

    held_out = set(zip(split.test["user_id"], split.test["movie_id"]))
    assert seen
    assert all(not pairs & held_out for pairs in seen)


def test_tune_weights_keeps_the_other_set(dataset):
    split = random_holdout(dataset.ratings, 0.25, random_state=0)
    model = HybridRecommender(HybridConfig.from_dict(SMALL)).fit(split.train_dataset(dataset))
    start = BlendWeights(cold={"popularity": 1.0}, warm={"collaborative": 1.0})

    best, trials = tune_weights([warm_evaluator(model, split.test, k=5)], start, n_trials=5, prefix="warm")

    assert best.cold == {"popularity": 1.0}
    assert len(trials) == 6
    assert trials[0].params["collaborative"] == 1.0


def test_tune_component_refits_with_the_best(dataset):
    split = random_holdout(dataset.ratings, 0.25, random_state=0)
    model = HybridRecommender(HybridConfig.from_dict(SMALL)).fit(split.train_dataset(dataset))

    trials, best = tune_component([(model, split.test)], "mf", n_trials=2, k=5)

    chosen = max(trials, key=lambda trial: trial.value)
    assert best == chosen.value
    assert model.config.mf == chosen.params
    assert model.mf.regularization == chosen.params["regularization"]
    assert best < 0  # minus the RMSE


def test_tune_rejects_unknown_components(dataset):
    with pytest.raises(ValueError, match="cannot tune components \\['content'\\]; expected some of \\['als', 'ease', 'mf', 'rp3beta'\\]"):
        tune(dataset, components=("content",))


def test_format_tuning_lists_stages(result):
    text = format_tuning(result)

    assert text.splitlines()[0].startswith("ease: NDCG@5, 3 trials; start ")
    assert "warm: NDCG@5, 8 trials" in text
    assert "cold: NDCG@5, mean over [1, 3, 5] revealed ratings, 8 trials" in text
    assert "chosen blend: cold " in text


def test_plot_tuning_writes_a_png(result, tmp_path):
    path = plot_tuning(result, tmp_path / "search.png")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_tuning_needs_weight_trials(tmp_path):
    with pytest.raises(ValueError, match="no weight trials to plot"):
        plot_tuning(TuningResult(config=HybridConfig()), tmp_path / "empty.png")


def test_tuning_result_is_json(result):
    document = result.to_dict()

    assert document["config"]["ease"] == result.config.ease
    assert np.isfinite(document["best"]["warm"])
    assert {trial["stage"] for trial in document["trials"]} == {"ease", "warm", "cold"}


def test_example_tuning_script_writes_a_config(dataset, tmp_path):
    write_csv(dataset, tmp_path)
    start = tmp_path / "start.json"
    HybridConfig.from_dict(SMALL).save(start)
    script = pathlib.Path(__file__).resolve().parents[1] / "examples" / "tune_blend_weights.py"

    completed = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path), "--config", str(start), "--trials", "3", "--output", str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0].startswith("best objective ")
    chosen = HybridConfig.load(tmp_path / "out.json")
    assert chosen.als == SMALL["als"]


def test_rp3beta_tuned_on_new_users_with_popularity(dataset):
    result = tune(
        dataset,
        HybridConfig.from_dict(SMALL),
        components=("rp3beta",),
        component_trials=3,
        weight_trials=2,
        k=5,
        validation_folds=1,
        validation_fraction=0.25,
        random_state=0,
    )

    trials = result.stage_trials("rp3beta")
    assert len(trials) == 4
    assert trials[0].params == {**HybridConfig().rp3beta, "popularity_share": 0.5}
    assert all(0.0 <= trial.params["popularity_share"] <= 1.0 for trial in trials)
    best = max(trials, key=lambda trial: trial.value)
    assert result.config.rp3beta == {key: value for key, value in best.params.items() if key != "popularity_share"}
    assert result.metric["rp3beta"] == "NDCG@5 of new users blended with popularity, mean over [1, 3, 5] revealed ratings"
