"""Offline tuning of component hyperparameters and blend weights with Optuna.

Everything is measured on validation splits carved from the data passed
in, so a test set kept apart by the caller is never looked at:

1. A per-user random holdout of the data (the "warm" validation split)
   and a new-user split (the "cold" one: held-out users with 1, 3 or 5
   revealed ratings).
2. Component stage: for each trial, each tuned component is refitted
   alone (``HybridRecommender.fit_component``) and ranks the warm split by
   itself. The explicit MF is scored by RMSE instead.
3. Blend stage: with the chosen components, the warm weights are searched
   on the warm split, then the cold weights and the rating counts where
   cold turns warm on the cold split. A `BlendEvaluator` scores every
   component once, so a trial only re-blends and re-ranks.

Both stages use Optuna's TPE sampler (Bergstra et al., "Algorithms for
Hyper-Parameter Optimization", NeurIPS 2011). The configuration the search
started from is always the first trial, so the result is never worse on
validation than the starting point.

For a search of your own, build a `BlendEvaluator` and call its
``evaluate(weights)`` from any optimizer; ``examples/tune_blend_weights.py``
shows one.
"""

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import optuna
import scipy.sparse as sp

from hybrid.blend import COMPONENTS, BlendWeights, blend_many, standardize_many, top_n_many
from hybrid.config import HybridConfig
from hybrid.evaluation import evaluate_new_users, predict_known_users, ratings_matrix, relevant_items, single_component
from hybrid.metrics import ranking_metrics, rmse
from hybrid.model import HybridRecommender
from hybrid.splits import new_user_split, random_holdout

logger = logging.getLogger(__name__)

# Components whose hyperparameters the component stage can search, and the
# blend component that ranks by each of them alone.
TUNABLE_COMPONENTS = {"als": "collaborative", "ease": "ease", "rp3beta": "rp3beta", "mf": "rating"}

# Components scored on the cold validation split instead of the warm one.
# RP3beta is there for new users: on ml-100k, the settings that rank warm
# users best by RP3beta alone (beta near 0.5) ranked new users with one
# rating 22% worse than beta = 0 did (NDCG@10 0.436 against 0.557), while
# ALS and EASE lead the warm blend anyway.
#
# RP3beta's beta pushes popular movies down and the popularity component
# pulls them up, so the two are searched together: each trial scores
# RP3beta blended with popularity at a searched share ("popularity_share").
# In benchmarks/quality.py's cold-start run on ml-100k, searched alone,
# RP3beta chose beta = 0.04 and the tuned blend reached NDCG@10 0.604 for
# new users with 5 ratings; searched with popularity, it chose beta = 0.28
# and the blend reached 0.618, at 0.551 instead of 0.553 with 1 rating.
COLD_TUNED_COMPONENTS = ("rp3beta",)
POPULARITY_SHARE = "popularity_share"


# The hyperparameters searched for each component: (type, low, high, log scale).
# ALS factors stop at 128 because serving cost grows fast with them (a
# fold-in or an explanation solves a factors x factors system), while on
# ml-100k ALS ranked as well with 100 factors as with 200 (NDCG@10 0.4894
# and 0.4896 on one 75/25 split).
SEARCH_SPACES = {
    "als": {
        "factors": (int, 32, 128, True),
        "regularization": (float, 0.01, 200.0, True),
        "alpha": (float, 0.05, 20.0, True),
        "iterations": (int, 5, 30, False),
    },
    "ease": {
        "regularization": (float, 10.0, 5000.0, True),
        "rating_exponent": (float, 0.0, 1.0, False),
    },
    "rp3beta": {
        "alpha": (float, 0.3, 1.5, False),
        "beta": (float, 0.0, 1.0, False),
        "neighbours": (int, 20, 1000, True),
    },
    "mf": {
        "regularization": (float, 0.01, 0.2, True),
        "learning_rate": (float, 0.002, 0.03, True),
    },
}


def _distribution(kind, low, high, log):
    if kind is int:
        return optuna.distributions.IntDistribution(low, high, log=log)
    return optuna.distributions.FloatDistribution(low, high, log=log)


