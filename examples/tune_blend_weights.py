"""Tune the warm blend weights for your own objective with the Python API.

``true-recommend tune`` maximizes NDCG@10. This script shows the building
blocks it uses, so that you can search for something else: here NDCG@10
plus a bonus for catalogue coverage, so that the chosen weights do not
recommend the same few hits to everyone.

    python examples/tune_blend_weights.py --data path/to/ml-100k --trials 50 --output config.json
    true-recommend train --config config.json

The steps:

1. Hold out 10% of each user's ratings as a validation set (never your test set).
2. Fit a model on the rest with the configuration you start from.
3. Build a ``BlendEvaluator``: it scores every component once, so each trial
   only re-blends and re-ranks.
4. Let Optuna search the weights; every trial is one ``evaluate`` call.
5. Save the configuration with the best weights for ``train``.
"""

import argparse
import dataclasses

import optuna

from hybrid import BlendWeights, HybridConfig, HybridRecommender
from hybrid.blend import COMPONENTS
from hybrid.evaluation import load_data_dir
from hybrid.metrics import catalogue_coverage, ranking_metrics
from hybrid.splits import random_holdout
from hybrid.tuning import warm_evaluator


def main():
    parser = argparse.ArgumentParser(description="Search warm blend weights for NDCG@10 plus a coverage bonus.")
    parser.add_argument("--data", help="ml-100k or MovieLens CSV directory (default: the bundled ml-latest-small)")
    parser.add_argument("--config", help="configuration JSON to start from (default: the defaults)")
    parser.add_argument("--trials", type=int, default=50, help="number of Optuna trials")
    parser.add_argument("--coverage-bonus", type=float, default=0.05, help="weight of catalogue coverage in the objective")
    parser.add_argument("--output", default="config.json", help="where to write the chosen configuration")
    arguments = parser.parse_args()

    data = load_data_dir(arguments.data)
    config = HybridConfig.load(arguments.config) if arguments.config else HybridConfig()

    validation = random_holdout(data.ratings, 0.1, random_state=0)
    model = HybridRecommender(config).fit(validation.train_dataset(data))
    evaluator = warm_evaluator(model, validation.test, k=10)
    n_movies = len(model.catalogue)

    def weights_of(trial):
        warm = {name: trial.suggest_float(name, 0.0, 1.0) for name in COMPONENTS}
        if not any(warm.values()):
            warm["collaborative"] = 1.0
        return BlendWeights(**{**config.blend.to_dict(), "warm": warm})

    def objective(trial):
        weights = weights_of(trial)
        ranked = evaluator.rank(weights)
        ndcg = ranking_metrics(ranked, evaluator.relevant, evaluator.k).ndcg
        coverage = catalogue_coverage(ranked, n_movies)
        trial.set_user_attr("ndcg", ndcg)
        trial.set_user_attr("coverage", coverage)
        return ndcg + arguments.coverage_bonus * coverage

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=arguments.trials)

    best = study.best_trial
    chosen = dataclasses.replace(config, blend=weights_of(optuna.trial.FixedTrial(best.params)))
    chosen.save(arguments.output)
    print(f"best objective {best.value:.4f}: NDCG@10 {best.user_attrs['ndcg']:.4f}, coverage {best.user_attrs['coverage']:.4f}")
    print(f"warm weights {chosen.blend.warm}")
    print(f"wrote {arguments.output}; train with: true-recommend train --config {arguments.output}")


if __name__ == "__main__":
    main()
