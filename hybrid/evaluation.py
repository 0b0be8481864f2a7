"""Offline evaluation of a `HybridRecommender` on a split: the same objects the server uses.

Typical use::

    from hybrid import HybridConfig, load_bundled
    from hybrid.evaluation import evaluate
    from hybrid.splits import random_holdout

    data = load_bundled()
    results = evaluate(data, random_holdout(data.ratings, 0.25, random_state=0), HybridConfig(), k=10)
    print(format_table(results))

Every test user is ranked in one batched pass (``HybridRecommender.recommend_many``),
which excludes the movies the user rated in training exactly as
``recommend`` does, and that one ranking feeds every ranking metric.
Predicted ratings come from the explicit MF, as in the predictions route.
"""

import logging
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from hybrid.blend import COMPONENTS, BlendWeights
from hybrid.data import DataError, load_bundled, load_ml100k, load_movielens_csv
from hybrid.metrics import catalogue_coverage, mae, ranking_metrics, rmse
from hybrid.model import HybridRecommender

logger = logging.getLogger(__name__)

DEFAULT_REVEALED = (1, 3, 5, 10)


@dataclass
class Evaluation:
    """Figures of one model on one split (and, for new users, one number of revealed ratings).

    Ranking figures are at cut-off ``k``; ``coverage`` is the share of the
    catalogue in at least one top-k list. ``rmse`` and ``mae`` are over
    the ``n_rated`` test ratings.
    """

    label: str
    split: str
    k: int
    revealed: int | None = None
    rmse: float | None = None
    mae: float | None = None
    n_rated: int = 0
    precision: float | None = None
    recall: float | None = None
    ndcg: float | None = None
    map: float | None = None
    hit_rate: float | None = None
    coverage: float | None = None
    n_users: int = 0
    fit_seconds: float | None = None
    rank_seconds: float | None = None
    notes: list = field(default_factory=list)

    def to_dict(self):
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def single_component(name):
    """Return blend weights that use only ``name``, to evaluate one component alone."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown component {name!r}; expected one of {list(COMPONENTS)}")
    return BlendWeights(cold={name: 1.0}, warm={name: 1.0})


def load_data_dir(path=None):
    """Load a data set from a directory: ml-100k files (``u.data``) or MovieLens CSV files.

    A CSV directory needs ``ratings.csv`` and ``movies.csv``; ``tags.csv``
    is read when present. ``None`` loads the bundled ml-latest-small.
    """
    if path is None:
        return load_bundled()
    directory = pathlib.Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory not found: {directory}")
    if (directory / "u.data").is_file():
        return load_ml100k(directory)
    if (directory / "ratings.csv").is_file() and (directory / "movies.csv").is_file():
        tags = directory / "tags.csv"
        return load_movielens_csv(
            directory / "ratings.csv",
            directory / "movies.csv",
            tags if tags.is_file() else None,
            name=directory.name,
        )
    raise DataError(
        f"{directory} contains neither ml-100k files (u.data, u.item, u.genre) nor MovieLens CSV files "
        "(ratings.csv, movies.csv); pass a directory with one of them"
    )


def ratings_matrix(model, frame, users):
    """Return a (len(users), n_movies) matrix of the ratings in ``frame``, one row per id in ``users`` (sorted)."""
    rows = np.searchsorted(users, frame["user_id"].to_numpy(dtype=np.int64))
    columns = model.catalogue.movie_ids.indices_of(frame["movie_id"].to_numpy(dtype=np.int64))
    if (columns < 0).any():
        missing = np.unique(frame["movie_id"].to_numpy()[columns < 0])[:5].tolist()
        raise ValueError(f"the test ratings name movies that are not in the model's catalogue, e.g. {missing}")
    values = frame["rating"].to_numpy(dtype=np.float32)
    return sp.csr_matrix((values, (rows, columns)), shape=(users.size, len(model.catalogue)))


def relevant_items(model, test, users, relevance_threshold=None):
    """Return the relevant test movies of each user in ``users`` as a sparse matrix.

    Every test rating is relevant unless ``relevance_threshold`` is given,
    in which case only ratings at or above it are.
    """
    if relevance_threshold is not None:
        test = test[test["rating"] >= relevance_threshold]
    return ratings_matrix(model, test, users)


def rank_known_users(model, users, n, weights=None):
    """Rank the top ``n`` movies of each user id in ``users`` (sorted), as ``recommend`` would.

    Users the model was trained on are scored with their learned factors and
    their training ratings are excluded. Users it has never seen get the
    popularity fallback, as on the server.
    """
    indices = model.users.indices_of(users)
    known = indices >= 0
    ranked = np.empty((users.size, n), dtype=np.int64)
    if known.any():
        ranked[known] = model.recommend_many(
            model.user_items[indices[known]], n, user_indices=indices[known], weights=weights
        )
    if (~known).any():
        empty = sp.csr_matrix((int((~known).sum()), len(model.catalogue)), dtype=np.float32)
        ranked[~known] = model.recommend_many(empty, n, weights=weights)
    return ranked


def predict_known_users(model, test):
    """Return the explicit MF's predicted rating of each test row (users outside training get the movie baseline)."""
    users = model.users.indices_of(test["user_id"].to_numpy(dtype=np.int64))
    movies = model.catalogue.movie_ids.indices_of(test["movie_id"].to_numpy(dtype=np.int64))
    if (movies < 0).any():
        raise ValueError("the test ratings name movies that are not in the model's catalogue")

    predicted = np.empty(len(test), dtype=np.float32)
    known = users >= 0
    predicted[known] = model.mf.predict(users[known], movies[known])
    baseline = model.mf.score(np.zeros(model.mf.user_factors_.shape[1] + 1, dtype=np.float32))
    predicted[~known] = baseline[movies[~known]]
    return predicted