def suggest_params(trial, name, current):
    """Return a trial's hyperparameters for component ``name``: ``current`` with the searched ones replaced."""
    if name not in SEARCH_SPACES:
        raise ValueError(f"cannot tune component {name!r}; expected one of {sorted(SEARCH_SPACES)}")
    params = dict(current)
    for key, (kind, low, high, log) in SEARCH_SPACES[name].items():
        if kind is int:
            params[key] = trial.suggest_int(key, low, high, log=log)
        else:
            params[key] = trial.suggest_float(key, low, high, log=log)
    return params


def _add_start(study, name, params, value):
    """Tell the sampler the value of the starting setting, when that setting lies inside the search space."""
    values = {}
    for key, (kind, low, high, _) in SEARCH_SPACES[name].items():
        value_of_key = params.get(key)
        if not isinstance(value_of_key, (int, float)) or isinstance(value_of_key, bool) or not low <= value_of_key <= high:
            logger.debug("the starting %s.%s=%r is outside the search space; the sampler starts without it", name, key, value_of_key)
            return
        values[key] = kind(value_of_key)
    distributions = {key: _distribution(*space) for key, space in SEARCH_SPACES[name].items()}
    study.add_trial(optuna.trial.create_trial(params=values, distributions=distributions, value=value))


class BlendEvaluator:
    """Ranking quality of blend weights on fixed users, fast enough to call in a search loop.

    Every component's scores are computed and standardized once, in the
    constructor; ``evaluate`` then only blends, ranks and measures. Its
    rankings equal those of ``model.recommend_many`` with the same weights.

    Parameters
    ----------
    model : HybridRecommender
        A fitted model.
    user_items : scipy.sparse matrix of shape (n_users, n_movies)
        Each user's ratings known to the model: their training rows, or the
        revealed ratings of new users.
    relevant : scipy.sparse matrix of shape (n_users, n_movies)
        Each user's held-out relevant movies.
    user_indices : array-like of int, optional
        Training rows of the users; None folds every user in.
    k : int
        Cut-off of the ranking metrics.
    components : iterable of str
        Components to score; weights of the others are ignored.

    Notes
    -----
    Memory is 4 bytes x users x movies per component; pass fewer users to
    bound it on a large catalogue.
    """

    def __init__(self, model, user_items, relevant, *, user_indices=None, k=10, components=COMPONENTS):
        self.k = k
        self.relevant = sp.csr_matrix(relevant)
        user_items = sp.csr_matrix(user_items, dtype=np.float32)
        self.counts = np.diff(user_items.indptr)

        self.candidates = np.ones(user_items.shape, dtype=bool)
        rows = np.repeat(np.arange(user_items.shape[0]), self.counts)
        self.candidates[rows, user_items.indices] = False

        scores = model.component_scores_many(user_items, user_indices, tuple(components))
        self.parts = {name: standardize_many(values, self.candidates) for name, values in scores.items()}
        self.fallback = model.popularity.ranking()[:k]

    def rank(self, weights):
        """Return the top-k movie indices of each user under ``weights`` (a BlendWeights)."""
        ranked = top_n_many(blend_many(self.parts, weights.for_counts(self.counts)), self.candidates, self.k)
        without_ratings = self.counts == 0
        ranked[without_ratings] = -1
        ranked[without_ratings, : self.fallback.size] = self.fallback
        return ranked

    def evaluate(self, weights):
        """Return the ``RankingResult`` of ``weights`` on these users."""
        return ranking_metrics(self.rank(weights), self.relevant, self.k)


@dataclass
class Trial:
    """One evaluated setting: the component or weight set it belongs to, its parameters and its score."""

    stage: str
    params: dict
    value: float


@dataclass
class TuningResult:
    """The configuration chosen by ``tune`` and every trial that led to it.

    ``metric`` names what ``value`` measures in each stage: NDCG@k for
    rankings (higher is better) and RMSE for the explicit MF (lower is
    better). ``start`` is the value of the starting configuration in each
    stage and ``best`` the value of the chosen one.
    """

    config: HybridConfig
    trials: list = field(default_factory=list)
    start: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    metric: dict = field(default_factory=dict)
    seconds: float = 0.0

    def stage_trials(self, stage):
        return [trial for trial in self.trials if trial.stage == stage]

    def to_dict(self):
        return {
            "config": self.config.to_dict(),
            "start": self.start,
            "best": self.best,
            "metric": self.metric,
            "seconds": round(self.seconds, 2),
            "trials": [dataclasses.asdict(trial) for trial in self.trials],
        }


