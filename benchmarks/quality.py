"""Measure the product against its peers on MovieLens, side by side, and write docs/benchmarks.md.

One command reruns everything (from the repository root, after
``pip install '.[bench]'``)::

    python benchmarks/quality.py

It runs three benchmarks on ml-100k (``--data``, default
``../shared/data/ml-100k`` when that exists) and on the bundled
ml-latest-small:

1. Rating prediction: the explicit MF at Surprise SVD's settings and at the
   product's preset, against Surprise SVD and SVD++, on the canonical folds
   u1..u5 of ml-100k (a per-user random 80/20 split of ml-latest-small).
2. Top-10 ranking on a per-user random 75/25 split, movies rated in
   training excluded: the hybrid, tuned by ``hybrid.tuning.tune`` on
   validation folds carved from the training ratings, against implicit ALS
   (200 factors), EASE, LightFM WARP with genre features and popularity,
   each peer tuned on the same validation folds.
3. Cold start on a new-user split: the hybrid against popularity, content
   alone and ALS fold-in alone, with 1, 3, 5 and 10 revealed ratings.

Test ratings are never seen by any tuning. It prints every figure, and
writes its section of docs/benchmarks.md (between the quality markers),
the PNG plots under docs/, the raw figures in docs/quality.json and the
summary table of README.md (between the quality-summary markers).
"""

import argparse
import json
import logging
import pathlib
import sys
import time

import numpy as np

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from benchmarks import report  # noqa: E402
from benchmarks.peers import (  # noqa: E402
    EASEPeer,
    ImplicitALSPeer,
    LightFMPeer,
    PopularityPeer,
    fit_surprise,
    genre_features,
)

logger = logging.getLogger("benchmarks.quality")

K = 10
REVEALED = (1, 3, 5, 10)


def default_ml100k():
    for parent in (REPOSITORY.parent, REPOSITORY.parent.parent):
        candidate = parent / "shared" / "data" / "ml-100k"
        if (candidate / "u.data").is_file():
            return candidate
    return None


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=default_ml100k(),
                        help="ml-100k directory (default: ../shared/data/ml-100k when present).")
    parser.add_argument("--skip-small", action="store_true", help="Do not run the bundled ml-latest-small.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the splits, the searches and the models.")
    parser.add_argument("--component-trials", type=int, default=25, help="Optuna trials per tuned component of the hybrid.")
    parser.add_argument("--weight-trials", type=int, default=100, help="Optuna trials per blend weight set of the hybrid.")
    parser.add_argument("--peer-trials", type=int, default=25, help="Optuna trials for implicit ALS and for LightFM.")
    parser.add_argument("--validation-folds", type=int, default=2, help="Validation folds that every search averages over.")
    parser.add_argument("--output", type=pathlib.Path, default=REPOSITORY / "docs" / "benchmarks.md",
                        help="Markdown file whose quality section is written; plots and quality.json go beside it.")
    parser.add_argument("--readme", type=pathlib.Path, default=REPOSITORY / "README.md",
                        help="README whose quality-summary section is rewritten ('' to leave it alone).")
    parser.add_argument("--quick", action="store_true", help="A smoke run with a handful of trials; figures are not representative.")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.component_trials, arguments.weight_trials, arguments.peer_trials = 2, 5, 2
    return arguments


# Shared helpers ---------------------------------------------------------------------


def to_matrix(frame, users, movies):
    """Return the ratings of ``frame`` as a users x movies CSR matrix in the index of a fitted model."""
    import scipy.sparse as sp

    rows = users.indices_of(frame["user_id"].to_numpy(dtype=np.int64))
    columns = movies.indices_of(frame["movie_id"].to_numpy(dtype=np.int64))
    keep = (rows >= 0) & (columns >= 0)
    return sp.csr_matrix(
        (frame["rating"].to_numpy(dtype=np.float32)[keep], (rows[keep], columns[keep])),
        shape=(len(users), len(movies)),
    )


def rank_scores(scores, rated, k=K):
    """Return the top-k items of each row of ``scores``, rated items excluded."""
    from hybrid.blend import top_n_many

    candidates = np.ones(scores.shape, dtype=bool)
    rows = np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr))
    candidates[rows, rated.indices] = False
    return top_n_many(np.asarray(scores, dtype=np.float32), candidates, k)


def ranking_row(label, ranked, relevant, n_items, fit_seconds, tune_seconds=None, params=None):
    from hybrid.metrics import catalogue_coverage, ranking_metrics

    figures = ranking_metrics(ranked, relevant, K)
    row = {"model": label, **figures.to_dict(), "coverage": catalogue_coverage(ranked, n_items), "fit_seconds": fit_seconds}
    row["tune_seconds"] = tune_seconds
    row["params"] = params or {}
    logger.info("%-34s NDCG@%d %.4f  P@%d %.4f  fit %.2f s", label, K, row["ndcg"], K, row["precision"], fit_seconds)
    return row