def evaluate_model(model, test, *, k=10, weights=None, label="hybrid", split_name="", relevance_threshold=None):
    """Measure a fitted model on the test ratings of users it was trained on.

    Returns
    -------
    Evaluation
    """
    result = Evaluation(label=label, split=split_name, k=k)

    predicted = predict_known_users(model, test)
    result.rmse = rmse(predicted, test["rating"].to_numpy())
    result.mae = mae(predicted, test["rating"].to_numpy())
    result.n_rated = len(test)

    users = np.unique(test["user_id"].to_numpy(dtype=np.int64))
    unknown = int((model.users.indices_of(users) < 0).sum())
    if unknown:
        result.notes.append(f"{unknown} test users have no training ratings and get the popularity fallback")

    started = time.perf_counter()
    ranked = rank_known_users(model, users, k, weights)
    result.rank_seconds = time.perf_counter() - started
    _add_ranking(result, ranked, relevant_items(model, test, users, relevance_threshold), len(model.catalogue))
    return result


def evaluate_new_users(model, split, *, revealed=DEFAULT_REVEALED, k=10, weights=None, label="hybrid", relevance_threshold=None):
    """Measure a fitted model on the held-out users of a new-user split, once per number of revealed ratings.

    For each ``r`` in ``revealed``, each held-out user's first ``r``
    revealed ratings are the cold-start input, as in ``POST
    /recommendations``, and the ranking and rating figures are measured on
    the same test ratings.

    Returns
    -------
    list of Evaluation
    """
    if split.revealed is None:
        raise ValueError(f"split {split.name!r} is not a new-user split: it has no revealed ratings")
    available = int(split.revealed["position"].max()) + 1
    too_many = [count for count in revealed if count > available]
    if too_many:
        raise ValueError(f"the split reveals at most {available} ratings per user, cannot reveal {too_many}")

    users = np.unique(split.test["user_id"].to_numpy(dtype=np.int64))
    relevant = relevant_items(model, split.test, users, relevance_threshold)
    test_rows = np.searchsorted(users, split.test["user_id"].to_numpy(dtype=np.int64))
    test_movies = model.catalogue.movie_ids.indices_of(split.test["movie_id"].to_numpy(dtype=np.int64))

    results = []
    for count in revealed:
        result = Evaluation(label=label, split=split.name, k=k, revealed=count)
        inputs = ratings_matrix(model, split.revealed_ratings(count), users)

        started = time.perf_counter()
        ranked = model.recommend_many(inputs, k, weights=weights)
        result.rank_seconds = time.perf_counter() - started
        _add_ranking(result, ranked, relevant, len(model.catalogue))

        # Each user's MF vector comes from the same revealed ratings.
        predicted = model.mf.score_many(model.mf.fold_in_many(inputs))[test_rows, test_movies]
        result.rmse = rmse(predicted, split.test["rating"].to_numpy())
        result.mae = mae(predicted, split.test["rating"].to_numpy())
        result.n_rated = len(split.test)
        results.append(result)
    return results