def _ranking_users(model, frame):
    """Return the sorted user ids of ``frame`` with their training rows (all must be known)."""
    users = np.unique(frame["user_id"].to_numpy(dtype=np.int64))
    indices = model.users.indices_of(users)
    known = indices >= 0
    return users[known], indices[known]


def warm_evaluator(model, test, *, k=10, components=COMPONENTS):
    """Return a BlendEvaluator over the test users of a holdout split, from the model's training rows."""
    users, indices = _ranking_users(model, test)
    relevant = relevant_items(model, test[test["user_id"].isin(users)], users)
    return BlendEvaluator(model, model.user_items[indices], relevant, user_indices=indices, k=k, components=components)


def cold_evaluators(model, split, revealed, *, k=10, components=COMPONENTS):
    """Return one BlendEvaluator per number of revealed ratings of a new-user split."""
    users = np.unique(split.test["user_id"].to_numpy(dtype=np.int64))
    relevant = relevant_items(model, split.test, users)
    return {
        count: BlendEvaluator(model, ratings_matrix(model, split.revealed_ratings(count), users), relevant, k=k, components=components)
        for count in revealed
    }


def _weights_from_trial(trial, prefix):
    return {name: trial.suggest_float(f"{prefix}.{name}", 0.0, 1.0) for name in COMPONENTS}


def _normalized(weights):
    total = sum(weights.values())
    return {name: round(value / total, 4) for name, value in weights.items()} if total > 0 else dict(weights)


def _study(seed, show_progress):
    optuna.logging.set_verbosity(optuna.logging.INFO if show_progress else optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))


def tune_component(folds, name, *, n_trials=20, k=10, cold=None, random_state=0, show_progress=False):
    """Search the hyperparameters of one component on validation data and refit it with the best.

    Parameters
    ----------
    folds : list of (HybridRecommender, pandas.DataFrame)
        Models fitted on each fold's training ratings, with that fold's
        held-out ratings. Every trial refits the component in each model
        and scores the mean over the folds: NDCG@k of the component ranking
        alone, or minus the RMSE for the explicit MF.
    cold : tuple of (HybridRecommender, Split, tuple of int), optional
        A model fitted on a new-user split's training users, the split and
        the numbers of revealed ratings. Components of
        ``COLD_TUNED_COMPONENTS`` are then scored by the mean NDCG@k over
        those numbers of their blend with popularity. The share of
        popularity is searched too and reported as ``popularity_share`` in
        the trials. The chosen setting is also refitted in this model.

    Returns
    -------
    trials : list of Trial
        The starting setting first.
    best : float
    """
    if name not in TUNABLE_COMPONENTS:
        raise ValueError(f"cannot tune component {name!r}; expected one of {sorted(TUNABLE_COMPONENTS)}")
    start_params = dict(getattr(folds[0][0].config, name))
    only = single_component(TUNABLE_COMPONENTS[name])
    targets = []
    for model, test in folds:
        users, indices = _ranking_users(model, test)
        targets.append((model, test, indices, relevant_items(model, test[test["user_id"].isin(users)], users)))
    scored_cold = cold is not None and name in COLD_TUNED_COMPONENTS

    def measure(params, popularity_share=None):
        if scored_cold:
            cold_model, split, revealed = cold
            cold_model.fit_component(name, params)
            component = TUNABLE_COMPONENTS[name]
            shares = {component: 1.0 - popularity_share, "popularity": popularity_share}
            weights = BlendWeights(cold=shares, warm=shares)
            return float(np.mean([result.ndcg for result in evaluate_new_users(cold_model, split, revealed=revealed, k=k, weights=weights)]))
        values = []
        for model, test, indices, relevant in targets:
            model.fit_component(name, params)
            if name == "mf":
                # Maximized, so the RMSE enters with its sign flipped.
                values.append(-rmse(predict_known_users(model, test), test["rating"].to_numpy()))
            else:
                ranked = model.recommend_many(model.user_items[indices], k, user_indices=indices, weights=only)
                values.append(ranking_metrics(ranked, relevant, k).ndcg)
        return float(np.mean(values))

    if scored_cold:
        start_share = 0.5
        trials = [Trial(name, {**start_params, POPULARITY_SHARE: start_share}, measure(start_params, start_share))]
    else:
        trials = [Trial(name, start_params, measure(start_params))]

    def objective(trial):
        params = suggest_params(trial, name, start_params)
        if scored_cold:
            share = trial.suggest_float(POPULARITY_SHARE, 0.0, 1.0)
            value = measure(params, share)
            trials.append(Trial(name, {**params, POPULARITY_SHARE: share}, value))
        else:
            value = measure(params)
            trials.append(Trial(name, params, value))
        return value

    study = _study(random_state, show_progress)
    if not scored_cold:
        # A cold-tuned start lacks the share's distribution; it stays a candidate.
        fitted_params = getattr(folds[0][0], name).get_params()
        _add_start(study, name, {**fitted_params, **start_params}, trials[0].value)
    study.optimize(objective, n_trials=n_trials, show_progress_bar=show_progress)

    best = max(trials, key=lambda trial: trial.value)
    best_params = {key: value for key, value in best.params.items() if key != POPULARITY_SHARE}
    for model, _ in folds:
        model.fit_component(name, best_params)
    if scored_cold:
        cold[0].fit_component(name, best_params)
    metric = component_metric(name, k, cold[2] if scored_cold else None)
    logger.info("%s: best %s %.4f (start %.4f) with %s", name, metric, best.value, trials[0].value, best.params)
    return trials, best.value


