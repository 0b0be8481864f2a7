"""The ``true-recommend`` command line: train, serve and a quick look at recommendations."""

import logging
import os
import sys

import click

from api import DEFAULT_MODEL_DIR, default_model_dir
from api.cli_evaluate import evaluate, tune
from api.generate import generate
from api.lifecycle import retrain, rollback

logger = logging.getLogger(__name__)

model_dir_option = click.option(
    "--model-dir",
    type=click.Path(file_okay=False),
    default=default_model_dir,
    show_default=f"$TRUE_RECOMMEND_MODEL_DIR or ./{DEFAULT_MODEL_DIR}",
    help="Directory of model versions.",
)


def _user_errors():
    """Exceptions that stem from the user's input and deserve a one-line message, not a traceback."""
    from hybrid.bundle import BundleError
    from hybrid.data import DataError

    return (DataError, BundleError, ValueError, FileNotFoundError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Logging verbosity.",
)
@click.version_option(package_name="true-recommend")
def cli(log_level):
    """Hybrid movie recommender: train a model, serve it over HTTP, look at its recommendations."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@cli.command()
@click.option("--ratings", help="MovieLens ratings.csv (default: bundled data). With --engine spark, any CSV or Parquet path or URL that Spark can read.")
@click.option("--movies", type=click.Path(exists=True, dir_okay=False), help="MovieLens movies.csv (default: bundled data).")
@click.option("--tags", type=click.Path(exists=True, dir_okay=False), help="MovieLens tags.csv (optional).")
@model_dir_option
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Configuration JSON (default: MODEL_DIR/config.json if present).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
@click.option(
    "--engine",
    type=click.Choice(["single-machine", "spark"]),
    default="single-machine",
    show_default=True,
    help="Train the collaborative models in this process, or with Spark MLlib's ALS (needs the [spark] extra and Java 17+).",
)
@click.option("--spark-master", metavar="URL", help="Spark master, e.g. spark://host:7077, yarn or local[4] (default: spark-submit's, else local[*]).")
@click.option("--spark-conf", multiple=True, metavar="KEY=VALUE", help="Spark property, e.g. spark.driver.memory=8g; repeatable.")
@click.option(
    "--ratings-format",
    type=click.Choice(["auto", "csv", "parquet"]),
    default="auto",
    show_default=True,
    help="Format of --ratings with --engine spark; auto reads Parquet for a path ending in .parquet.",
)
def train(ratings, movies, tags, model_dir, config_path, progress, engine, spark_master, spark_conf, ratings_format):
    """Train a model and publish it as a new version in MODEL_DIR."""
    from hybrid.training import data_source, load_source, resolve_config, train_and_save

    if engine != "spark" and (spark_master or spark_conf or ratings_format != "auto"):
        raise click.UsageError("--spark-master, --spark-conf and --ratings-format need --engine spark")
    try:
        config = resolve_config(model_dir, config_path)
        if engine == "spark":
            model = _train_on_spark(ratings, movies, tags, config, spark_master, spark_conf, ratings_format, progress)
            model.save(model_dir)
        else:
            source = data_source(ratings, movies, tags)
            dataset = load_source(source)
            model = train_and_save(dataset, model_dir, config, show_progress=progress, source=source)
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None

    seconds = model.info["training_seconds"]["total"]
    click.echo(f"trained version {model.info['version']} in {seconds:.1f} s; saved in {model_dir}")


def _train_on_spark(ratings, movies, tags, config, master, conf_pairs, ratings_format, progress):
    """Train with the Spark engine, turning a missing PySpark or Java into a one-line error."""
    from hybrid.spark_training import SparkOptions, SparkUnavailableError, train_with_spark

    conf = {}
    for pair in conf_pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--spark-conf'")
        conf[key] = value
    options = SparkOptions(master=master, conf=conf, ratings_format=ratings_format)
    try:
        return train_with_spark(ratings, movies, tags, config=config, options=options, show_progress=progress)
    except SparkUnavailableError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory of model versions.  [default: model_dir of the configuration file, else $TRUE_RECOMMEND_MODEL_DIR, else ./model]",
)
@click.option(
    "--config-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TOML file of server settings (token, limits, reload interval).  [default: $TRUE_RECOMMEND_CONFIG_FILE]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Number of gunicorn worker processes.")
@click.option(
    "--timeout",
    default=10,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds a worker may spend on one request before it is killed and replaced; also the time old workers get to finish on a reload.",
)
@click.option(
    "--read-timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 3600, min_open=True),
    help="Seconds a client has to send its request head (408 after that), and at most between two reads of its body; below --timeout.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request to stderr.")
@click.option(
    "--database",
    envvar="TRUE_RECOMMEND_DATABASE",
    default=None,
    show_default="$TRUE_RECOMMEND_DATABASE or sqlite:///MODEL_DIR/ratings.sqlite3",
    help="URL of the ratings store: sqlite:///PATH or postgresql://USER@HOST/DATABASE.",
)
def serve(model_dir, config_file, host, port, workers, timeout, read_timeout, access_log, database):
    """Serve the published model of MODEL_DIR over HTTP with gunicorn.

    When MODEL_DIR contains no model yet, one is trained on the bundled data
    first. A version published later (MODEL_DIR/CURRENT changes) is picked up
    within RELOAD_INTERVAL seconds, or at once on SIGHUP.
    """
    from api.server import prepare_metrics_directory, remove_metrics_directory

    if read_timeout >= timeout:
        raise click.BadParameter(f"must be below --timeout ({timeout} s), got {read_timeout:g}", param_hint="--read-timeout")
    # prometheus-client picks its multi-process mode when first imported,
    # so the directory is set before create_app imports it.
    metrics_dir, created = prepare_metrics_directory()
    master = os.getpid()
    try:
        _serve(model_dir, config_file, host, port, workers, timeout, read_timeout, access_log, database)
    finally:
        # Workers leave this function through SystemExit too; only the
        # master, which owns the directory, removes it.
        if created and os.getpid() == master:
            remove_metrics_directory(metrics_dir)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _serve(model_dir, config_file, host, port, workers, timeout, read_timeout, access_log, database):
    from api import create_app
    from api.model_holder import EXTENSION_KEY
    from api.ratings_store import EXTENSION_KEY as STORE_KEY
    from api.server import serve as run_server
    from api.settings import load_settings
    from hybrid.store import StoreError
    from hybrid.training import ensure_model

    overrides = {"CONFIG_FILE": config_file}
    if model_dir is not None:
        overrides["MODEL_DIR"] = model_dir
    if database is not None:
        overrides["DATABASE"] = database
    try:
        # The store opens in MODEL_DIR, so the model directory is resolved
        # and filled before the application is created.
        ensure_model(load_settings(config_file, overrides)["MODEL_DIR"])
        application = create_app(overrides)
        application.extensions[EXTENSION_KEY].get()
        # Open the store once before the workers fork, so a bad URL fails
        # here with one line; the connection is closed and each worker
        # opens its own.
        store = application.extensions[STORE_KEY].store
        if store is not None:
            store.store_id
            store.close()
    except (*_user_errors(), StoreError) as error:
        raise click.ClickException(str(error)) from None
    run_server(
        application, host=host, port=port, workers=workers, timeout=timeout, read_timeout=read_timeout, access_log=access_log
    )


@cli.command()
@click.option("--user", "user_id", required=True, help="External user id.")
@click.option("-n", "n", default=10, show_default=True, type=click.IntRange(1, 1000), help="Number of movies.")
@model_dir_option
def recommend(user_id, n, model_dir):
    """Print the recommendations of one user as a table."""
    from hybrid.ids import parse_id
    from hybrid.model import HybridRecommender
    from hybrid.training import ensure_model

    try:
        user_id = parse_id(user_id, "--user")
        ensure_model(model_dir, show_progress=False)
        model = HybridRecommender.load(model_dir)
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None

    result = model.recommend(user_id, n)
    if result.fallback:
        click.echo(f"user {user_id} is not in the data: showing the {result.fallback} fallback")
    else:
        click.echo(f"user {user_id}: {result.n_ratings} ratings; model version {model.info['version']}")

    click.echo(f"{'rank':>4}  {'movie_id':>8}  {'score':>7}  title (genres)")
    for rank, item in enumerate(result.items, start=1):
        genres = "|".join(item["genres"]) or "no genres"
        click.echo(f"{rank:>4}  {item['movie_id']:>8}  {item['score']:>7.3f}  {item['title']} ({genres})")


def main():
    cli(prog_name="true-recommend")


cli.add_command(retrain)
cli.add_command(rollback)
cli.add_command(generate)
cli.add_command(evaluate)
cli.add_command(tune)