# 1. Rating prediction ----------------------------------------------------------------


def rating_benchmark(folds, seed, rating_scale):
    """Fit each rating model on every (train, test) fold; return RMSE, MAE and fit seconds per fold."""
    from surprise import SVD, SVDpp

    from collaborative.sgd_mf import ExplicitMF
    from hybrid.config import HybridConfig
    from hybrid.metrics import mae, rmse

    # Compile the numba kernels before any timing.
    import scipy.sparse as sp

    ExplicitMF(factors=2, epochs=1).fit(sp.csr_matrix(np.array([[1.0, 2.0]], dtype=np.float32)))

    preset = HybridConfig().mf
    preset_label = f"ExplicitMF, product preset ({preset['factors']} factors, {preset['epochs']} epochs)"
    models = {
        "ExplicitMF, SVD settings (100 factors, 20 epochs)": lambda: ExplicitMF(rating_range=rating_scale, random_state=seed),
        preset_label: lambda: ExplicitMF(**preset, rating_range=rating_scale, random_state=seed),
        "Surprise SVD (100 factors, 20 epochs)": lambda: SVD(random_state=seed),
        "Surprise SVD++ (20 factors, 20 epochs)": lambda: SVDpp(random_state=seed),
    }
    results = {name: {"rmse": [], "mae": [], "fit_seconds": []} for name in models}
    for fold_name, train, test, movie_ids in folds:
        for name, make in models.items():
            model = make()
            actual = test["rating"].to_numpy()
            if isinstance(model, ExplicitMF):
                predicted, seconds = _fit_explicit_mf(model, train, test, movie_ids)
            else:
                predicted, seconds = fit_surprise(model, train, test, rating_scale)
            results[name]["rmse"].append(rmse(predicted, actual))
            results[name]["mae"].append(mae(predicted, actual))
            results[name]["fit_seconds"].append(seconds)
            logger.info("%s %-52s RMSE %.4f  fit %.3f s", fold_name, name, results[name]["rmse"][-1], seconds)
    return results


def _fit_explicit_mf(model, train, test, movie_ids):
    from hybrid.ids import IdIndex

    users = IdIndex(np.unique(train["user_id"].to_numpy(dtype=np.int64)))
    movies = IdIndex(np.asarray(movie_ids, dtype=np.int64))
    matrix = to_matrix(train, users, movies)

    started = time.perf_counter()
    model.fit(matrix)
    seconds = time.perf_counter() - started

    user_index = users.indices_of(test["user_id"].to_numpy(dtype=np.int64))
    movie_index = movies.indices_of(test["movie_id"].to_numpy(dtype=np.int64))
    known = user_index >= 0
    predicted = np.empty(len(test), dtype=np.float64)
    predicted[known] = model.predict(user_index[known], movie_index[known])
    # A user absent from training gets the movie baseline, as on the server.
    baseline = model.score(np.zeros(model.user_factors_.shape[1] + 1, dtype=np.float32))
    predicted[~known] = baseline[movie_index[~known]]
    return predicted, seconds


# 2. Top-10 ranking ---------------------------------------------------------------------


def validation_folds(dataset, count, seed):
    from hybrid.splits import random_holdout

    # The same folds as hybrid.tuning.tune uses: 10% of each user's
    # training ratings, seeds seed, seed + 1, ...
    return [random_holdout(dataset.ratings, 0.1, random_state=seed + fold) for fold in range(count)]


def prepare_folds(folds, model):
    """Return (training matrix, relevant matrix of the users with held-out ratings, those users) of each fold."""
    prepared = []
    for fold in folds:
        train = to_matrix(fold.train, model.users, model.catalogue.movie_ids)
        relevant = to_matrix(fold.test, model.users, model.catalogue.movie_ids)
        users = np.flatnonzero(np.diff(relevant.indptr) > 0)
        prepared.append((train, relevant[users], users))
    return prepared


def tune_peer(label, make_peer, suggest, prepared, features, n_trials, seed, start=None, sampler=None):
    """Search a peer's settings with Optuna, by mean validation NDCG@10 over the folds; return (best settings, seconds)."""
    import optuna

    from hybrid.metrics import ranking_metrics

    def objective(trial):
        params = suggest(trial)
        values = []
        for train, relevant, users in prepared:
            peer = make_peer(**params).fit(train, features)
            values.append(ranking_metrics(rank_scores(peer.scores(users), train[users]), relevant, K).ndcg)
        return float(np.mean(values))

    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler or optuna.samplers.TPESampler(seed=seed))
    if start is not None:
        study.enqueue_trial(start)
    study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - started
    logger.info("%s: best validation NDCG@%d %.4f with %s (%.0f s)", label, K, study.best_value, study.best_params, seconds)
    return study.best_params, seconds