def component_metric(name, k, cold_revealed=None):
    """Name what ``tune_component`` scores a component by."""
    if name == "mf":
        return "-RMSE"
    if cold_revealed is not None and name in COLD_TUNED_COMPONENTS:
        return f"NDCG@{k} of new users blended with popularity, mean over {list(cold_revealed)} revealed ratings"
    return f"NDCG@{k}"


def tune_weights(evaluators, start, *, n_trials=60, prefix="warm", search_thresholds=False, random_state=0, show_progress=False):
    """Search one weight set of BlendWeights to maximize the mean NDCG over ``evaluators``.

    Parameters
    ----------
    evaluators : list of BlendEvaluator
    start : BlendWeights
        Where the search starts; the weight set not searched is kept from it.
    prefix : {"cold", "warm"}
        The weight set searched.
    search_thresholds : bool
        Search ``cold_max_ratings`` (0 to 5) and ``warm_min_ratings`` (up
        to 40) as well.

    Returns
    -------
    best : BlendWeights
    trials : list of Trial
        The starting point first. Weights are reported as shares of their sum.
    """
    if prefix not in ("cold", "warm"):
        raise ValueError(f"prefix must be 'cold' or 'warm', got {prefix!r}")

    def weights_of(values, thresholds):
        # Only shares matter to the blend, so the weights are stored as shares.
        settings = start.to_dict()
        total = sum(values.values())
        settings[prefix] = {name: value / total for name, value in values.items() if value > 0}
        settings.update(thresholds)
        return BlendWeights(**settings)

    def measure(weights):
        return float(np.mean([evaluator.evaluate(weights).ndcg for evaluator in evaluators]))

    start_values = {name: float(getattr(start, prefix).get(name, 0.0)) for name in COMPONENTS}
    start_thresholds = {"cold_max_ratings": start.cold_max_ratings, "warm_min_ratings": start.warm_min_ratings}
    trials = [Trial(prefix, {**_normalized(start_values), **(start_thresholds if search_thresholds else {})}, measure(start))]
    chosen = {0: start}

    def objective(trial):
        values = _weights_from_trial(trial, prefix)
        if not any(values.values()):
            return 0.0
        thresholds = {}
        if search_thresholds:
            cold_max = trial.suggest_int("cold_max_ratings", 0, 5)
            thresholds = {"cold_max_ratings": cold_max, "warm_min_ratings": trial.suggest_int("warm_min_ratings", cold_max + 1, 40)}
        weights = weights_of(values, thresholds)
        value = measure(weights)
        chosen[len(trials)] = weights
        trials.append(Trial(prefix, {**_normalized(values), **thresholds}, value))
        return value

    # The sampler learns from the starting point as from any trial; its
    # weights are scaled into the search range [0, 1] first, which keeps
    # their shares. With thresholds searched, the starting point is only
    # kept as a candidate, because the range of warm_min_ratings depends on
    # cold_max_ratings.
    study = _study(random_state, show_progress)
    if not search_thresholds:
        largest = max(start_values.values())
        study.add_trial(
            optuna.trial.create_trial(
                params={f"{prefix}.{name}": value / largest for name, value in start_values.items()},
                distributions={f"{prefix}.{name}": optuna.distributions.FloatDistribution(0.0, 1.0) for name in COMPONENTS},
                value=trials[0].value,
            )
        )
    study.optimize(objective, n_trials=n_trials, show_progress_bar=show_progress)

    best = int(np.argmax([trial.value for trial in trials]))
    return chosen[best], trials


