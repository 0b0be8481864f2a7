"""Server settings: the TOML configuration file, the environment, their order and their checks."""

import os
import tempfile

import pytest

from api import create_app
from api.settings import SettingsError, load_settings, read_config_file

TOKEN = "k3J9-xQ2_vL8.mN4~pR7+sT1/wY6zA0="


def write_config(tmp_path, text):
    path = tmp_path / "true-recommend.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment():
    settings = load_settings(environ={})

    assert settings["API_TOKEN"] is None
    assert settings["MODEL_DIR"] == "model"
    assert settings["MAX_N"] == 100
    assert settings["MAX_RATINGS"] == 500
    assert settings["MAX_MOVIE_IDS"] == 100
    assert settings["MAX_CONTENT_LENGTH"] == 65536
    assert settings["RELOAD_INTERVAL"] == 1.0


def test_config_file_sets_token_and_limits(tmp_path):
    path = write_config(tmp_path, f'api_token = "{TOKEN}"\nmax_n = 7\nreload_interval = 0\nmodel_dir = "/srv/models"\n')

    settings = load_settings(path, environ={})

    assert settings["API_TOKEN"] == TOKEN
    assert settings["MAX_N"] == 7
    assert settings["RELOAD_INTERVAL"] == 0.0
    assert settings["MODEL_DIR"] == "/srv/models"


def test_config_file_comes_from_the_environment(tmp_path):
    path = write_config(tmp_path, "max_ratings = 3\n")

    settings = load_settings(environ={"TRUE_RECOMMEND_CONFIG_FILE": str(path)})

    assert settings["MAX_RATINGS"] == 3


def test_environment_wins_over_the_file(tmp_path):
    path = write_config(tmp_path, f'api_token = "{TOKEN}"\nmax_n = 7\n')

    settings = load_settings(path, environ={"TRUE_RECOMMEND_API_TOKEN": "from-the-environment-0123", "TRUE_RECOMMEND_MAX_N": "9"})

    assert settings["API_TOKEN"] == "from-the-environment-0123"
    assert settings["MAX_N"] == 9


def test_overrides_win_over_the_environment():
    settings = load_settings(overrides={"MAX_N": 4, "TESTING": True}, environ={"TRUE_RECOMMEND_MAX_N": "9"})

    assert settings["MAX_N"] == 4
    assert settings["TESTING"] is True


def test_empty_environment_variable_counts_as_unset(tmp_path):
    path = write_config(tmp_path, f'api_token = "{TOKEN}"\n')

    settings = load_settings(path, environ={"TRUE_RECOMMEND_API_TOKEN": ""})

    assert settings["API_TOKEN"] == TOKEN


