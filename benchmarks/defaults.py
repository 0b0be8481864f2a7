"""Compare the default configuration with the settings it replaced, on validation data of each data set.

    python benchmarks/defaults.py [--data ../shared/data/ml-100k] [--config other.json ...]

For each data set (ml-100k when found, and the bundled ml-latest-small) and
each seed, it holds out 10% of each user's ratings (users with history) and
20% of the users with 1, 3, 5 and 10 revealed ratings (new users), fits
every configuration on the rest and prints the mean NDCG@10 of each. The
seeds differ from those ``true-recommend tune`` uses by default (0 and 1),
so these are not the splits the defaults were chosen on.
"""

import argparse
import pathlib
import sys

import numpy as np

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from benchmarks.quality import default_ml100k  # noqa: E402

# The defaults before tuning: ALS at the implicit library's usual scale,
# no EASE, and weights picked by hand.
PREVIOUS_DEFAULTS = {
    "als": {"factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    "blend": {
        "cold": {"collaborative": 0.25, "content": 0.45, "popularity": 0.3},
        "warm": {"collaborative": 0.75, "content": 0.1, "popularity": 0.15},
        "cold_max_ratings": 3,
        "warm_min_ratings": 20,
    },
}


def measure(dataset, configs, seeds):
    """Return {name: (NDCG@10 of users with history, NDCG@10 of new users)}, each the mean over the seeds."""
    from hybrid.evaluation import evaluate_model, evaluate_new_users
    from hybrid.model import HybridRecommender
    from hybrid.splits import new_user_split, random_holdout

    warm = {name: [] for name in configs}
    cold = {name: [] for name in configs}
    for seed in seeds:
        holdout = random_holdout(dataset.ratings, 0.1, random_state=seed)
        new_users = new_user_split(dataset.ratings, 0.2, random_state=seed)
        for name, config in configs.items():
            model = HybridRecommender(config).fit(holdout.train_dataset(dataset))
            warm[name].append(evaluate_model(model, holdout.test).ndcg)
            model = HybridRecommender(config).fit(new_users.train_dataset(dataset))
            cold[name].append(np.mean([result.ndcg for result in evaluate_new_users(model, new_users)]))
    return {name: (float(np.mean(warm[name])), float(np.mean(cold[name]))) for name in configs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=default_ml100k(), help="ml-100k directory (default: ../shared/data/ml-100k when present).")
    parser.add_argument("--config", type=pathlib.Path, action="append", default=[], help="Another configuration JSON to compare.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101], help="Seeds of the validation splits.")
    arguments = parser.parse_args(argv)

    from hybrid.config import HybridConfig
    from hybrid.data import load_bundled, load_ml100k

    configs = {"defaults": HybridConfig(), "previous defaults": HybridConfig.from_dict(PREVIOUS_DEFAULTS)}
    configs.update({path.name: HybridConfig.load(path) for path in arguments.config})
    datasets = [load_ml100k(arguments.data)] if arguments.data is not None else []
    datasets.append(load_bundled())

    print(f"NDCG@10 on validation splits, mean over seeds {arguments.seeds}")
    print("| data set | configuration | users with history | new users (1, 3, 5, 10 revealed) |")
    print("| --- | --- | --- | --- |")
    for dataset in datasets:
        for name, (warm, cold) in measure(dataset, configs, arguments.seeds).items():
            print(f"| {dataset.name} | {name} | {warm:.4f} | {cold:.4f} |", flush=True)


if __name__ == "__main__":
    main()