def tune(
    dataset,
    config=None,
    *,
    components=("als", "ease", "rp3beta"),
    component_trials=20,
    weight_trials=60,
    k=10,
    validation_fraction=0.1,
    validation_folds=2,
    new_user_fraction=0.2,
    cold_revealed=(1, 3, 5),
    random_state=0,
    show_progress=False,
):
    """Tune ``config`` on validation splits of ``dataset`` and return a TuningResult.

    Parameters
    ----------
    dataset : hybrid.data.Dataset
        The training data; validation splits are carved from it.
    config : HybridConfig, optional
        Starting configuration (the defaults when omitted).
    components : iterable of str
        Components whose hyperparameters are searched, from ``"als"``,
        ``"ease"``, ``"rp3beta"`` and ``"mf"``; empty to tune the blend
        weights only.
    component_trials, weight_trials : int
        Optuna trials per component and per weight set.
    k : int
        Cut-off of NDCG@k.
    validation_fraction : float
        Share of each user's ratings held out in each warm validation fold.
        A small share keeps the fitted models close to one fitted on all
        of ``dataset``. On ml-100k, three ALS settings ranked by a 25%
        holdout came out in the opposite order on the real test set. Ranked
        by a 10% holdout, they came out in the same order.
    validation_folds : int
        Number of warm validation folds, each a random holdout with its own
        seed; every trial is scored by the mean over them, which lowers the
        noise of a small holdout.
    new_user_fraction : float
        Share of the users held out for the cold validation split.
    cold_revealed : tuple of int
        Numbers of revealed ratings that the cold weights and the rating
        counts where cold turns warm are scored on, by their mean NDCG@k.
        The default covers new users with up to 5 ratings; adding 10 to it
        on ml-100k and ml-latest-small traded their NDCG at 1 rating, which
        then fell below popularity's, for a gain at 10.
    random_state : int
        Seed of the splits and of the samplers.
    """
    started = time.perf_counter()
    config = config if config is not None else HybridConfig()
    unknown = sorted(set(components) - set(TUNABLE_COMPONENTS))
    if unknown:
        raise ValueError(f"cannot tune components {unknown}; expected some of {sorted(TUNABLE_COMPONENTS)}")
    if isinstance(validation_folds, bool) or not isinstance(validation_folds, int) or validation_folds < 1:
        raise ValueError(f"validation_folds must be a positive integer, got {validation_folds!r}")
    result = TuningResult(config=config)

    warm = [
        random_holdout(dataset.ratings, validation_fraction, random_state=random_state + fold, name=f"validation {fold + 1}")
        for fold in range(validation_folds)
    ]
    cold = new_user_split(
        dataset.ratings, new_user_fraction, max_revealed=max(cold_revealed), random_state=random_state, name="cold validation"
    )

    logger.info(
        "tuning on %s: %d warm validation folds of %d ratings, a cold split of %d held-out users",
        dataset.name,
        validation_folds,
        len(warm[0].test),
        cold.test["user_id"].nunique(),
    )
    folds = [(HybridRecommender(config).fit(split.train_dataset(dataset)), split.test) for split in warm]
    cold_target = None
    if any(name in COLD_TUNED_COMPONENTS for name in components):
        cold_target = (HybridRecommender(config).fit(cold.train_dataset(dataset)), cold, tuple(cold_revealed))
    for name in components:
        trials, best = tune_component(
            folds, name, n_trials=component_trials, k=k, cold=cold_target, random_state=random_state, show_progress=show_progress
        )
        result.trials.extend(trials)
        result.start[name], result.best[name] = trials[0].value, best
        result.metric[name] = component_metric(name, k, cold_revealed if cold_target else None)
    config = folds[0][0].config

    warm_weights, trials = tune_weights(
        [warm_evaluator(model, test, k=k) for model, test in folds],
        config.blend,
        n_trials=weight_trials,
        prefix="warm",
        random_state=random_state,
        show_progress=show_progress,
    )
    result.trials.extend(trials)
    result.start["warm"], result.best["warm"] = trials[0].value, max(trial.value for trial in trials)
    result.metric["warm"] = f"NDCG@{k}"

    cold_model = HybridRecommender(config).fit(cold.train_dataset(dataset))
    blend, trials = tune_weights(
        list(cold_evaluators(cold_model, cold, cold_revealed, k=k).values()),
        warm_weights,
        n_trials=weight_trials,
        prefix="cold",
        search_thresholds=True,
        random_state=random_state,
        show_progress=show_progress,
    )
    result.trials.extend(trials)
    result.start["cold"], result.best["cold"] = trials[0].value, max(trial.value for trial in trials)
    result.metric["cold"] = f"NDCG@{k}, mean over {list(cold_revealed)} revealed ratings"

    result.config = dataclasses.replace(config, blend=blend)
    result.seconds = time.perf_counter() - started
    return result


