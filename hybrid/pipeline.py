"""The retrain pipeline: base data plus the ratings store, a new version, a holdout check, an atomic publish.

``retrain`` runs these steps, one pipeline at a time per model directory
(a file lock):

1. Load the base data: the files given, else those recorded in the current
   version's manifest, else the bundled ml-latest-small.
2. Read a snapshot of the ratings store and merge it in. Added movies join
   the catalogue, and stored ratings and deletions are applied by the
   store's rules (``hybrid.live.current_ratings``).
3. Evaluate on a holdout (``evaluate``): the candidate configuration,
   trained without the held-out ratings, against the current version.
4. If the candidate is not worse than the current version by more than
   ``max_drop``, train it on all the data, write the version (under a
   hidden staging name, renamed when complete), publish it by replacing
   ``CURRENT`` atomically and delete versions beyond the ``keep`` newest.

A crash at any point leaves the current version published and no partial
version visible.
"""

import fcntl
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hybrid.bundle import current_version, prune_versions, publish_version, remove_stale_staging
from hybrid.live import current_ratings
from hybrid.metrics import hit_matrix
from hybrid.model import HybridRecommender
from hybrid.training import BUNDLED_SOURCE, data_source, load_source, resolve_config

logger = logging.getLogger(__name__)

LOCK_FILE = ".retrain.lock"
METRIC = "ndcg"


class RetrainLockedError(RuntimeError):
    """Raised when another retrain of the same model directory is running."""