def test_numeric_environment_token_stays_a_string():
    # Regression: Flask's from_prefixed_env parsed "123456789012345678" as
    # JSON, so the token became an int and the protected routes went off.
    settings = load_settings(environ={"TRUE_RECOMMEND_API_TOKEN": "123456789012345678"})

    assert settings["API_TOKEN"] == "123456789012345678"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_n = 0\n", r"MAX_N must be an integer >= 1, got 0"),
        ('max_n = "10"\n', r"MAX_N must be an integer >= 1, got '10'"),
        ("max_content_length = 1.5\n", r"MAX_CONTENT_LENGTH must be an integer >= 1, got 1.5"),
        ("reload_interval = -1\n", r"RELOAD_INTERVAL must be a number of seconds >= 0, got -1"),
        ("reload_interval = true\n", r"RELOAD_INTERVAL must be a number of seconds >= 0, got True"),
        ("maxn = 10\n", r"unknown setting 'maxn'; expected some of api_token, database, max_content_length, max_movie_ids, max_n"),
        ('api_token = "has space"\n', r"API_TOKEN must be a bearer token of letters, digits and -\._~\+/ \(RFC 6750\), got a str of length 9"),
        ("api_token = 12345\n", r"API_TOKEN must be a bearer token .* got a int of length n/a"),
        ("max_n = \n", r"is not valid TOML"),
    ],
)
def test_bad_config_file_values_are_rejected(tmp_path, text, message):
    path = write_config(tmp_path, text)

    with pytest.raises(SettingsError, match=rf"configuration file .*true-recommend\.toml.*{message}"):
        read_config_file(path)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRUE_RECOMMEND_MAX_N", "1e3", r"environment variable TRUE_RECOMMEND_MAX_N: MAX_N must be an integer >= 1, got '1e3'"),
        ("TRUE_RECOMMEND_MAX_N", "010", r"MAX_N must be an integer >= 1, got '010'"),
        ("TRUE_RECOMMEND_RELOAD_INTERVAL", "soon", r"RELOAD_INTERVAL must be a number of seconds >= 0, got 'soon'"),
        ("TRUE_RECOMMEND_RELOAD_INTERVAL", "nan", r"RELOAD_INTERVAL must be a number of seconds >= 0, got nan"),
        ("TRUE_RECOMMEND_API_TOKEN", "tab\tinside", r"environment variable TRUE_RECOMMEND_API_TOKEN: API_TOKEN must be a bearer token"),
    ],
)
def test_bad_environment_values_are_rejected(variable, value, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={variable: value})


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match=r"configuration file .*absent\.toml not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_invalid_token_message_does_not_show_it():
    with pytest.raises(SettingsError) as raised:
        load_settings(environ={"TRUE_RECOMMEND_API_TOKEN": "hunter2 hunter2"})

    assert "hunter2" not in str(raised.value)


def test_create_app_reads_the_config_file(tmp_path, bundled_model):
    path = write_config(tmp_path, f'api_token = "{TOKEN}"\nmax_n = 3\n')

    app = create_app({"MODEL": bundled_model, "CONFIG_FILE": str(path)})

    assert app.config["API_TOKEN"] == TOKEN
    response = app.test_client().get("/users/1/recommendations?n=4")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "n must be an integer from 1 to 3, got '4'"


def test_other_environment_variables_pass_through_as_text():
    settings = load_settings(environ={"TRUE_RECOMMEND_DATABASE": "sqlite:///ratings.db", "TRUE_RECOMMEND_RETRIES": "3"})

    assert settings["DATABASE"] == "sqlite:///ratings.db"
    assert settings["RETRIES"] == "3"
    assert "CONFIG_FILE" not in settings


def test_serve_rejects_a_read_timeout_not_below_the_timeout(tmp_path):
    from click.testing import CliRunner

    from api.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--model-dir", str(tmp_path), "--timeout", "5", "--read-timeout", "5"])

    assert result.exit_code == 2
    assert "Invalid value for --read-timeout: must be below --timeout (5 s), got 5" in result.output


def test_serve_reports_a_bad_config_file_in_one_line(tmp_path):
    from click.testing import CliRunner

    from api.cli import cli

    config = write_config(tmp_path, "max_n = -1\n")

    result = CliRunner().invoke(cli, ["serve", "--model-dir", str(tmp_path / "model"), "--config-file", str(config)])

    assert result.exit_code == 1
    assert result.output == f"Error: configuration file {config}: MAX_N must be an integer >= 1, got -1\n"
    assert not (tmp_path / "model").exists()


def test_serve_that_fails_leaves_no_metrics_directory(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from api.cli import cli

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    # tempfile caches the temporary directory on first use, so setting
    # TMPDIR now would have no effect.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    created = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kwargs: created.append(real_mkdtemp(**kwargs)) or created[-1])
    config = write_config(tmp_path, "max_n = 0\n")

    result = CliRunner().invoke(cli, ["serve", "--model-dir", str(tmp_path / "model"), "--config-file", str(config)])

    assert result.exit_code == 1
    assert len(created) == 1
    assert created[0].startswith(str(tmp_path))
    assert not os.path.exists(created[0])
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
