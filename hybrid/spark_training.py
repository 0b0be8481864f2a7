"""Training the collaborative models on Apache Spark, into the usual model bundle.

When the ratings outgrow one machine, Spark MLlib's ALS trains both
collaborative models on a cluster:

- The ranking model uses implicit preferences (``implicitPrefs=True``): a
  rating ``r`` is a positive observation with confidence ``1 + alpha * r``,
  the same model as ``collaborative.als`` (Hu, Koren and Volinsky, ICDM 2008).
- The rating model predicts ``mu + b_u + b_i + q_i . p_u`` like
  ``collaborative.sgd_mf``. Spark's ALS has no bias terms, so the biases are
  the damped baseline estimates of Koren ("Factorization meets the
  neighborhood", KDD 2008, section 2.1), computed on the cluster, and
  explicit ALS factorizes the residuals ``r - mu - b_u - b_i``.

Spark multiplies the L2 penalty of each user and each movie by its number of
ratings (the weighting of ALS-WR, Zhou et al., AAIM 2008), so its
``regParam`` is on another scale than the ``regularization`` of the
single-machine models. `SparkOptions` sets the Spark values.

The driver reads movies.csv and tags.csv, which are small, collects the
validated ratings (20 bytes each) and the factors, fits popularity and
content, and returns a `HybridRecommender`. Saving it writes the same bundle
as single-machine training, so ``serve`` needs no change.

PySpark (4.0 or newer, an optional extra) is imported only when a function
of this module starts Spark.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from collaborative._checks import check_finite_factors
from collaborative.als import ImplicitALS
from collaborative.sgd_mf import ExplicitMF
from hybrid.config import HybridConfig
from hybrid.data import RatingScale, bundled_data_dir, load_movielens_catalogue
from hybrid.model import HybridRecommender, build_user_items
from hybrid.validation import DataError, LoadReport

logger = logging.getLogger(__name__)

SPARK_ENGINE = "spark"
INSTALL_HINT = "pip install 'true-recommend[spark]'"

RATINGS_FORMATS = ("auto", "csv", "parquet")

# Column names of ratings.csv (and of a Parquet copy), and the names used here.
_RATINGS_COLUMNS = {"userId": "user_id", "movieId": "movie_id", "rating": "rating", "timestamp": "timestamp"}

# A fifth CSV column: it is filled only on lines with too many fields, which
# Spark's CSV reader would otherwise truncate to the schema without a word.
_EXTRA_FIELD = "_extra_field"

# The checks of hybrid.validation, as Java regular expressions for Spark.
_INTEGER_PATTERN = r"^(0|[1-9][0-9]{0,18})$"
_DECIMAL_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_INT64_MAX_TEXT = str(np.iinfo(np.int64).max)
_STEP_TOLERANCE = 1e-9


class SparkUnavailableError(RuntimeError):
    """Raised when PySpark or Java, which the Spark engine needs, is missing."""


@dataclass(frozen=True)
class SparkOptions:
    """How to reach Spark and the Spark-specific hyperparameters.

    The ranking model takes ``factors``, ``iterations`` and ``alpha`` from the
    ``als`` section of the `HybridConfig`; its fold-in of new users keeps the
    config's ``regularization``.

    Parameters
    ----------
    master : str or None
        Spark master URL, such as ``"spark://host:7077"``, ``"yarn"`` or
        ``"local[4]"``. None keeps the master set by ``spark-submit``, or
        ``local[*]`` outside it.
    conf : dict of str to str
        Spark properties set when the session starts, such as
        ``{"spark.driver.memory": "8g"}``.
    ratings_format : {"auto", "csv", "parquet"}
        Format of the ratings path. ``"auto"`` reads Parquet when the path
        ends in ``.parquet``, and CSV otherwise.
    ranking_regularization : float
        ALS-WR ``regParam`` of the implicit ranking model.
    rating_factors : int
        Rank of the explicit rating model.
    rating_iterations : int
        ALS sweeps of the explicit rating model.
    rating_regularization : float
        ALS-WR ``regParam`` of the explicit rating model.
    item_bias_damping, user_bias_damping : float
        Pseudo-ratings at the mean in the baseline estimates: ``b_i`` is
        the sum of ``r - mu`` over the movie's ratings divided by their
        count plus ``item_bias_damping`` (Koren 2008 uses 25 and 10).
    blocks : int or None
        Blocks of users and of items in ALS; None uses the cluster's
        default parallelism.
    """

    master: str | None = None
    conf: dict = field(default_factory=dict)
    ratings_format: str = "auto"
    ranking_regularization: float = 0.3
    rating_factors: int = 64
    rating_iterations: int = 10
    rating_regularization: float = 0.1
    item_bias_damping: float = 25.0
    user_bias_damping: float = 10.0
    blocks: int | None = None

    def __post_init__(self):
        if self.ratings_format not in RATINGS_FORMATS:
            raise ValueError(f"ratings_format must be one of {list(RATINGS_FORMATS)}, got {self.ratings_format!r}")
        for name in ("ranking_regularization", "rating_regularization", "item_bias_damping", "user_bias_damping"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        for name in ("rating_factors", "rating_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.blocks is not None and (isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or self.blocks < 1):
            raise ValueError(f"blocks must be a positive integer or None, got {self.blocks!r}")
        for key, value in self.conf.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"conf must map Spark property names to text values, got {key!r}: {value!r}")

    def describe(self):
        """Return the options for the bundle's manifest, without ``conf``, which may hold credentials."""
        described = asdict(self)
        del described["conf"]
        return described