def _add_ranking(result, ranked, relevant, n_items):
    figures = ranking_metrics(ranked, relevant, result.k)
    result.precision = figures.precision
    result.recall = figures.recall
    result.ndcg = figures.ndcg
    result.map = figures.map
    result.hit_rate = figures.hit_rate
    result.n_users = figures.n_users
    result.coverage = catalogue_coverage(ranked, n_items)


def evaluate(dataset, split, config=None, *, k=10, revealed=DEFAULT_REVEALED, label="hybrid", relevance_threshold=None, show_progress=False):
    """Fit a model with ``config`` on the split's training ratings and measure it on its test ratings.

    Returns
    -------
    list of Evaluation
        One entry, or one per number of revealed ratings for a new-user split.
    """
    started = time.perf_counter()
    model = HybridRecommender(config).fit(split.train_dataset(dataset), show_progress=show_progress)
    fit_seconds = time.perf_counter() - started
    logger.info("fitted on %s in %.1f s", split.name, fit_seconds)

    if split.revealed is not None:
        results = evaluate_new_users(
            model, split, revealed=revealed, k=k, label=label, relevance_threshold=relevance_threshold
        )
    else:
        results = [evaluate_model(model, split.test, k=k, label=label, split_name=split.name, relevance_threshold=relevance_threshold)]
    for result in results:
        result.fit_seconds = fit_seconds
    return results


def mean_evaluation(results, label=None):
    """Return the mean of several evaluations (for example the folds u1..u5) as one Evaluation."""
    if not results:
        raise ValueError("results must hold at least one Evaluation")
    first = results[0]
    mean = Evaluation(label=label or first.label, split=f"mean of {len(results)}", k=first.k, revealed=first.revealed)
    for name in ("rmse", "mae", "precision", "recall", "ndcg", "map", "hit_rate", "coverage", "fit_seconds", "rank_seconds"):
        values = [getattr(result, name) for result in results]
        if all(value is not None for value in values):
            setattr(mean, name, float(np.mean(values)))
    mean.n_rated = int(np.sum([result.n_rated for result in results]))
    mean.n_users = int(np.sum([result.n_users for result in results]))
    return mean


def format_table(results):
    """Return evaluations as a plain-text table, one row per Evaluation."""
    if not results:
        return ""
    k = results[0].k
    columns = [
        ("model", lambda r: r.label, "<"),
        ("split", lambda r: r.split, "<"),
        ("revealed", lambda r: "" if r.revealed is None else str(r.revealed), ">"),
        ("RMSE", lambda r: _number(r.rmse), ">"),
        ("MAE", lambda r: _number(r.mae), ">"),
        (f"P@{k}", lambda r: _number(r.precision), ">"),
        (f"R@{k}", lambda r: _number(r.recall), ">"),
        (f"NDCG@{k}", lambda r: _number(r.ndcg), ">"),
        (f"MAP@{k}", lambda r: _number(r.map), ">"),
        (f"HR@{k}", lambda r: _number(r.hit_rate), ">"),
        ("coverage", lambda r: _number(r.coverage), ">"),
        ("users", lambda r: str(r.n_users), ">"),
        ("fit s", lambda r: _number(r.fit_seconds, 2), ">"),
    ]
    cells = [[render(result) for _, render, _ in columns] for result in results]
    widths = [max(len(title), *(len(row[i]) for row in cells)) for i, (title, _, _) in enumerate(columns)]

    lines = ["  ".join(f"{title:{align}{width}}" for (title, _, align), width in zip(columns, widths))]
    for row in cells:
        lines.append("  ".join(f"{cell:{align}{width}}" for cell, (_, _, align), width in zip(row, columns, widths)))
    notes = [note for result in results for note in result.notes]
    lines.extend(f"note: {note}" for note in dict.fromkeys(notes))
    return "\n".join(lines)


def _number(value, digits=4):
    return "" if value is None else f"{value:.{digits}f}"
