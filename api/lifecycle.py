"""The ``retrain`` and ``rollback`` commands: the model lifecycle after ``train``."""

import logging
import re
import signal
import threading
import time

import click

from api import DEFAULT_MODEL_DIR, default_model_dir

logger = logging.getLogger(__name__)

_INTERVAL = re.compile(r"([1-9][0-9]*)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

model_dir_option = click.option(
    "--model-dir",
    type=click.Path(file_okay=False),
    default=default_model_dir,
    show_default=f"$TRUE_RECOMMEND_MODEL_DIR or ./{DEFAULT_MODEL_DIR}",
    help="Directory of model versions.",
)
database_option = click.option(
    "--database",
    envvar="TRUE_RECOMMEND_DATABASE",
    default=None,
    show_default="$TRUE_RECOMMEND_DATABASE or sqlite:///MODEL_DIR/ratings.sqlite3",
    help="URL of the ratings store: sqlite:///PATH or postgresql://USER@HOST/DATABASE.",
)


def parse_interval(text):
    """Return the seconds of an interval such as ``90s``, ``15m``, ``1h`` or ``1d``."""
    match = _INTERVAL.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise click.BadParameter(f"invalid interval {text!r}: expected a positive whole number and a unit s, m, h or d, e.g. 1h")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _user_errors():
    from api.cli import _user_errors as cli_user_errors
    from hybrid.pipeline import RetrainLockedError
    from hybrid.store import StoreError

    return (*cli_user_errors(), StoreError, RetrainLockedError)


def _describe(result):
    evaluation = result.evaluation
    metric = evaluation["metric"]
    if evaluation["candidate"] is None:
        quality = evaluation.get("note", "not evaluated")
    elif evaluation["current"] is None:
        quality = f"{metric} {evaluation['candidate'][metric]:.4f} on {evaluation['users']} held-out users"
    else:
        quality = (
            f"{metric} {evaluation['candidate'][metric]:.4f} against {evaluation['current'][metric]:.4f} "
            f"for {evaluation['current']['version']} on {evaluation['users']} held-out users"
        )
    if result.published:
        return f"published version {result.version} (was {result.previous}) in {result.seconds:.1f} s; {quality}"
    return f"kept version {result.previous}: the candidate is worse by more than {evaluation['max_drop']} ({quality})"


@click.command()
@model_dir_option
@database_option
@click.option("--ratings", type=click.Path(exists=True, dir_okay=False), help="Base ratings.csv (default: the files the current version was trained on).")
@click.option("--movies", type=click.Path(exists=True, dir_okay=False), help="Base movies.csv, with --ratings.")
@click.option("--tags", type=click.Path(exists=True, dir_okay=False), help="Base tags.csv (optional).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Configuration JSON (default: MODEL_DIR/config.json if present).")
@click.option("--max-drop", default=0.01, show_default=True, type=float, help="Largest NDCG@10 drop against the current version that still publishes; negative demands a gain.")
@click.option("--keep", default=5, show_default=True, type=click.IntRange(1, 1000), help="Versions kept for rollback, the published one included.")
@click.option("--holdout-users", default=500, show_default=True, type=click.IntRange(1, 1_000_000), help="Most users whose latest rating is held out.")
@click.option("--min-holdout-users", default=20, show_default=True, type=click.IntRange(1, 1_000_000), help="Fewest held-out users for a comparison; below it the candidate is published unevaluated.")
@click.option("--every", "every", default=None, help="Run again at this interval (90s, 15m, 1h, 1d) until SIGTERM or SIGINT.")
@click.option("--progress/--no-progress", default=False, show_default=True, help="Show progress bars.")
def retrain(model_dir, database, ratings, movies, tags, config_path, max_drop, keep, holdout_users, min_holdout_users, every, progress):
    """Train a new version on the base data plus the ratings store and publish it if it is not worse.

    The candidate is compared with the current version on held-out ratings
    first. A crash at any point leaves the current version published.
    """
    from hybrid.pipeline import RetrainLockedError, RetrainOptions, retrain as run_retrain
    from hybrid.store import default_database_url, open_store

    interval = None if every is None else parse_interval(every)
    try:
        options = RetrainOptions(max_drop=max_drop, keep=keep, holdout_users=holdout_users, min_holdout_users=min_holdout_users)
        store = open_store(database or default_database_url(model_dir))
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None

    def run_once():
        result = run_retrain(
            model_dir, store, ratings=ratings, movies=movies, tags=tags, config_path=config_path, options=options, show_progress=progress
        )
        message = _describe(result)
        logger.info("retrain: %s", message)
        return message

    if interval is None:
        try:
            click.echo(run_once())
        except _user_errors() as error:
            raise click.ClickException(str(error)) from None
        return

    logger.info("retraining %s every %d s with the ratings store %s", model_dir, interval, store.display_url)
    _run_every(interval, run_once, skip_errors=(RetrainLockedError,))


def _run_every(interval, run_once, *, skip_errors=()):
    """Call ``run_once`` now and then every ``interval`` seconds until SIGTERM or SIGINT.

    A failed run is logged with its traceback and the schedule goes on. The
    first signal lets a running retrain finish, and then the loop ends. A
    second signal ends the process at once, which is safe because a version
    becomes visible only when it is complete.
    """
    stop = threading.Event()

    def request_stop(signum, frame):
        name = signal.Signals(signum).name
        if stop.is_set():
            logger.warning("received %s again: stopping now", name)
            raise SystemExit(128 + signum)
        logger.info("received %s: stopping after the current run", name)
        stop.set()

    previous_handlers = {number: signal.signal(number, request_stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        next_run = time.monotonic()
        while not stop.is_set():
            try:
                run_once()
            except skip_errors as error:
                logger.warning("retrain skipped: %s", error)
            except Exception:
                # The schedule must outlive one bad run (a full disk, a data
                # file being replaced); the traceback goes to the log.
                logger.exception("retrain failed; the next run is in %d s", interval)

            now = time.monotonic()
            while next_run <= now:
                next_run += interval
            if not stop.is_set():
                logger.info("next retrain in %.0f s", next_run - now)
            stop.wait(next_run - now)
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
    logger.info("retrain schedule stopped")


@click.command()
@model_dir_option
@click.option("--to", "target", default=None, help="Version to publish (default: the one before the published version).")
def rollback(model_dir, target):
    """Publish an earlier version again; servers pick it up like any published version."""
    from hybrid.bundle import rollback as run_rollback

    try:
        previous, published = run_rollback(model_dir, target)
    except _user_errors() as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"published version {published} (was {previous})")