def start_spark(options, *, app_name="true-recommend train", show_progress=True):
    """Start (or join) a Spark session with the master and properties of ``options``, and return it.

    Raises
    ------
    SparkUnavailableError
        If PySpark is not installed, no Java runtime is found, or Spark
        fails to start (an invalid master URL, for example).
    """
    try:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(f"the Spark engine needs PySpark: {INSTALL_HINT}") from None
    if java_executable() is None:
        raise SparkUnavailableError(
            "the Spark engine needs Java 17 or newer, and none was found in JAVA_HOME or on PATH; "
            "install one, for example with apt-get install openjdk-17-jre-headless"
        )

    builder = SparkSession.builder.appName(app_name)
    if options.master is not None:
        builder = builder.master(options.master)
    builder = builder.config("spark.ui.showConsoleProgress", "true" if show_progress else "false")
    for key, value in options.conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except (PySparkException, Py4JError) as error:
        raise SparkUnavailableError(
            f"failed to start Spark with master {options.master or 'default'}: {str(error).rstrip('.')}. "
            "Check --spark-master and --spark-conf; Spark's log above gives the cause"
        ) from None
    logger.info("Spark %s session started with master %s", spark.version, spark.sparkContext.master)
    return spark


def _active_session():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def java_executable():
    """Return the path of the Java runtime that PySpark would start, or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def train_with_spark(
    ratings=None,
    movies=None,
    tags=None,
    *,
    config=None,
    options=None,
    spark=None,
    rating_scale=RatingScale(),
    name=None,
    show_progress=True,
):
    """Train a `HybridRecommender` whose collaborative models are fitted on Spark.

    Parameters
    ----------
    ratings : str, optional
        Ratings as CSV (the columns of MovieLens ratings.csv, with a header)
        or Parquet (the same column names), at a path or URL that Spark can
        read, such as ``hdfs://...`` or a directory of part files.
    movies, tags : path, optional
        movies.csv and tags.csv on the driver's file system.
        Without ``ratings`` and ``movies``, the bundled ml-latest-small is used.
    config : HybridConfig, optional
    options : SparkOptions, optional
    spark : pyspark.sql.SparkSession, optional
        A running session to use and leave running. Without it, the session
        already active in this process is used, or else one is started from
        ``options`` and stopped at the end.
    rating_scale : RatingScale
    name : str, optional
        Name of the data set; by default the name of the ratings file's directory.

    Raises
    ------
    DataError
        If a file cannot be used or no rating passes validation.
    SparkUnavailableError
        If PySpark or Java is missing.
    """
    config = config if config is not None else HybridConfig()
    options = options if options is not None else SparkOptions()
    ratings, movies, tags = _resolve_paths(ratings, movies, tags)
    if name is None:
        name = os.path.basename(os.path.dirname(ratings.rstrip("/"))) or "ratings"
    started = time.perf_counter()

    catalogue = load_movielens_catalogue(movies, tags, rating_scale=rating_scale, name=name)
    own_session = False
    if spark is None:
        spark = _active_session()
        if spark is not None:
            logger.warning(
                "using the Spark session already running in this process (master %s); "
                "the master and conf options are not applied to it",
                spark.sparkContext.master,
            )
        else:
            spark = start_spark(options, show_progress=show_progress)
            own_session = True
    # Spark's ALS cuts the lineage of its factor RDDs every checkpointInterval
    # (10) iterations, but only when a checkpoint directory is set. Without
    # one, 22 iterations overflowed the JVM's stack in local mode.
    checkpoint_dir = tempfile.mkdtemp(prefix="true-recommend-spark-checkpoints-")
    spark.sparkContext.setCheckpointDir(checkpoint_dir)
    try:
        blocks = options.blocks or max(spark.sparkContext.defaultParallelism, 1)
        timings = {}

        indexed, user_ids, report = _load_ratings(spark, ratings, options.ratings_format, catalogue, rating_scale)
        catalogue.reports.insert(1, report)
        timings["load"] = time.perf_counter() - started

        step = time.perf_counter()
        user_items, rating_times = _collect_ratings(indexed, len(user_ids), len(catalogue.movies))
        timings["collect"] = time.perf_counter() - step
        logger.info(
            "training on Spark: %d ratings, %d users, %d movies, %d ALS blocks",
            user_items.nnz, len(user_ids), len(catalogue.movies), blocks,
        )

        step = time.perf_counter()
        als = _fit_ranking_model(indexed, config, options, blocks, user_items.shape)
        timings["als"] = time.perf_counter() - step

        step = time.perf_counter()
        mf = _fit_rating_model(indexed, config, options, blocks, user_items.shape, rating_scale)
        timings["mf"] = time.perf_counter() - step

        engine = {
            "name": SPARK_ENGINE,
            "spark_version": spark.version,
            "master": spark.sparkContext.master,
            "options": options.describe(),
        }
        indexed.unpersist()
    finally:
        if own_session:
            spark.stop()
        shutil.rmtree(checkpoint_dir, ignore_errors=True)

    model = HybridRecommender.from_components(
        config, catalogue, user_ids, user_items, rating_times, als, mf, timings, engine
    )
    # NOTE: ``true-recommend retrain`` loads only the kinds of source that
    # hybrid.training can load, so a Spark-trained model is retrained from
    # the files given to it, on one machine.
    model.info["data"]["source"] = {
        "kind": SPARK_ENGINE,
        "ratings": ratings,
        "ratings_format": _ratings_format(ratings, options.ratings_format),
        "movies": os.path.abspath(movies),
        "tags": None if tags is None else os.path.abspath(tags),
    }
    return model


def _resolve_paths(ratings, movies, tags):
    if ratings is None and movies is None:
        if tags is not None:
            raise ValueError("--tags needs --ratings and --movies as well")
        directory = bundled_data_dir()
        logger.info("using the bundled MovieLens ml-latest-small data")
        # A URI, so that Spark reads the driver's file even where the default
        # file system is HDFS. On a cluster the executors need the same path.
        return (directory / "ratings.csv").as_uri(), directory / "movies.csv", directory / "tags.csv"
    if ratings is None or movies is None:
        raise ValueError("--ratings and --movies must be given together")
    return os.fspath(ratings), movies, tags


# Loading and validation ----------------------------------------------------------------


def _ratings_format(path, requested):
    if requested != "auto":
        return requested
    return "parquet" if path.rstrip("/").lower().endswith(".parquet") else "csv"


def _read_ratings_text(spark, path, file_format):
    """Read the ratings as four text columns, plus the extra-field column for CSV."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    expected = list(_RATINGS_COLUMNS)
    if file_format == "parquet":
        frame = _spark_read(spark, "parquet", path)
        missing = [column for column in expected if column not in frame.columns]
        if missing:
            raise DataError(
                f"invalid columns in {path}: missing {missing}; found {frame.columns}, expected {expected}"
            )
        ignored = [column for column in frame.columns if column not in expected]
        if ignored:
            logger.info("ignoring the columns %s of %s", ignored, path)
        # Casting to text lets the checks of the CSV path apply unchanged:
        # an id stored as the double 801.0 becomes "801.0" and is rejected.
        columns = [F.col(column).cast("string").alias(_RATINGS_COLUMNS[column]) for column in expected]
        return frame.select(*columns, F.lit(None).cast("string").alias(_EXTRA_FIELD))

    found = _spark_read(spark, "csv", path, header=True).columns
    if sorted(found) != sorted(expected):
        raise DataError(f"invalid header in {path}: found columns {found}, expected exactly {expected} (in any order)")

    # Read without Spark's header handling, so that the extra-field column
    # does not trip its header check, and drop the header lines (one per
    # file of a directory) by their exact text.
    names = [_RATINGS_COLUMNS[column] for column in found]
    schema = T.StructType([T.StructField(name, T.StringType()) for name in names + [_EXTRA_FIELD]])
    frame = _spark_read(spark, "csv", path, header=False, schema=schema, mode="PERMISSIVE", escape='"')
    is_header = F.col(_EXTRA_FIELD).isNull()
    for name, header_text in zip(names, found):
        is_header &= F.col(name).eqNullSafe(header_text)
    return frame.filter(~is_header)