@dataclass
class RetrainOptions:
    """Settings of one retrain.

    Parameters
    ----------
    max_drop : float
        Largest drop in NDCG@k, candidate against the current version, that
        still publishes the candidate. A negative value demands an
        improvement. The default 0.01 is 1.6 standard errors of NDCG@10 over
        500 held-out users of ml-latest-small (0.0062, measured by
        benchmarks/live_store.py), so sampling noise alone seldom blocks a
        retrain.
    keep : int
        Versions kept on disk for rollback, the published one included.
    k : int
        Length of the ranked lists the metrics score.
    holdout_users : int
        Largest number of users whose latest rating is held out.
    min_holdout_users : int
        Fewest held-out users for a meaningful comparison; below it the
        candidate is published without one and the manifest says so.
    random_state : int
        Seed of the choice of held-out users.
    """

    max_drop: float = 0.01
    keep: int = 5
    k: int = 10
    holdout_users: int = 500
    min_holdout_users: int = 20
    random_state: int = 0

    def __post_init__(self):
        for name in ("keep", "k", "holdout_users", "min_holdout_users"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not np.isfinite(self.max_drop):
            raise ValueError(f"max_drop must be a finite number, got {self.max_drop!r}")


@dataclass
class RetrainResult:
    """Outcome of one retrain; ``published`` is False when the candidate was rejected."""

    published: bool
    version: str | None
    previous: str | None
    evaluation: dict
    removed: list = field(default_factory=list)
    seconds: float = 0.0


class _DirectoryLock:
    """An exclusive ``flock`` on ``MODEL_DIR/.retrain.lock``, released by the kernel when the process dies."""

    def __init__(self, model_dir):
        self.path = Path(model_dir) / LOCK_FILE

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            raise RetrainLockedError(
                f"another retrain of {self.path.parent} is running (process {holder}); try again when it has finished"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, error_type, error, traceback):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        return False


# Merging the store into the base data -----------------------------------------------------


def merge_store(dataset, snapshot):
    """Return ``dataset`` with the store's movies added and its rating rows applied.

    Stored ratings of movies the merged catalogue does not list, or off the
    data set's rating scale, are skipped and counted in the log. The API
    checks both before it stores a rating, so this happens only when the
    base data changed.
    """
    movies = dataset.movies
    known = set(movies["movie_id"].tolist())
    added = [movie for movie in snapshot.movies if movie.movie_id not in known]
    if added:
        frame = pd.DataFrame(
            {
                "movie_id": np.array([movie.movie_id for movie in added], dtype=np.int64),
                "title": [movie.title for movie in added],
                "genres": pd.Series([tuple(movie.genres) for movie in added], dtype=object),
                "year": pd.array([movie.year for movie in added], dtype="Int64"),
            }
        )
        movies = pd.concat([movies, frame], ignore_index=True)

    events = snapshot.events
    usable = np.isin(events.movie_ids, movies["movie_id"].to_numpy(dtype=np.int64))
    on_scale = events.deletions | dataset.rating_scale.contains(np.nan_to_num(events.ratings))
    skipped = int((~(usable & on_scale)).sum())
    if skipped:
        logger.warning("skipped %d stored rating rows: unknown movie or rating off the scale", skipped)
    keep = usable & on_scale

    ratings = dataset.ratings
    user_ids = np.concatenate([ratings["user_id"].to_numpy(dtype=np.int64), events.user_ids[keep]])
    movie_ids = np.concatenate([ratings["movie_id"].to_numpy(dtype=np.int64), events.movie_ids[keep]])
    values = np.concatenate([ratings["rating"].to_numpy(dtype=np.float64), events.ratings[keep]])
    timestamps = np.concatenate([ratings["timestamp"].to_numpy(dtype=np.int64), events.timestamps[keep]])
    seq = np.concatenate([np.full(len(ratings), -1, dtype=np.int64), events.seq[keep]])
    current = current_ratings(user_ids, movie_ids, values, timestamps, seq)

    merged = pd.DataFrame(
        {
            "user_id": user_ids[current],
            "movie_id": movie_ids[current],
            "rating": values[current],
            "timestamp": timestamps[current],
        }
    )
    logger.info(
        "merged the ratings store (revision %d, %d rows, %d new movies): %d ratings before, %d after",
        snapshot.rating_revision,
        len(events),
        len(added),
        len(ratings),
        len(merged),
    )
    return replace(dataset, ratings=merged, movies=movies)


# Holdout evaluation -------------------------------------------------------------------------


def _training_pairs(model):
    """Return the (user_id, movie_id, rating, timestamp) rows a model was trained on."""
    matrix = model.user_items
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return pd.DataFrame(
        {
            "user_id": model.users.ids[rows],
            "movie_id": model.catalogue.movie_ids.ids[matrix.indices],
            "seen_rating": np.asarray(matrix.data, dtype=np.float64),
            "seen_timestamp": np.asarray(model.rating_times, dtype=np.int64),
        }
    )


def _latest_per_user(ratings, eligible, options):
    """Return the index labels of each eligible user's latest rating, for a sample of users."""
    counts = ratings.groupby("user_id")["movie_id"].transform("size")
    rows = ratings[eligible & (counts >= 2)]
    latest = rows.sort_values(["user_id", "timestamp", "movie_id"], kind="stable").groupby("user_id").tail(1)
    if len(latest) > options.holdout_users:
        latest = latest.sample(n=options.holdout_users, random_state=options.random_state)
    return latest.index


def choose_holdout(dataset, current, options):
    """Pick the held-out ratings, one per user: the latest, preferring ratings the current version never saw.

    Returns ``(labels, kind)``. With ``kind == "unseen"`` every held-out
    rating is new since the current version was trained, so that version can
    be scored on it fairly as it is. Otherwise (too few new ratings, or no
    current version) the latest rating of each user is held out, ``kind ==
    "latest"``, and the current version cannot be scored as it is, because
    it was trained on those ratings.
    """
    ratings = dataset.ratings
    if current is not None:
        seen = ratings.merge(_training_pairs(current), on=["user_id", "movie_id"], how="left")
        unseen = (
            seen["seen_rating"].isna()
            | (seen["seen_rating"].to_numpy() != ratings["rating"].to_numpy())
            | (seen["seen_timestamp"].to_numpy() != ratings["timestamp"].to_numpy())
        ).to_numpy()
        labels = _latest_per_user(ratings, unseen, options)
        if len(labels) >= options.min_holdout_users:
            return labels, "unseen"
    return _latest_per_user(ratings, np.ones(len(ratings), dtype=bool), options), "latest"


def ranking_metrics(model, train, holdout, k):
    """Score ``model`` on ``holdout``: each held-out user is folded in from their ``train`` ratings and ranked.

    Every user is ranked in one batch by ``HybridRecommender.recommend_many``,
    as a cold-start request would rank them, and each held-out rating is one
    query with one relevant movie. Returns the hit rate at ``k``, the share
    of queries whose movie is in the user's top ``k``, which equals recall
    at ``k`` with one movie per query. It also returns NDCG at ``k``
    (Jarvelin and Kekalainen 2002), which with one relevant movie is
    1 / log2(rank + 1) on a hit and 0 otherwise, and the standard error of
    that mean over the queries. A held-out movie that the model does not
    know counts as a miss.
    """
    users = np.unique(holdout["user_id"].to_numpy(dtype=np.int64))
    catalogue = model.catalogue.movie_ids

    # Ratings of movies the model does not know (added after it was
    # trained) cannot be folded in, so they are left out of the input.
    train = train[train["user_id"].isin(users)]
    items = catalogue.indices_of(train["movie_id"].to_numpy(dtype=np.int64))
    known = items >= 0
    rows = np.searchsorted(users, train["user_id"].to_numpy(dtype=np.int64))
    inputs = sp.csr_matrix(
        (train["rating"].to_numpy(dtype=np.float32)[known], (rows[known], items[known])), shape=(users.size, len(catalogue))
    )
    ranked_by_user = model.recommend_many(inputs, k)

    # One query per held-out rating: its user's list against that one movie.
    ranked = ranked_by_user[np.searchsorted(users, holdout["user_id"].to_numpy(dtype=np.int64))]
    targets = catalogue.indices_of(holdout["movie_id"].to_numpy(dtype=np.int64))
    queries = np.flatnonzero(targets >= 0)
    relevant = sp.csr_matrix((np.ones(queries.size), (queries, targets[queries])), shape=(len(holdout), len(catalogue)))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = hit_matrix(ranked, relevant) @ discounts

    return {
        f"hit_rate@{k}": round(float((gains > 0).mean()), 4),
        f"ndcg@{k}": round(float(gains.mean()), 4),
        f"ndcg@{k}_standard_error": round(float(gains.std(ddof=1) / np.sqrt(gains.size)), 4) if gains.size > 1 else None,
    }


def evaluate(dataset, current, config, options, *, show_progress=False):
    """Compare the candidate configuration with the current version on a holdout; return the record for the manifest.

    The candidate is trained on ``dataset`` without the held-out ratings.
    With new ratings to hold out, the current version is scored as it is
    served. Otherwise its configuration is trained on the same split (or,
    when it equals the candidate's, the candidate's figures are its own),
    because the served version saw the held-out ratings and would score
    far above its real quality.
    """
    labels, kind = choose_holdout(dataset, current, options)
    metric = f"{METRIC}@{options.k}"
    record = {
        "metric": metric,
        "max_drop": options.max_drop,
        "holdout": kind,
        "users": len(labels),
        "candidate": None,
        "current": None,
        "published": True,
    }
    if len(labels) < options.min_holdout_users:
        record["note"] = f"not evaluated: only {len(labels)} users can hold out a rating, {options.min_holdout_users} needed"
        logger.warning("retrain: %s", record["note"])
        return record

    holdout = dataset.ratings.loc[labels]
    train = dataset.ratings.drop(index=labels)
    logger.info("evaluating on %d held-out ratings (%s)", len(holdout), kind)
    candidate = HybridRecommender(config).fit(replace(dataset, ratings=train), show_progress=show_progress)
    record["candidate"] = ranking_metrics(candidate, train, holdout, options.k)

    if current is not None:
        if kind == "unseen":
            figures, scored_as = ranking_metrics(current, train, holdout, options.k), "served version"
        elif current.config.to_dict() == config.to_dict():
            figures, scored_as = dict(record["candidate"]), "same configuration as the candidate"
        else:
            baseline = HybridRecommender(current.config).fit(replace(dataset, ratings=train), show_progress=show_progress)
            figures, scored_as = ranking_metrics(baseline, train, holdout, options.k), "its configuration trained on the same split"
        record["current"] = {"version": current.info.get("version"), "scored_as": scored_as, **figures}
        drop = record["current"][metric] - record["candidate"][metric]
        record["published"] = bool(drop <= options.max_drop)

    logger.info(
        "evaluation: candidate %s, current %s",
        record["candidate"],
        None if record["current"] is None else {name: record["current"].get(name) for name in record["candidate"]},
    )
    return record


# The pipeline ------------------------------------------------------------------------------------------------


def retrain(model_dir, store, *, ratings=None, movies=None, tags=None, config_path=None, options=None, show_progress=False):
    """Run the whole pipeline once and return a ``RetrainResult``.

    Raises ``RetrainLockedError`` when another retrain of ``model_dir`` is
    running.
    """
    options = options if options is not None else RetrainOptions()
    started = time.perf_counter()
    with _DirectoryLock(model_dir):
        remove_stale_staging(model_dir)
        previous = current_version(model_dir)
        current = HybridRecommender.load(model_dir) if previous is not None else None

        # 1-2: base data and the store.
        if ratings is not None or movies is not None:
            source = data_source(ratings, movies, tags)
        elif current is not None and current.info["data"].get("source"):
            source = current.info["data"]["source"]
        else:
            source = dict(BUNDLED_SOURCE)
        snapshot = store.snapshot()
        dataset = merge_store(load_source(source), snapshot)
        config = resolve_config(model_dir, config_path)

        # 3: the holdout check.
        evaluation = evaluate(dataset, current, config, options, show_progress=show_progress)
        if not evaluation["published"]:
            logger.warning(
                "retrain: candidate rejected, %s stays published: %s %.4f against %.4f, a drop above %.4f",
                previous,
                evaluation["metric"],
                evaluation["candidate"][evaluation["metric"]],
                evaluation["current"][evaluation["metric"]],
                options.max_drop,
            )
            return RetrainResult(False, None, previous, evaluation, seconds=time.perf_counter() - started)

        # 4: train on everything, write, publish, prune.
        model = HybridRecommender(config).fit(dataset, show_progress=show_progress)
        model.info["data"]["source"] = source
        model.info["store"] = {
            "store_id": snapshot.store_id,
            "rating_revision": snapshot.rating_revision,
            "movie_revision": snapshot.movie_revision,
            "rating_events": len(snapshot.events),
            "movies": len(snapshot.movies),
        }
        model.info["evaluation"] = evaluation
        version = model.save(model_dir, publish=False)
        publish_version(model_dir, version)
        removed = prune_versions(model_dir, options.keep)

    seconds = time.perf_counter() - started
    logger.info("retrain: published %s (was %s) in %.1f s", version, previous, seconds)
    return RetrainResult(True, version, previous, evaluation, removed, seconds)