def format_tuning(result, top=5):
    """Return a TuningResult as plain text: each stage's start, best and top trials."""
    lines = []
    stages = list(dict.fromkeys(trial.stage for trial in result.trials))
    for stage in stages:
        trials = result.stage_trials(stage)
        ranked = sorted(trials[1:], key=lambda trial: trial.value, reverse=True)[:top]
        lines.append(f"{stage}: {result.metric.get(stage, 'value')}, {len(trials) - 1} trials; start {trials[0].value:.4f}, best {result.best.get(stage, trials[0].value):.4f}")
        lines.append(f"  {'value':>8}  parameters")
        lines.append(f"  {trials[0].value:>8.4f}  {_describe(trials[0].params)} (start)")
        for trial in ranked:
            lines.append(f"  {trial.value:>8.4f}  {_describe(trial.params)}")
    lines.append(f"chosen blend: cold {result.config.blend.cold}, warm {result.config.blend.warm}")
    lines.append(f"tuning took {result.seconds:.1f} s")
    return "\n".join(lines)


def _describe(params):
    return ", ".join(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}" for name, value in params.items())


def plot_tuning(result, path):
    """Draw the metric of every weight trial against each component's share of the weights and save a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [stage for stage in ("cold", "warm") if result.stage_trials(stage)]
    if not stages:
        raise ValueError("the tuning result contains no weight trials to plot")
    figure, axes = plt.subplots(len(stages), len(COMPONENTS), figsize=(3.2 * len(COMPONENTS), 2.8 * len(stages)), squeeze=False, sharey="row")
    for row, stage in enumerate(stages):
        trials = result.stage_trials(stage)
        values = np.array([trial.value for trial in trials])
        best = int(np.argmax(values))
        for column, name in enumerate(COMPONENTS):
            shares = np.array([trial.params.get(name, 0.0) for trial in trials])
            axis = axes[row][column]
            axis.scatter(shares, values, s=12, alpha=0.6, label="trial")
            axis.scatter(shares[:1], values[:1], s=40, marker="s", color="tab:gray", label="start")
            axis.scatter(shares[best : best + 1], values[best : best + 1], s=60, marker="*", color="tab:red", label="best")
            axis.set_xlabel(f"{name} share")
            if column == 0:
                axis.set_ylabel(f"{stage}: {result.metric.get(stage, 'value')}".split(",")[0])
            axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    figure.suptitle("Blend weight search: validation metric against each component's share of the weights")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
