"""The evaluate and tune commands: tables, JSON, the written configuration and one-line errors."""

import json

import pytest
from click.testing import CliRunner

from api.cli import cli
from hybrid.config import HybridConfig
from tests.synthetic import taste_groups, write_csv
from tests.test_data import ML100K_DIR, needs_ml100k

SMALL = {
    "als": {"factors": 8, "iterations": 8, "regularization": 0.5},
    "mf": {"factors": 8, "epochs": 20},
    "ease": {"regularization": 20.0},
}


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_csv(taste_groups(), tmp_path_factory.mktemp("synthetic"))


@pytest.fixture()
def config_path(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL))
    return path


def test_evaluate_prints_a_table(runner, data_dir, config_path, tmp_path):
    result = runner.invoke(
        cli, ["evaluate", "--data", str(data_dir), "--config", str(config_path), "--model-dir", str(tmp_path), "-k", "5"]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["model", "split", "revealed", "RMSE"]
    assert "NDCG@5" in lines[0]
    assert lines[1].split()[:3] == ["hybrid", "random", "75/25"]


def test_evaluate_new_users_as_json(runner, data_dir, config_path, tmp_path):
    result = runner.invoke(
        cli,
        ["evaluate", "--data", str(data_dir), "--config", str(config_path), "--model-dir", str(tmp_path),
         "--split", "new-user", "--revealed", "1,3", "--each-component", "--json"],
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["split"] == "new-user"
    rows = document["results"]
    assert [(row["label"], row["revealed"]) for row in rows[:2]] == [("hybrid", 1), ("hybrid", 3)]
    assert {row["label"] for row in rows} == {"hybrid", "collaborative", "ease", "rp3beta", "content", "popularity", "rating"}


def test_evaluate_rejects_a_bad_revealed_list(runner, data_dir):
    result = runner.invoke(cli, ["evaluate", "--data", str(data_dir), "--revealed", "1,x"])

    assert result.exit_code == 2
    assert "Invalid value for '--revealed': expected positive integers separated by commas, got '1,x'" in result.output


def test_evaluate_folds_need_ml100k(runner, data_dir):
    result = runner.invoke(cli, ["evaluate", "--data", str(data_dir), "--split", "ml100k-folds"])

    assert result.exit_code == 1
    assert result.output.startswith("Error: --split ml100k-folds needs --data pointing to an ml-100k directory")


def test_evaluate_names_a_directory_without_data(runner, tmp_path):
    result = runner.invoke(cli, ["evaluate", "--data", str(tmp_path)])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {tmp_path} contains neither ml-100k files")


def test_tune_writes_the_config_that_train_reads(runner, data_dir, config_path, tmp_path):
    model_dir = tmp_path / "model"

    result = runner.invoke(
        cli,
        ["tune", "--data", str(data_dir), "--config", str(config_path), "--model-dir", str(model_dir),
         "--components", "ease", "--component-trials", "2", "--weight-trials", "3", "-k", "5", "--validation-folds", "1"],
    )

    assert result.exit_code == 0, result.output
    written = HybridConfig.load(model_dir / "config.json")
    assert written.als == SMALL["als"]
    assert written.ease["regularization"] > 0
    assert (model_dir / "tuning.png").read_bytes()[:4] == b"\x89PNG"
    assert result.output.splitlines()[0].startswith("ease: NDCG@5, 2 trials; start ")
    assert result.output.rstrip().endswith(f"`true-recommend train --model-dir {model_dir}` uses it")


def test_tune_dry_run_writes_no_config(runner, data_dir, config_path, tmp_path):
    result = runner.invoke(
        cli,
        ["tune", "--data", str(data_dir), "--config", str(config_path), "--model-dir", str(tmp_path),
         "--components", "", "--weight-trials", "2", "--dry-run", "--json", "--plot", str(tmp_path / "plot.png")],
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["config_path"] is None
    assert not (tmp_path / "config.json").exists()
    assert (tmp_path / "plot.png").is_file()


def test_tune_rejects_unknown_components(runner, data_dir):
    result = runner.invoke(cli, ["tune", "--data", str(data_dir), "--components", "als,content"])

    assert result.exit_code == 2
    assert "unknown names ['content']; expected some of ['als', 'ease', 'rp3beta', 'mf']" in result.output


@needs_ml100k
def test_evaluate_reads_ml100k(runner, config_path, tmp_path):
    result = runner.invoke(
        cli, ["evaluate", "--data", str(ML100K_DIR), "--config", str(config_path), "--model-dir", str(tmp_path), "--split", "temporal"]
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[:3] == ["hybrid", "temporal,", "last"]