def _spark_read(spark, file_format, path, **options):
    """Call Spark's reader, turning a missing path into DataError."""
    from pyspark.errors import AnalysisException

    reader = spark.read.format(file_format)
    schema = options.pop("schema", None)
    if schema is not None:
        reader = reader.schema(schema)
    try:
        return reader.options(**options).load(path)
    except AnalysisException as error:
        raise DataError(f"failed to read {path} as {file_format}: {error.getMessage()}") from None


def _integer_check(column):
    """Return the Spark condition that ``column`` is a canonical non-negative int64."""
    from pyspark.sql import functions as F

    return column.rlike(_INTEGER_PATTERN) & ((F.length(column) < 19) | (column <= F.lit(_INT64_MAX_TEXT)))


def _rejection_reason(scale):
    """Return the Spark expression of each row's first failed check, null when the row is valid.

    The reasons and their order are those of ``hybrid.data``, with lines of
    too many fields first because the local reader skips them before any check.
    """
    from pyspark.sql import functions as F

    def missing(name):
        return F.col(name).isNull() | (F.col(name) == "")

    rating = F.col("rating_value")
    reason = F.when(F.col(_EXTRA_FIELD).isNotNull(), F.lit(f"wrong number of fields (expected {len(_RATINGS_COLUMNS)})"))
    reason = reason.when(missing("user_id") & missing("movie_id") & missing("rating") & missing("timestamp"), "empty row")
    for name in ("user_id", "movie_id"):
        reason = reason.when(missing(name), f"missing {name}")
        reason = reason.when(~_integer_check(F.col(name)), f"invalid {name} (expected a non-negative integer)")
    reason = reason.when(missing("rating"), "missing rating")
    reason = reason.when(~F.col("rating").rlike(_DECIMAL_PATTERN), "invalid rating (expected a number)")
    reason = reason.when((rating < scale.minimum) | (rating > scale.maximum) | F.isnan(rating),
                         f"rating out of range {scale.describe_range()}")
    if scale.step is not None:
        steps = rating / F.lit(float(scale.step))
        reason = reason.when(F.abs(steps - F.rint(steps)) > _STEP_TOLERANCE, f"rating not a multiple of {float(scale.step)!r}")
    reason = reason.when(missing("timestamp"), "missing timestamp")
    reason = reason.when(~_integer_check(F.col("timestamp")), "invalid timestamp (expected a non-negative integer)")
    return reason.when(F.col("movie_index").isNull(), "unknown movie_id")