def suggest_als(trial):
    return {
        "regularization": trial.suggest_float("regularization", 0.01, 200.0, log=True),
        "alpha": trial.suggest_float("alpha", 0.05, 50.0, log=True),
        "iterations": trial.suggest_int("iterations", 5, 40),
        "weighting": trial.suggest_categorical("weighting", ["rating", "one_plus_rating", "binary", "bm25"]),
    }


def suggest_lightfm(trial):
    return {
        "no_components": trial.suggest_int("no_components", 32, 160, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
        "epochs": trial.suggest_int("epochs", 10, 60),
        "item_alpha": trial.suggest_float("item_alpha", 1e-8, 1e-4, log=True),
    }


def tune_hybrid(train, arguments):
    """Tune the hybrid's ALS, EASE, RP3beta and blend weights on validation folds of ``train``; return the result and seconds."""
    from hybrid.config import HybridConfig
    from hybrid.tuning import tune

    started = time.perf_counter()
    tuning = tune(
        train,
        HybridConfig(),
        components=("als", "ease", "rp3beta"),
        component_trials=arguments.component_trials,
        weight_trials=arguments.weight_trials,
        validation_folds=arguments.validation_folds,
        random_state=arguments.seed,
    )
    return tuning, time.perf_counter() - started


def ranking_benchmark(dataset, arguments):
    """Tune and fit every model on a 75/25 split's training ratings; rank the test users once per model."""
    import optuna

    from hybrid.config import HybridConfig
    from hybrid.evaluation import rank_known_users, relevant_items, single_component
    from hybrid.model import HybridRecommender
    from hybrid.splits import random_holdout

    seed = arguments.seed
    split = random_holdout(dataset.ratings, 0.25, random_state=seed)
    train = split.train_dataset(dataset)
    rows = []

    tuning, tune_seconds = tune_hybrid(train, arguments)

    hybrid = HybridRecommender(tuning.config).fit(train)
    users = np.unique(split.test["user_id"].to_numpy(dtype=np.int64))
    relevant = relevant_items(hybrid, split.test, users)
    n_items = len(hybrid.catalogue)
    fit_seconds = hybrid.info["training_seconds"]["total"]
    rows.append(ranking_row("hybrid (tuned)", rank_known_users(hybrid, users, K), relevant, n_items, fit_seconds, tune_seconds,
                            tuning.config.to_dict()))
    for component, step, label in (
        ("collaborative", "als", "hybrid's ALS alone"),
        ("ease", "ease", "hybrid's EASE alone"),
        ("rp3beta", "rp3beta", "hybrid's RP3beta alone"),
    ):
        seconds = hybrid.info["training_seconds"][step]
        rows.append(ranking_row(label, rank_known_users(hybrid, users, K, single_component(component)), relevant, n_items, seconds))

    defaults = HybridRecommender(HybridConfig()).fit(train)
    rows.append(ranking_row("hybrid (default configuration)", rank_known_users(defaults, users, K), relevant, n_items,
                            defaults.info["training_seconds"]["total"]))

    # The peers rank the same users over the same movie index.
    user_index = hybrid.users.indices_of(users)
    train_matrix = hybrid.user_items
    features = genre_features(hybrid.catalogue.genres)
    folds = validation_folds(train, arguments.validation_folds, seed)

    prepared = prepare_folds(folds, hybrid)
    peers = []

    def make_als(**params):
        return ImplicitALSPeer(factors=200, random_state=seed, **params)

    # The search starts from the settings of the product's tuned ALS, in
    # implicit's terms, so the peer is at least as well tuned.
    start = {"regularization": 18.5, "alpha": 0.42, "iterations": 22, "weighting": "one_plus_rating"}
    params, seconds = tune_peer("implicit ALS", make_als, suggest_als, prepared, None, arguments.peer_trials, seed, start)
    peers.append(("implicit ALS (200 factors, tuned)", make_als(**params), params, seconds))

    # EASE has one hyperparameter, so a log grid replaces the sampler.
    grid = [50.0, 100.0, 200.0, 300.0, 500.0, 800.0, 1200.0, 2000.0]
    params, seconds = tune_peer(
        "EASE", EASEPeer, lambda trial: {"regularization": trial.suggest_categorical("regularization", grid)},
        prepared, None, len(grid), seed, sampler=optuna.samplers.GridSampler({"regularization": grid}),
    )
    peers.append(("EASE (closed form, tuned lambda)", EASEPeer(**params), params, seconds))

    def make_lightfm(**params):
        return LightFMPeer(random_state=seed, **params)

    start = {"no_components": 64, "learning_rate": 0.05, "epochs": 30, "item_alpha": 1e-6}
    trials = max(arguments.peer_trials // 2, 1)
    params, seconds = tune_peer("LightFM", make_lightfm, suggest_lightfm, prepared, features, trials, seed, start)
    peers.append(("LightFM WARP + genres (tuned)", make_lightfm(**params), params, seconds))
    peers.append(("popularity", PopularityPeer(), {}, None))

    for label, peer, params, seconds in peers:
        started = time.perf_counter()
        peer.fit(train_matrix, features)
        fit = time.perf_counter() - started
        ranked = rank_scores(peer.scores(user_index), train_matrix[user_index])
        rows.append(ranking_row(label, ranked, relevant, n_items, fit, seconds, params))
    return {"split": split.name, "users": int(users.size), "test_ratings": len(split.test), "rows": rows,
            "tuning": {"seconds": tune_seconds, "start": tuning.start, "best": tuning.best}}


# 3. Cold start ------------------------------------------------------------------------


def cold_start_benchmark(dataset, arguments):
    """Tune the hybrid on a new-user split's training users; measure it and each component on the held-out users."""
    from hybrid.evaluation import evaluate_new_users, single_component
    from hybrid.model import HybridRecommender
    from hybrid.splits import new_user_split

    seed = arguments.seed
    split = new_user_split(dataset.ratings, 0.2, max_revealed=max(REVEALED), random_state=seed)
    train = split.train_dataset(dataset)

    tuning, tune_seconds = tune_hybrid(train, arguments)
    model = HybridRecommender(tuning.config).fit(train)

    rows = []
    for label, weights in (
        ("hybrid (tuned)", None),
        ("popularity", single_component("popularity")),
        ("content alone", single_component("content")),
        ("ALS fold-in alone", single_component("collaborative")),
        ("EASE alone", single_component("ease")),
        ("RP3beta alone", single_component("rp3beta")),
    ):
        for result in evaluate_new_users(model, split, revealed=REVEALED, k=K, weights=weights, label=label):
            rows.append({"model": label, "revealed": result.revealed, "ndcg": result.ndcg, "precision": result.precision,
                         "recall": result.recall, "map": result.map, "hit_rate": result.hit_rate, "rmse": result.rmse})
            logger.info("%-20s revealed %2d  NDCG@%d %.4f", label, result.revealed, K, result.ndcg)
    return {"split": split.name, "users": int(split.test["user_id"].nunique()), "rows": rows, "tune_seconds": tune_seconds,
            "config": tuning.config.to_dict()}


# Orchestration ---------------------------------------------------------------------------


def run_dataset(name, dataset, rating_folds, rating_protocol, arguments):
    logger.info("=== %s ===", name)
    started = time.perf_counter()
    scale = (float(dataset.rating_scale.minimum), float(dataset.rating_scale.maximum))
    result = {"name": name, "ratings": len(dataset.ratings), "users": int(dataset.ratings["user_id"].nunique()),
              "movies": len(dataset.movies), "rating_protocol": rating_protocol}
    result["rating"] = rating_benchmark(rating_folds, arguments.seed, scale)
    result["ranking"] = ranking_benchmark(dataset, arguments)
    result["cold_start"] = cold_start_benchmark(dataset, arguments)
    result["seconds"] = time.perf_counter() - started
    return result


def main(argv=None):
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("hybrid", "collaborative", "content", "implicit"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from hybrid.data import load_bundled, load_ml100k
    from hybrid.splits import ml100k_folds, random_holdout

    started = time.perf_counter()
    datasets = []
    if arguments.data is not None:
        full = load_ml100k(arguments.data)
        folds = [(split.name, split.train, split.test, train.movies["movie_id"]) for train, split in ml100k_folds(arguments.data)]
        datasets.append(run_dataset("ml-100k", full, folds, "canonical folds u1..u5, mean", arguments))
    else:
        logger.warning("ml-100k not found; pass --data to include it")
    if not arguments.skip_small:
        small = load_bundled()
        split = random_holdout(small.ratings, 0.2, random_state=arguments.seed)
        folds = [("80/20", split.train, split.test, small.movies["movie_id"])]
        datasets.append(run_dataset("ml-latest-small", small, folds, "per-user random 80/20 split", arguments))
    if not datasets:
        raise SystemExit("nothing to run: ml-100k was not found and --skip-small was given")

    results = {"machine": report.machine_description(), "arguments": _arguments_dict(arguments), "datasets": datasets,
               "seconds": time.perf_counter() - started}
    print(report.summary_text(results))
    if arguments.quick:
        logger.info("quick run: docs and README left unchanged")
        return results
    report.write_all(results, arguments.output, arguments.readme if str(arguments.readme) else None)
    return results


def _arguments_dict(arguments):
    return {name: str(value) if isinstance(value, pathlib.Path) else value for name, value in vars(arguments).items()}


if __name__ == "__main__":
    main()
