"""Training a model from files into a model directory, as the command line and the server do it."""

import logging
import os
from pathlib import Path

from hybrid.bundle import CONFIG_FILE_NAME, current_version
from hybrid.config import HybridConfig
from hybrid.data import load_bundled, load_movielens_csv
from hybrid.model import HybridRecommender

logger = logging.getLogger(__name__)


def resolve_config(model_dir, config_path=None):
    """Return the configuration to train with.

    An explicit ``config_path`` wins; otherwise ``config.json`` in the model
    directory (where ``true-recommend tune`` writes its choice); otherwise the
    defaults.
    """
    if config_path is not None:
        return HybridConfig.load(config_path)
    candidate = Path(model_dir) / CONFIG_FILE_NAME
    if candidate.is_file():
        logger.info("using the configuration in %s", candidate)
        return HybridConfig.load(candidate)
    return HybridConfig()


BUNDLED_SOURCE = {"kind": "bundled", "name": "ml-latest-small"}


def data_source(ratings=None, movies=None, tags=None):
    """Return where training data comes from, as recorded in a model's manifest for ``retrain`` to read again.

    No file means the bundled ml-latest-small; files are recorded by absolute path.
    """
    if ratings is None and movies is None:
        if tags is not None:
            raise ValueError("--tags needs --ratings and --movies as well")
        return dict(BUNDLED_SOURCE)
    if ratings is None or movies is None:
        raise ValueError("--ratings and --movies must be given together")
    return {
        "kind": "movielens-csv",
        "ratings": os.path.abspath(ratings),
        "movies": os.path.abspath(movies),
        "tags": None if tags is None else os.path.abspath(tags),
    }


def load_source(source):
    """Load the data set that ``data_source`` described."""
    if source.get("kind") == "bundled":
        logger.info("loading the bundled MovieLens ml-latest-small data")
        return load_bundled()
    if source.get("kind") == "movielens-csv":
        return load_movielens_csv(source["ratings"], source["movies"], source.get("tags"))
    raise ValueError(f"unknown training data source {source!r}: expected kind 'bundled' or 'movielens-csv'")


def load_training_data(ratings=None, movies=None, tags=None):
    """Load MovieLens CSV files, or the bundled ml-latest-small when no file is given."""
    return load_source(data_source(ratings, movies, tags))


def train_and_save(dataset, model_dir, config=None, *, show_progress=True, source=None):
    """Train on ``dataset``, save a new published version in ``model_dir`` and return the model.

    ``source`` (from ``data_source``) is recorded in the manifest, so that
    ``true-recommend retrain`` can load the same files again.
    """
    config = config if config is not None else resolve_config(model_dir)
    model = HybridRecommender(config).fit(dataset, show_progress=show_progress)
    if source is not None:
        model.info["data"]["source"] = source
    model.save(model_dir)
    return model


def ensure_model(model_dir, *, show_progress=True):
    """Train on the bundled data when ``model_dir`` has no published version yet."""
    if current_version(model_dir) is not None:
        return
    logger.info("no model in %s yet: training one on the bundled MovieLens ml-latest-small data first", model_dir)
    train_and_save(load_bundled(), model_dir, show_progress=show_progress, source=dict(BUNDLED_SOURCE))