def _load_ratings(spark, path, requested_format, catalogue, scale):
    """Read, validate, deduplicate and index the ratings on Spark.

    Returns the persisted frame of (user_index, movie_index, rating,
    timestamp), the external user id of each user index, and the file's
    `LoadReport`.
    """
    import pyarrow as pa
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    file_format = _ratings_format(path, requested_format)
    logger.info("reading ratings from %s as %s on Spark", path, file_format)
    text = _read_ratings_text(spark, path, file_format)

    # The row id increases with the position in a file, so among duplicate
    # ratings with equal timestamps the later row wins, as in hybrid.data.
    # NOTE: Spark reads the pieces of a directory's files largest first, so a
    # tie between two files goes by that order, not by the file names.
    movie_ids = catalogue.movies["movie_id"].to_numpy(dtype=np.int64)
    movie_index = spark.createDataFrame(
        list(zip(movie_ids.tolist(), range(movie_ids.size))), "movie_id_value long, movie_index int"
    )
    typed = (
        text.withColumn("row_id", F.monotonically_increasing_id())
        .withColumn("movie_id_value", F.when(_integer_check(F.col("movie_id")), F.col("movie_id").cast("long")))
        .withColumn("rating_value", F.when(F.col("rating").rlike(_DECIMAL_PATTERN), F.col("rating").cast("double")))
        .join(F.broadcast(movie_index), "movie_id_value", "left")
    )
    checked = typed.select(
        _rejection_reason(scale).alias("reason"),
        F.when(_integer_check(F.col("user_id")), F.col("user_id").cast("long")).alias("user_id"),
        "movie_index",
        # Cast only values on the scale: a float cast of "1e400" could fail.
        F.when(F.col("rating_value").between(scale.minimum, scale.maximum), F.col("rating_value").cast("float")).alias("rating"),
        F.when(_integer_check(F.col("timestamp")), F.col("timestamp").cast("long")).alias("timestamp"),
        "row_id",
    ).persist(StorageLevel.MEMORY_AND_DISK)

    counts = {row["reason"]: row["count"] for row in checked.groupBy("reason").count().collect()}
    rows_accepted = counts.pop(None, 0)
    rows_read = rows_accepted + sum(counts.values())
    if rows_accepted == 0:
        checked.unpersist()
        report = LoadReport(path, rows_read, 0, dict(sorted(counts.items())), {})
        raise DataError(f"no valid rows in {path}: {report.summary()}")

    # One rating per (user, movie): the latest timestamp, then the latest row.
    latest = (
        checked.filter(F.col("reason").isNull())
        .groupBy("user_id", "movie_index")
        .agg(F.max(F.struct("timestamp", "row_id", "rating")).alias("latest"))
        .select("user_id", "movie_index", "latest.rating", "latest.timestamp")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )

    # Users are numbered in the order of their ids, as IdIndex(np.unique(...))
    # numbers them in single-machine training. The mapping is built on the
    # driver, which needs the ids for the bundle anyway.
    user_ids = _column_to_numpy(latest.select("user_id").distinct().orderBy("user_id"), "user_id", np.int64)
    checked.unpersist()
    if user_ids.size >= np.iinfo(np.int32).max:
        raise DataError(f"{user_ids.size} users exceed the {np.iinfo(np.int32).max - 1} that Spark's ALS can index")
    user_index = spark.createDataFrame(
        pa.table({"user_id": user_ids, "user_index": np.arange(user_ids.size, dtype=np.int32)})
    )
    indexed = (
        latest.join(user_index, "user_id")
        .select("user_index", "movie_index", "rating", "timestamp")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    n_ratings = indexed.count()
    latest.unpersist()

    report = LoadReport(path, rows_read, rows_accepted, dict(sorted(counts.items())), {}, rows_accepted - n_ratings)
    if report.rejected or report.duplicates_replaced:
        logger.warning("%s", report.summary())
    else:
        logger.info("%s", report.summary())
    return indexed, user_ids, report


def _column_to_numpy(frame, column, dtype):
    return frame.toArrow().column(column).to_numpy().astype(dtype, copy=False)


def _collect_ratings(indexed, n_users, n_movies):
    """Bring the indexed ratings to the driver as the users x items CSR matrix and its timestamps."""
    table = indexed.toArrow()
    rows = table.column("user_index").to_numpy()
    columns = table.column("movie_index").to_numpy()
    values = table.column("rating").to_numpy()
    times = table.column("timestamp").to_numpy()
    del table
    return build_user_items(rows, columns, values, times, (n_users, n_movies))


# Models ----------------------------------------------------------------------------------


def _factor_matrix(factors_frame, n_rows, rank):
    """Return Spark's (id, features) factors as a dense float32 matrix; absent ids get zero rows."""
    table = factors_frame.toArrow()
    ids = table.column("id").to_numpy()
    features = table.column("features").combine_chunks()
    values = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    matrix = np.zeros((n_rows, rank), dtype=np.float32)
    matrix[ids] = values.reshape(ids.size, rank)
    return matrix


def _spark_seed(config):
    return None if config.random_state is None else int(config.random_state)


def _fit_ranking_model(indexed, config, options, blocks, shape):
    from pyspark.ml.recommendation import ALS

    model = ImplicitALS(**config.als, random_state=config.random_state)
    model._check_params()
    logger.info("fitting implicit ALS on Spark: %d factors, %d iterations", model.factors, model.iterations)
    fitted = ALS(
        rank=model.factors,
        maxIter=model.iterations,
        regParam=options.ranking_regularization,
        alpha=float(model.alpha),
        implicitPrefs=True,
        userCol="user_index",
        itemCol="movie_index",
        ratingCol="rating",
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        seed=_spark_seed(config),
    ).fit(indexed)

    model.user_factors_ = _factor_matrix(fitted.userFactors, shape[0], model.factors)
    model.item_factors_ = _factor_matrix(fitted.itemFactors, shape[1], model.factors)
    check_finite_factors("Spark implicit ALS", user_factors_=model.user_factors_, item_factors_=model.item_factors_)
    return model


def _fit_rating_model(indexed, config, options, blocks, shape, scale):
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    logger.info(
        "fitting the rating model on Spark: baseline biases, then explicit ALS with %d factors, %d iterations",
        options.rating_factors, options.rating_iterations,
    )
    global_mean = float(indexed.agg(F.avg("rating")).first()[0])
    centered = F.col("rating") - F.lit(global_mean)

    # Baseline estimates (Koren, KDD 2008, section 2.1): movie biases first, then
    # user biases on what the movie biases leave, each damped toward zero.
    item_bias = indexed.groupBy("movie_index").agg(
        (F.sum(centered) / (F.count(F.lit(1)) + F.lit(options.item_bias_damping))).alias("item_bias")
    )
    with_item = indexed.join(F.broadcast(item_bias), "movie_index")
    user_bias = with_item.groupBy("user_index").agg(
        (F.sum(centered - F.col("item_bias")) / (F.count(F.lit(1)) + F.lit(options.user_bias_damping))).alias("user_bias")
    )
    residuals = with_item.join(user_bias, "user_index").select(
        "user_index", "movie_index", (centered - F.col("item_bias") - F.col("user_bias")).alias("residual")
    )

    fitted = ALS(
        rank=options.rating_factors,
        maxIter=options.rating_iterations,
        regParam=options.rating_regularization,
        implicitPrefs=False,
        userCol="user_index",
        itemCol="movie_index",
        ratingCol="residual",
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        seed=_spark_seed(config),
    ).fit(residuals)

    # Only the fold-in penalty of the config's mf section applies to this
    # model; the SGD settings (epochs, learning rates) have no counterpart.
    fold_in = config.mf.get("fold_in_regularization", ExplicitMF().fold_in_regularization)
    model = ExplicitMF(
        factors=options.rating_factors,
        rating_range=(scale.minimum, scale.maximum),
        random_state=config.random_state,
        fold_in_regularization=fold_in,
    )
    model.global_mean_ = global_mean
    model.user_bias_ = _bias_vector(user_bias, "user_index", "user_bias", shape[0])
    model.item_bias_ = _bias_vector(item_bias, "movie_index", "item_bias", shape[1])
    model.user_factors_ = _factor_matrix(fitted.userFactors, shape[0], options.rating_factors)
    model.item_factors_ = _factor_matrix(fitted.itemFactors, shape[1], options.rating_factors)
    check_finite_factors(
        "Spark explicit ALS",
        user_bias_=model.user_bias_,
        item_bias_=model.item_bias_,
        user_factors_=model.user_factors_,
        item_factors_=model.item_factors_,
    )
    return model


def _bias_vector(frame, index_column, value_column, size):
    table = frame.toArrow()
    vector = np.zeros(size, dtype=np.float32)
    vector[table.column(index_column).to_numpy()] = table.column(value_column).to_numpy()
    return vector
