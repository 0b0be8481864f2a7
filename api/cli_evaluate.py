"""The ``evaluate`` and ``tune`` commands: offline measurement and weight tuning of a configuration."""

import json
import logging
from pathlib import Path

import click

from api import DEFAULT_MODEL_DIR, default_model_dir

logger = logging.getLogger(__name__)

SPLITS = ("random", "temporal", "new-user", "ml100k-folds")

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Data directory: ml-100k files (u.data, u.item, u.genre) or MovieLens CSV files "
    "(ratings.csv, movies.csv, optional tags.csv). Default: the bundled ml-latest-small.",
)
model_dir_option = click.option(
    "--model-dir",
    type=click.Path(file_okay=False),
    default=default_model_dir,
    show_default=f"$TRUE_RECOMMEND_MODEL_DIR or ./{DEFAULT_MODEL_DIR}",
    help="Model directory whose config.json is used (evaluate) or written (tune).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Configuration JSON to start from (default: MODEL_DIR/config.json if present, else the defaults).",
)


def _user_errors():
    from api.cli import _user_errors as errors

    return errors()


def parse_counts(context, parameter, text):
    """Parse a comma-separated list of positive integers such as ``1,3,5,10`` (a click callback)."""
    counts = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise click.BadParameter(f"expected positive integers separated by commas, got {text!r}")
        counts.append(int(part))
    return tuple(dict.fromkeys(counts))


def parse_components(context, parameter, text):
    """Parse a comma-separated list of tunable components; an empty text gives none (a click callback)."""
    from hybrid.tuning import TUNABLE_COMPONENTS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in TUNABLE_COMPONENTS]
    if unknown:
        raise click.BadParameter(f"unknown names {unknown}; expected some of {list(TUNABLE_COMPONENTS)}")
    return names


def _make_split(dataset, split, test_fraction, revealed, seed):
    from hybrid.splits import new_user_split, random_holdout, temporal_split

    if split == "random":
        return random_holdout(dataset.ratings, test_fraction, random_state=seed)
    if split == "temporal":
        return temporal_split(dataset.ratings, test_fraction)
    return new_user_split(dataset.ratings, test_fraction, max_revealed=max(revealed), random_state=seed)


@click.command()
@data_option
@click.option("--split", type=click.Choice(SPLITS), default="random", show_default=True, help="How ratings are split into training and test sets.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25, show_default=True,
              help="Share of each user's ratings (random), of all ratings (temporal) or of the users (new-user) held out for testing.")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Length of the ranked lists measured.")
@click.option("--revealed", default="1,3,5,10", show_default=True, callback=parse_counts, help="Numbers of ratings revealed per new user (new-user split).")
@click.option("--each-component", is_flag=True, help="Also measure each component ranking alone.")
@config_option
@model_dir_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random splits.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
def evaluate(data_dir, split, test_fraction, k, revealed, each_component, config_path, model_dir, seed, as_json):
    """Fit a configuration on a training split and measure it on the held-out ratings.

    Ratings: RMSE and MAE of the explicit MF. Rankings: precision, recall,
    NDCG, MAP and hit rate at k, and catalogue coverage, over the users with
    test ratings. Movies rated in training are never recommended.
    """
    from hybrid.evaluation import (
        evaluate_model,
        evaluate_new_users,
        format_table,
        load_data_dir,
        mean_evaluation,
        single_component,
    )
    from hybrid.model import HybridRecommender
    from hybrid.splits import ml100k_folds
    from hybrid.training import resolve_config

    try:
        config = resolve_config(model_dir, config_path)
        if split == "ml100k-folds":
            if data_dir is None or not (Path(data_dir) / "u1.base").is_file():
                raise ValueError("--split ml100k-folds needs --data pointing to an ml-100k directory with u1.base .. u5.test")
            folds = list(ml100k_folds(data_dir))
        else:
            dataset = load_data_dir(data_dir)
            chosen = _make_split(dataset, split, test_fraction, revealed, seed)
            folds = [(chosen.train_dataset(dataset), chosen)]
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None

    labels = {"hybrid": None}
    if each_component:
        from hybrid.blend import COMPONENTS

        labels.update({name: single_component(name) for name in COMPONENTS})

    results = {label: [] for label in labels}
    for train, chosen in folds:
        model = HybridRecommender(config).fit(train)
        fit_seconds = model.info["training_seconds"]["total"]
        for label, weights in labels.items():
            if chosen.revealed is not None:
                rows = evaluate_new_users(model, chosen, revealed=revealed, k=k, weights=weights, label=label)
            else:
                rows = [evaluate_model(model, chosen.test, k=k, weights=weights, label=label, split_name=chosen.name)]
            for row in rows:
                row.fit_seconds = fit_seconds
            results[label].extend(rows)

    rows = [row for label in labels for row in results[label]]
    if split == "ml100k-folds":
        rows += [mean_evaluation(results[label]) for label in labels]

    if as_json:
        click.echo(json.dumps({"data": folds[0][0].name, "split": split, "k": k, "results": [row.to_dict() for row in rows]}, indent=2))
    else:
        click.echo(format_table(rows))


