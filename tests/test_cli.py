"""The true-recommend command line: train, recommend and serve, and their one-line errors."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from api.cli import cli
from hybrid.bundle import current_version
from tests.conftest import write_tiny_config


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture()
def trained_dir(runner, tiny_files, tmp_path):
    ratings, movies = tiny_files
    model_dir = write_tiny_config(tmp_path / "model")
    result = runner.invoke(
        cli, ["train", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(model_dir), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return model_dir


def test_train_writes_and_publishes_a_version(trained_dir):
    version = current_version(trained_dir)

    assert version is not None
    assert (trained_dir / "versions" / version / "manifest.json").is_file()


def test_train_reports_the_version_and_time(runner, tiny_files, tmp_path):
    ratings, movies = tiny_files

    result = runner.invoke(cli, ["train", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path), "--no-progress"])

    assert result.exit_code == 0
    assert result.output.startswith(f"trained version {current_version(tmp_path)} in ")
    assert result.output.rstrip().endswith(f"s; saved in {tmp_path}")


def test_train_uses_the_config_file_of_the_model_dir(runner, tiny_files, tmp_path):
    ratings, movies = tiny_files
    (tmp_path / "config.json").write_text(json.dumps({"als": {"factors": 3}}))

    result = runner.invoke(cli, ["train", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path), "--no-progress"])

    assert result.exit_code == 0
    manifest = json.loads((tmp_path / "versions" / current_version(tmp_path) / "manifest.json").read_text())
    assert manifest["config"]["als"]["factors"] == 3


def test_recommend_prints_a_table(runner, trained_dir):
    result = runner.invoke(cli, ["recommend", "--user", "4", "-n", "2", "--model-dir", str(trained_dir)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("user 4: 2 ratings; model version ")
    assert lines[1].split() == ["rank", "movie_id", "score", "title", "(genres)"]
    assert lines[2].split()[:2] == ["1", "3"]
    assert lines[2].endswith("Bug's Life, A (1998) (Animation|Children|Comedy)")
    assert len(lines) == 4


def test_recommend_for_unknown_user_says_fallback(runner, trained_dir):
    result = runner.invoke(cli, ["recommend", "--user", "999", "-n", "1", "--model-dir", str(trained_dir)])

    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "user 999 is not in the data: showing the popularity fallback"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["recommend", "--user", "abc"],
            "Error: invalid --user 'abc': expected a non-negative integer without sign, decimal point or leading zeros, at most 9223372036854775807",
        ),
        (["train", "--ratings", "{ratings}"], "Error: --ratings and --movies must be given together"),
        (["train", "--config", "{config}"], "Error: configuration file {config}: unknown configuration keys ['wieghts']; expected some of"),
    ],
)
def test_bad_input_gives_a_one_line_error(runner, tiny_files, tmp_path, arguments, message):
    ratings, _ = tiny_files
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"wieghts": {}}))
    arguments = [argument.format(ratings=ratings, config=config) for argument in arguments]

    result = runner.invoke(cli, [*arguments, "--model-dir", str(tmp_path / "model")])

    assert result.exit_code == 1
    assert result.output.startswith(message.format(config=config))
    assert len(result.output.strip().splitlines()) == 1


def test_train_rejects_a_file_in_the_wrong_encoding(runner, tiny_files, tmp_path):
    ratings, movies = tiny_files
    movies.write_bytes("movieId,title,genres\n1,Am\xe9lie (2001),Comedy\n".encode("latin-1"))

    result = runner.invoke(cli, ["train", "--ratings", str(ratings), "--movies", str(movies), "--model-dir", str(tmp_path / "m")])

    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "utf-8" in result.output
    assert len(result.output.strip().splitlines()) == 1


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_over_http_with_gunicorn(trained_dir):
    port = _free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--model-dir", str(trained_dir), "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        body = None
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/4/recommendations?n=1", timeout=2) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.2)
        assert body is not None, server.stdout.read().decode() if server.poll() is not None else "server did not answer"
        assert [item["movie_id"] for item in body["items"]] == [3]
        assert body["model_version"] == current_version(trained_dir)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert "Booting worker" in output
    assert "gunicorn" in output.lower()
