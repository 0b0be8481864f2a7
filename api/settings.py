"""Settings of the HTTP API: defaults, a TOML configuration file and environment variables.

Each setting has a lower-case key in the configuration file and an
environment variable ``TRUE_RECOMMEND_<NAME>``::

    # true-recommend.toml
    model_dir = "/srv/true-recommend/model"
    database = "sqlite:////srv/true-recommend/model/ratings.sqlite3"
    api_token = "<at least 16 characters, e.g. from secrets.token_urlsafe(32)>"
    max_n = 100
    max_ratings = 500
    max_movie_ids = 100
    max_content_length = 65536
    reload_interval = 1.0

Later sources win: the defaults, then the configuration file (``CONFIG_FILE``
or ``$TRUE_RECOMMEND_CONFIG_FILE``), then the environment, then the values
handed to ``create_app`` (the command line's options). Every value is
checked, and a bad one raises ``SettingsError`` naming its source.
"""

import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass

logger = logging.getLogger(__name__)

ENV_PREFIX = "TRUE_RECOMMEND_"
CONFIG_FILE_ENV = "TRUE_RECOMMEND_CONFIG_FILE"
DEFAULT_MODEL_DIR = "model"

# RFC 6750, section 2.1: the characters a bearer token may contain.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_INTEGER = re.compile(r"0|[1-9][0-9]*")
SHORT_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """Raised when a setting from the configuration file, the environment or the caller is invalid."""


@dataclass(frozen=True)
class Setting:
    """One setting: its default, its kind ("path", "url", "token", "count" or "seconds") and what it sets."""

    default: object
    kind: str
    help: str


SETTINGS = {
    "MODEL_DIR": Setting(DEFAULT_MODEL_DIR, "path", "directory of model versions"),
    "DATABASE": Setting(None, "url", "URL of the ratings store; default: the SQLite file ratings.sqlite3 in MODEL_DIR"),
    "API_TOKEN": Setting(None, "token", "bearer token of the write and admin routes, which are off without one"),
    "MAX_N": Setting(100, "count", "largest n or limit a request may ask for"),
    "MAX_RATINGS": Setting(500, "count", "most ratings in one request body"),
    "MAX_MOVIE_IDS": Setting(100, "count", "most movie ids in one predictions request"),
    "MAX_CONTENT_LENGTH": Setting(64 * 1024, "count", "largest request body in bytes; a larger one gets 413"),
    "RELOAD_INTERVAL": Setting(1.0, "seconds", "seconds between checks of MODEL_DIR/CURRENT for a new version; 0 turns the check off"),
}


def defaults():
    """Return every setting at its default value."""
    return {name: setting.default for name, setting in SETTINGS.items()}


def check_value(name, value, source):
    """Return ``value`` if it is valid for setting ``name``, else raise ``SettingsError``.

    ``source`` names where the value came from, for the message.
    """
    kind = SETTINGS[name].kind
    if kind == "path":
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise SettingsError(f"{source}: {name} must be a non-empty path, got {value!r}")
        return value

    if kind == "url":
        if value is not None and (not isinstance(value, str) or not value):
            raise SettingsError(f"{source}: {name} must be a database URL such as sqlite:///PATH, got {value!r}")
        return value

    if kind == "token":
        if value is None:
            return None
        if not isinstance(value, str) or not _BEARER_TOKEN.fullmatch(value):
            raise SettingsError(
                f"{source}: API_TOKEN must be a bearer token of letters, digits and -._~+/ (RFC 6750), "
                f"got a {type(value).__name__} of length {len(value) if isinstance(value, str) else 'n/a'}; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if len(value) < SHORT_TOKEN_LENGTH:
            logger.warning("%s: API_TOKEN has only %d characters; use at least %d", source, len(value), SHORT_TOKEN_LENGTH)
        return value

    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"{source}: {name} must be an integer >= 1, got {value!r}")
        return value

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SettingsError(f"{source}: {name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def read_config_file(path):
    """Return the settings of a TOML configuration file, keyed by setting name."""
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"configuration file {path} not found") from None
    except OSError as error:
        raise SettingsError(f"cannot read configuration file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"configuration file {path} is not valid TOML: {error}") from None

    known = sorted(name.lower() for name in SETTINGS)
    settings = {}
    for key, value in document.items():
        if key not in known:
            raise SettingsError(f"configuration file {path}: unknown setting {key!r}; expected some of {', '.join(known)}")
        name = key.upper()
        settings[name] = check_value(name, value, f"configuration file {path}")
    return settings


def _parse_environment_value(name, text, variable):
    kind = SETTINGS[name].kind
    if kind in ("path", "url", "token"):
        return check_value(name, text, f"environment variable {variable}")
    if kind == "count":
        if not _INTEGER.fullmatch(text):
            raise SettingsError(f"environment variable {variable}: {name} must be an integer >= 1, got {text!r}")
        return check_value(name, int(text), f"environment variable {variable}")
    try:
        seconds = float(text)
    except ValueError:
        raise SettingsError(f"environment variable {variable}: {name} must be a number of seconds >= 0, got {text!r}") from None
    return check_value(name, seconds, f"environment variable {variable}")


def read_environment(environ=None):
    """Return the settings given as ``TRUE_RECOMMEND_<NAME>`` environment variables; empty ones count as unset.

    The settings listed in ``SETTINGS`` are checked. Any other
    ``TRUE_RECOMMEND_<NAME>`` reaches the application configuration as
    ``<NAME>``, as text: unlike Flask's ``from_prefixed_env``, a value such
    as ``123`` is not parsed into a number.
    """
    environ = os.environ if environ is None else environ
    settings = {}
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_FILE_ENV or not text:
            continue
        name = variable[len(ENV_PREFIX):]
        settings[name] = _parse_environment_value(name, text, variable) if name in SETTINGS else text
    return settings


def load_settings(config_file=None, overrides=None, environ=None):
    """Return the merged settings: defaults, configuration file, environment, then ``overrides``.

    Parameters
    ----------
    config_file : path, optional
        TOML configuration file; ``$TRUE_RECOMMEND_CONFIG_FILE`` when omitted.
    overrides : dict, optional
        Values that win over every other source. Keys that are not settings
        (for example Flask's own ``TESTING``) are passed through unchecked.
    """
    environ = os.environ if environ is None else environ
    settings = defaults()

    config_file = config_file or environ.get(CONFIG_FILE_ENV) or None
    if config_file is not None:
        settings.update(read_config_file(config_file))
        logger.info("read settings from %s", config_file)
    settings.update(read_environment(environ))

    for name, value in (overrides or {}).items():
        settings[name] = check_value(name, value, "create_app configuration") if name in SETTINGS else value
    return settings