@click.command()
@data_option
@config_option
@model_dir_option
@click.option("--components", default="als,ease,rp3beta", show_default=True, callback=parse_components,
              help="Components whose hyperparameters are searched before the weights (als, ease, rp3beta, mf); empty for weights only.")
@click.option("--component-trials", type=click.IntRange(0, 10000), default=20, show_default=True, help="Optuna trials per component.")
@click.option("--weight-trials", type=click.IntRange(1, 10000), default=60, show_default=True, help="Optuna trials per weight set (warm, cold).")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Cut-off of the NDCG@k that is maximized.")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1, show_default=True,
              help="Share of each user's ratings held out in each warm validation fold.")
@click.option("--validation-folds", type=click.IntRange(1, 10), default=2, show_default=True, help="Number of warm validation folds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the validation splits and of the samplers.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG of the weight search (default: MODEL_DIR/tuning.png).")
@click.option("--dry-run", is_flag=True, help="Report the search without writing MODEL_DIR/config.json; the plot is still drawn.")
@click.option("--json", "as_json", is_flag=True, help="Print the search as JSON instead of a table.")
def tune(data_dir, config_path, model_dir, components, component_trials, weight_trials, k, validation_fraction,
         validation_folds, seed, plot_path, dry_run, as_json):
    """Search blend weights and component hyperparameters on validation splits of the data.

    The validation splits are carved from the data given, so keep your own
    test set out of it. The chosen configuration is written to
    MODEL_DIR/config.json, which `true-recommend train` then uses.
    """
    from hybrid.bundle import CONFIG_FILE_NAME
    from hybrid.evaluation import load_data_dir
    from hybrid.training import resolve_config
    from hybrid.tuning import format_tuning, plot_tuning
    from hybrid.tuning import tune as run_tuning

    try:
        config = resolve_config(model_dir, config_path)
        dataset = load_data_dir(data_dir)
        result = run_tuning(
            dataset,
            config,
            components=components if component_trials > 0 else (),
            component_trials=component_trials,
            weight_trials=weight_trials,
            k=k,
            validation_fraction=validation_fraction,
            validation_folds=validation_folds,
            random_state=seed,
        )
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None

    model_dir = Path(model_dir)
    plot_path = Path(plot_path) if plot_path else model_dir / "tuning.png"
    if not dry_run:
        model_dir.mkdir(parents=True, exist_ok=True)
        result.config.save(model_dir / CONFIG_FILE_NAME)
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    plot_tuning(result, plot_path)

    if as_json:
        document = result.to_dict()
        document["plot"] = str(plot_path)
        document["config_path"] = None if dry_run else str(model_dir / CONFIG_FILE_NAME)
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(format_tuning(result))
    click.echo(f"plot of the weight search: {plot_path}")
    if dry_run:
        click.echo("dry run: no configuration written")
    else:
        click.echo(f"wrote the chosen configuration to {model_dir / CONFIG_FILE_NAME}; `true-recommend train --model-dir {model_dir}` uses it")
